"""`make cluster` (ops/cluster.py) under the fleet's mix, with one app node killed mid-traffic.

Two gunicorn nodes behind HAProxy, pgbouncer, a Redis and an RQ worker of the cluster's own.
Logged-in phones poll their store's live list (If-None-Match, as static/js/live.js) and sell
from the store page (the form's idempotency `key`), a POS sends baskets to the API with an
Idempotency-Key, and node 1 hangs (SIGSTOP) then dies (SIGKILL, its workers with it) while they
do. The hang holds whatever HAProxy sent it until the kill, so a read and a write are surely in
flight on the dying node: a phone that only watches its list and a till that only sells are
among the shops, and whatever either sent there is stuck until the node dies. What a shop sees:
no failed read (HAProxy sends again a GET the dead node left unanswered: its log shows them), no
write failed after one retry with the same key (at least one was retried), every acknowledged
sale written exactly once, and before the hang a shop's requests going to both nodes in turn
(no sticky sessions).
"""
import re
import shutil
import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from tests import services

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

SHOPS = 4
PRODUCTS = 6
SECONDS = 9.0
HANG_AT = 3.0
HANG_SECONDS = 1.5  # HAProxy's checks mark the node down within ~1 s; the kill comes after
# What each kind of shop does: (share of polls, of store-page sales; the rest API baskets).
PHONE, WATCHER, TILL = (0.6, 0.9), (1.0, 1.0), (0.0, 0.5)
# HAProxy's httplog: ... %ac/%fc/%bc/%sc/%rc %sq/%bq "METHOD path ...; %rc is the retries,
# "+" before it when the request was sent on to another node.
LOGGED = re.compile(r" (\d{3}) .* \d+/\d+/\d+/\d+/\+?(\d+) \d+/\d+ \"(\w+) ")
PASSWORD = "cluster-test-password"


def _need(*names):
    for name in names:
        if not (shutil.which(name) or shutil.which(f"/usr/sbin/{name}")):
            services.missing(f"{name} is not installed (apt-get install -y {name})")


def _seed(url):
    """Stores, products with stock, one shopkeeper per store, and an API token."""
    from config import sqlalchemy_url
    from tests.conftest import _config
    from webapp import create_app
    from webapp.extensions import db
    from webapp.services import accounts, audit, catalog, commands, ledger

    app = create_app(_config(sqlalchemy_url(url)))
    actor = audit.Actor(None, "web", "test")
    with app.app_context():
        stores = [catalog.create_store(actor, {"code": f"CLU-{i:04d}", "name": f"Shop {i}",
                                               "city": "Karachi"}) for i in range(SHOPS)]
        products = [catalog.create_product(actor, {
            "sku": f"CLU-P{i}", "name": f"Cluster product {i}", "category": "Test",
            "unit": "piece", "sale_price": "50.00", "cost": "40.00", "reorder_level": "1"})
            for i in range(PRODUCTS)]
        for store in stores:
            for product in products:
                ledger.record_movement(actor, commands.Movement.parse(
                    store_id=store.id, product_id=product.id, type="stock_in",
                    quantity=100000))
        shops = []
        for store in stores:
            user = accounts.create_user(actor, f"clu{store.id}", PASSWORD, role="shopkeeper",
                                        store_ids=[store.id])
            shops.append({"store": store.id, "username": user.username})
        admin = accounts.create_user(actor, "cluadmin", PASSWORD, role="admin")
        token, _ = accounts.issue_token(actor, admin, "pos", 1)
        product_ids = [p.id for p in products]
        db.session.remove()
        db.engine.dispose()
    return shops, product_ids, token


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def _csrf(html):
    found = CSRF.search(html)
    assert found, html[:500]
    return found.group(1) or found.group(2)


class Shop:
    """A phone on the store page (and, for baskets, the shop's POS on the API)."""

    def __init__(self, base, shop, products, token, seed, mix=PHONE):
        import random

        self.base, self.store, self.products, self.token = base, shop["store"], products, token
        self.mix = mix
        self.rng = random.Random(seed)
        self.http = requests.Session()
        self.served_by = []          # (time, node) of every answer
        self.errors = []             # what a shop saw fail beyond one retry
        self.acknowledged = {"movement": [], "sale": []}
        self.write_retries = 0
        self.etag = None
        login = self.http.get(f"{base}/login", timeout=10)
        answer = self.http.post(f"{base}/login", data={
            "username": shop["username"], "password": PASSWORD, "csrf_token": _csrf(login.text)},
            allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), answer.text[:300]
        home = self.http.get(f"{base}/stores/{self.store}/", timeout=10)
        self.csrf = _csrf(home.text)

    def _note(self, response):
        self.served_by.append((time.monotonic(), response.headers.get("X-Served-By")))

    def poll(self):
        headers = {"HX-Request": "true", "HX-Target": "stock-list", "X-CSRFToken": self.csrf}
        if self.etag:
            headers["If-None-Match"] = self.etag
        try:
            response = self.http.get(f"{self.base}/stores/{self.store}/stock", headers=headers,
                                     timeout=15)
        except requests.RequestException as error:  # no retry: HAProxy's to make
            self.errors.append(("poll", repr(error)))
            return
        self._note(response)
        if response.status_code not in (200, 304):
            self.errors.append(("poll", response.status_code))
        elif response.status_code == 200:
            self.etag = response.headers.get("ETag")

    def _write(self, kind, send):
        """send() once, and once more (same key) if no answer came or the node died."""
        for attempt in (1, 2):
            try:
                response = send()
            except requests.RequestException as error:
                outcome = repr(error)
            else:
                self._note(response)
                if response.status_code < 500:
                    return response
                outcome = response.status_code
            if attempt == 2:
                self.errors.append((kind, outcome))
                return None
            self.write_retries += 1
            time.sleep(1)  # as a phone's queue would, not at once into the same dying node

    def sell(self):
        key = uuid.uuid4().hex
        form = {"csrf_token": self.csrf, "type": "sale", "quantity": "1", "key": key,
                "product_id": str(self.rng.choice(self.products))}
        response = self._write("sale", lambda: self.http.post(
            f"{self.base}/stores/{self.store}/movements", data=form, allow_redirects=False,
            headers={"HX-Request": "true", "X-CSRFToken": self.csrf}, timeout=15))
        if response is not None:
            if response.status_code == 200:
                self.acknowledged["movement"].append(key)
            else:
                self.errors.append(("sale", response.status_code))

    def basket(self):
        key = uuid.uuid4().hex
        body = {"store_id": self.store, "lines": [
            {"product_id": p, "quantity": "1"} for p in self.rng.sample(self.products, 3)]}
        response = self._write("basket", lambda: requests.post(
            f"{self.base}/api/v1/sales", json=body, timeout=15,
            headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": key}))
        if response is not None:
            if response.status_code in (200, 201):
                self.acknowledged["sale"].append(key)
            else:
                self.errors.append(("basket", response.status_code, response.text[:200]))

    def run(self, until):
        polls, sales = self.mix
        while time.monotonic() < until:
            roll = self.rng.random()
            if roll < polls:
                self.poll()
            elif roll < sales:
                self.sell()
            else:
                self.basket()
            time.sleep(self.rng.uniform(0.05, 0.15))


def _written(url, kind, keys):
    """How many rows each acknowledged key wrote, and every key's count."""
    import psycopg2

    # A basket's lines carry the sale's key too: a quick sale's movement is one with no line.
    query = {"movement": "SELECT idempotency_key, count(*) FROM stock_movements m WHERE "
                         "idempotency_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sale_lines l "
                         "WHERE l.movement_id = m.id) GROUP BY 1",
             "sale": "SELECT idempotency_key, count(*) FROM sales WHERE idempotency_key IS NOT "
                     "NULL GROUP BY 1"}[kind]
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(query)
        counts = dict(cur.fetchall())
    conn.close()
    return Counter({key: counts.get(key, 0) for key in keys}), counts


def test_a_node_killed_mid_traffic_costs_a_shop_nothing():
    _need("haproxy", "pgbouncer", "redis-server")
    if not services.postgres_available():
        services.missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    from ops.cluster import Cluster

    url = services.create_database("kiryana_cluster_test")
    cluster = Cluster(url, nodes=2, workers=1, threads=4,
                      env={"LOGIN_RATE_LIMIT": "1000 per minute",
                           "API_RATE_LIMIT": "100000 per minute"})
    try:
        with cluster:
            shops_data, products, token = _seed(url)
            shops = [Shop(cluster.url, s, products, token, i) for i, s in enumerate(shops_data)]
            shops.append(Shop(cluster.url, shops_data[0], products, token, 100, WATCHER))
            shops += [Shop(cluster.url, shops_data[i], products, token, 200 + i, TILL)
                      for i in (1, 2)]
            until = time.monotonic() + SECONDS
            threads = [threading.Thread(target=s.run, args=(until,)) for s in shops]
            for thread in threads:
                thread.start()
            time.sleep(HANG_AT)
            hung_at = time.monotonic()
            cluster.nodes[0].freeze()
            time.sleep(HANG_SECONDS)
            killed_at = time.monotonic()
            cluster.nodes[0].kill()
            for thread in threads:
                thread.join(timeout=120)
            assert not cluster.nodes[0].alive() and cluster.nodes[1].alive()
            logged = LOGGED.findall((cluster.folder / "haproxy.log").read_text())

        errors = [e for s in shops for e in s.errors]
        assert errors == [], errors
        # What the dead node left unanswered was sent again: reads by HAProxy, writes by the
        # client with the same key (a 502 from HAProxy, which never sends a write twice).
        reads_resent = [(status, method) for status, retries, method in logged
                        if int(retries) and method in ("GET", "HEAD")]
        assert reads_resent and {s for s, _ in reads_resent} <= {"200", "304"}, reads_resent
        assert not [m for _, retries, m in logged if int(retries) and m not in ("GET", "HEAD")]
        write_retries = sum(s.write_retries for s in shops)
        assert write_retries >= 1
        pooled = Counter()
        for shop in shops:
            before = [node for at, node in shop.served_by if at < hung_at]
            after = [node for at, node in shop.served_by if at > killed_at + 2]
            # No stickiness: the same phone's session was answered by both nodes, in turns.
            assert set(before) == {"node1", "node2"}, before
            assert any(a != b for a, b in zip(before, before[1:])), before
            assert after and set(after) == {"node2"}, after
            pooled.update(before)
        # Each node a fair share over every shop's requests. Per shop the split is not fair by
        # design: roundrobin turns over every client's requests, so one phone's ~20 requests
        # can fall 18 to 4 (seen in CI) with no stickiness at all.
        assert min(pooled.values()) >= sum(pooled.values()) / 3, pooled
        written = {}
        for kind in ("movement", "sale"):
            keys = [k for s in shops for k in s.acknowledged[kind]]
            assert keys, kind
            per_key, every = _written(url, kind, keys)
            assert set(per_key.values()) == {1}, {k: n for k, n in per_key.items() if n != 1}
            assert max(every.values()) == 1  # nor any key written twice unacknowledged
            written[kind] = len(keys)
        print(f"node 1 hung {HANG_SECONDS} s then killed; requests answered: "
              f"{sum(len(s.served_by) for s in shops)}; reads sent again by HAProxy: "
              f"{len(reads_resent)}; writes sent again by the client: {write_retries}; "
              f"acknowledged and written once: {written['movement']} sales, "
              f"{written['sale']} baskets; errors: 0")
    finally:
        services.drop_database(url)
