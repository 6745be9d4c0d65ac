"""The live stock list's push channel: live.py run for real (a subprocess on a free port, the
shared Redis, the test's PostgreSQL database), its streams read over HTTP, the changes made
through the app."""
import http.client
import re
import socket
import sys
import time

import pytest
import redis

from tests import services
from tests.conftest import _clean, _config
from tests.factories import ADMIN, login, make_product, make_store, make_user
from tests.processes import (
    Process,
    TcpProxy,
    app_env,
    free_port,
    unique_prefix,
    wait_until,
)
from webapp import create_app
from webapp.extensions import db
from webapp.models import Product
from webapp.services import commands, ledger, stock_cache

SECRET = "test-secret-key"  # TestingConfig's: the live server checks the test app's cookies
EVENTS = re.compile(r'data-events="([^"]+)" data-version="([^"]+)"')


def test_the_page_names_no_stream_without_redis(client, app):
    store = make_store()
    keeper = make_user("shopkeeper", stores=[store])
    db.session.commit()
    login(client, keeper.username)
    app.config["LIVE_URL"] = "/live"
    try:
        page = client.get(f"/stores/{store.id}/").get_data(as_text=True)
    finally:
        app.config["LIVE_URL"] = ""
    assert 'id="stock-list"' in page
    assert "data-events" not in page and "data-version" not in page


# --- the real thing ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def live_app(pg_session_app, pg_url):
    if not services.redis_available():
        services.missing("Redis is not reachable on 127.0.0.1:6379")
    prefix = unique_prefix()
    app = create_app(_config(pg_url, REDIS_URL=services.REDIS_URL, REDIS_KEY_PREFIX=prefix,
                             LIVE_URL="/live"))
    app.prefix = prefix
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    services.forget_keys(prefix)


def start_live(app, redis_port=6379, port=None, **settings):
    port = port or free_port()
    env = app_env(app.config["SQLALCHEMY_DATABASE_URI"], f"redis://127.0.0.1:{redis_port}/0",
                  app.prefix, SECRET_KEY=SECRET, **settings)
    proc = Process([sys.executable, "live.py", "--port", str(port)], env, "live")
    proc.port = port
    wait_until(lambda: _health(port).get("subscribed") or proc.proc.poll() is not None,
               timeout=30, interval=0.1, what="live.py to subscribe")
    assert proc.proc.poll() is None, proc.output()
    return proc


def _health(port):
    import json

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/live/healthz")
        return json.loads(conn.getresponse().read())
    except (OSError, ValueError):
        return {}


@pytest.fixture(scope="module")
def proxy():
    proxy = TcpProxy(6379)  # the live server's Redis, so a test can cut it off
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def live(live_app, proxy):
    proc = start_live(live_app, redis_port=proxy.port)
    yield proc
    proc.stop()


@pytest.fixture
def shop(live_app):
    _clean(live_app)
    with live_app.app_context():
        stores = [make_store(), make_store()]
        product = make_product(unit="piece")
        for store in stores:
            ledger.record_movement(ADMIN, commands.Movement.parse(
                store_id=store.id, product_id=product.id, type="stock_in", quantity=50))
        keeper = make_user("shopkeeper", stores=stores)
        other = make_user("shopkeeper", stores=stores)
        db.session.commit()
        ids = {"stores": [s.id for s in stores], "product": product.id,
               "keeper": keeper.username, "other": other.username}
        db.session.remove()
    return live_app, ids


class Phone:
    """A logged-in browser: the Flask test client, its session cookie for the live server."""

    def __init__(self, app, username):
        self.app, self.client = app, app.test_client()
        with app.app_context():
            assert login(self.client, username).status_code in (302, 303)
        self.cookie = self.client.get_cookie("session").value

    def page(self, store_id):
        """The store page's stream address and version."""
        with self.app.app_context():
            html = self.client.get(f"/stores/{store_id}/").get_data(as_text=True)
        found = EVENTS.search(html)
        assert found, "the store page names no event stream"
        return found[1].replace("&amp;", "&"), found[2]

    def follow(self, port, store_id):
        """The store page's stream opened, its first version checked against the page's:
        (stream, its address, that version)."""
        path, version = self.page(store_id)
        events = Events(port, path, self.cookie)
        assert events.status == 200 and _first(events) == version
        return events, path, version

    def sell(self, store_id, product_id):
        with self.app.app_context():
            response = self.client.post(f"/stores/{store_id}/movements", data={
                "type": "sale", "product_id": product_id, "quantity": "1"},
                headers={"HX-Request": "true"})
        assert response.status_code == 200, response.get_data(as_text=True)


class Events:
    """An event stream read over a real HTTP/1.1 connection (chunked, as a browser gets it);
    a read that times out leaves the stream readable."""

    def __init__(self, port, path, cookie=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        cookie = f"Cookie: session={cookie}\r\n" if cookie else ""
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          f"Accept: text/event-stream\r\n{cookie}\r\n".encode())
        self.raw, self.body, self.ended = b"", b"", False
        while b"\r\n\r\n" not in self.raw:
            self._receive(5)
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = dict(line.split(": ", 1) for line in lines[1:])
        self.chunked = self.headers.get("Transfer-Encoding") == "chunked"

    def _receive(self, timeout):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            self.ended = True
        self.raw += data

    def _unchunk(self):
        if not self.chunked:
            self.body, self.raw = self.body + self.raw, b""
            return
        while b"\r\n" in self.raw:
            size, rest = self.raw.split(b"\r\n", 1)
            size = int(size, 16)
            if size == 0:
                self.ended, self.raw = True, b""
                return
            if len(rest) < size + 2:
                return
            self.body, self.raw = self.body + rest[:size], rest[size + 2:]

    def line(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            self._unchunk()
            if b"\n" in self.body:
                line, self.body = self.body.split(b"\n", 1)
                return line.decode()
            if self.ended:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self._receive(left)

    def next(self, timeout=5.0):
        """The next event as (name, data), ("comment", "") for a heartbeat, None at the end;
        TimeoutError when nothing comes within `timeout`."""
        deadline = time.monotonic() + timeout
        fields = {}
        while True:
            line = self.line(max(deadline - time.monotonic(), 0.001))
            if line is None:
                return None
            if line == "":
                if fields:
                    return fields.get("event", "message"), fields.get("data", "")
                continue
            if line.startswith(":"):
                return "comment", ""
            name, _, value = line.partition(": ")
            fields[name] = value

    def close(self):
        self.sock.close()


def _first(events):
    """The first version event (after the `retry:` field, which is an event of its own)."""
    while True:
        got = events.next()
        if got[0] == "version":
            return got[1]


@pytest.mark.redis
@pytest.mark.postgres
def test_a_stream_is_refused_without_the_right_cookie_and_token(live, shop):
    app, ids = shop
    store, second = ids["stores"]
    phone, other = Phone(app, ids["keeper"]), Phone(app, ids["other"])
    path, version = phone.page(store)
    assert path.startswith(f"/live/stores/{store}/events?t=")
    token = path.split("t=", 1)[1]

    def status(path, cookie):
        events = Events(live.port, path, cookie)
        events.close()
        return events.status

    assert status(path, None) == 403  # no cookie
    assert status(path, phone.cookie[:-2] + "xx") == 403  # a bad signature
    assert status(path, other.cookie) == 403  # another login's cookie with this token
    assert status(f"/live/stores/{second}/events?t={token}", phone.cookie) == 403  # wrong store
    assert status(f"/live/stores/{store}/events", phone.cookie) == 403  # no token
    assert status(path, phone.cookie) == 200
    assert status(path.removeprefix("/live"), phone.cookie) == 200  # without the prefix too
    # The list a poll swaps in names the stream and its version too; no LIVE_URL, neither.
    with app.app_context():
        fragment = phone.client.get(f"/stores/{store}/stock").get_data(as_text=True)
    assert EVENTS.search(fragment).groups() == (path.replace("&", "&amp;"), version)
    app.config["LIVE_URL"] = ""
    try:
        with app.app_context():
            page = phone.client.get(f"/stores/{store}/").get_data(as_text=True)
    finally:
        app.config["LIVE_URL"] = "/live"
    assert 'id="stock-list"' in page and "data-events" not in page


@pytest.mark.redis
@pytest.mark.postgres
def test_the_first_event_is_the_current_version_and_a_sale_follows_within_a_second(live, shop):
    app, ids = shop
    store, second = ids["stores"]
    phone = Phone(app, ids["keeper"])
    path, version = phone.page(store)
    events = Events(live.port, path, phone.cookie)
    assert events.status == 200
    assert events.headers["Content-Type"] == "text/event-stream"
    assert events.headers["Cache-Control"] == "no-store"
    assert events.headers["X-Accel-Buffering"] == "no"
    assert events.line(5) == "retry: 5000"
    assert _first(events) == version
    neighbour = Events(live.port, phone.page(second)[0], phone.cookie)
    neighbours_version = _first(neighbour)
    for _ in range(3):
        sold = time.monotonic()
        phone.sell(store, ids["product"])
        name, new = events.next(timeout=1.0)
        took = time.monotonic() - sold
        assert name == "version" and new != version and took < 1.0
        with app.app_context():
            assert new == stock_cache.store_version(store)
        version = new
    # The other store's stream heard nothing of it (its heartbeat is 25 s away).
    with pytest.raises(TimeoutError):
        neighbour.next(timeout=0.5)
    # The page rendered now carries the version the stream announced.
    assert phone.page(store)[1] == version
    assert _health(live.port)["streams"] >= 2
    events.close()
    neighbour.close()
    assert neighbours_version


@pytest.mark.redis
@pytest.mark.postgres
def test_a_catalog_change_reaches_every_stores_stream(live, shop):
    app, ids = shop
    phone = Phone(app, ids["keeper"])
    streams = []
    for store in ids["stores"]:
        events, _, version = phone.follow(live.port, store)
        streams.append((events, version))
    with app.app_context():
        db.session.get(Product, ids["product"]).name = "Cheeni (renamed)"
        db.session.commit()
        db.session.remove()
    for store, (events, version) in zip(ids["stores"], streams):
        name, new = events.next(timeout=1.0)
        assert name == "version" and new != version
        with app.app_context():
            assert new == stock_cache.store_version(store)
        events.close()


@pytest.mark.redis
@pytest.mark.postgres
def test_a_lost_subscription_is_followed_by_every_streams_current_version(live, shop):
    app, ids = shop
    store = ids["stores"][0]
    phone = Phone(app, ids["keeper"])
    events, _, version = phone.follow(live.port, store)
    # A change whose message is lost: the generation moves, nothing is published.
    direct = redis.Redis.from_url(services.REDIS_URL)
    direct.incr(f"{app.prefix}stock:store-gen:{store}")
    with pytest.raises(TimeoutError):
        events.next(timeout=0.5)
    # The subscription's connection is killed; live.py subscribes again and sends the version.
    name = f"live:{app.prefix}stock:live"
    ids_ = [c["id"] for c in direct.client_list() if c.get("name") == name]
    assert len(ids_) == 1
    direct.client_kill_filter(_id=ids_[0])
    got, new = events.next(timeout=2.0)
    assert got == "version" and new != version
    with app.app_context():
        assert new == stock_cache.store_version(store)
    wait_until(lambda: _health(live.port).get("subscribed"), timeout=5, what="subscribed")
    assert [c["id"] for c in direct.client_list() if c.get("name") == name] != ids_
    events.close()


@pytest.mark.redis
@pytest.mark.postgres
def test_without_redis_the_streams_close_and_new_ones_are_refused(live, shop, proxy):
    app, ids = shop
    store = ids["stores"][0]
    phone = Phone(app, ids["keeper"])
    events, path, version = phone.follow(live.port, store)
    proxy.cut()
    try:
        assert events.next(timeout=5.0) is None  # closed: the page polls
        refused = Events(live.port, path, phone.cookie)
        assert refused.status == 503
        refused.close()
    finally:
        proxy.restore()
    wait_until(lambda: _health(live.port).get("subscribed"), timeout=10, what="subscribed")
    again = Events(live.port, path, phone.cookie)
    assert again.status == 200 and _first(again) == version
    again.close()


@pytest.mark.redis
@pytest.mark.postgres
def test_a_stream_beats_while_quiet_and_ends_at_live_max_seconds(live_app, shop):
    app, ids = shop
    short = start_live(live_app, LIVE_MAX_SECONDS="2.5", LIVE_HEARTBEAT_SECONDS="1")
    try:
        phone = Phone(app, ids["keeper"])
        opened = time.monotonic()
        events = phone.follow(short.port, ids["stores"][0])[0]
        assert events.next(timeout=2) == ("comment", "")
        assert events.next(timeout=2) == ("comment", "")
        assert events.next(timeout=2) is None
        assert 2.3 < time.monotonic() - opened < 4
        events.close()
    finally:
        short.stop()


# --- in Chromium, behind a same-origin proxy ---------------------------------------------

def _proxy_live(port):
    """WSGI middleware: /live/… streamed from live.py on `port`, as HAProxy or nginx does, so
    the page's EventSource is same-origin and sends its cookie."""
    def middleware(wsgi_app):
        def app(environ, start_response):
            path = environ.get("PATH_INFO", "")
            if not path.startswith("/live/"):
                return wsgi_app(environ, start_response)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            query = environ.get("QUERY_STRING")
            try:
                conn.request("GET", path + (f"?{query}" if query else ""),
                             headers={"Cookie": environ.get("HTTP_COOKIE", "")})
                response = conn.getresponse()
            except OSError:  # live.py is not there: what a proxy answers
                start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
                return [b"live.py is down\n"]
            start_response(f"{response.status} {response.reason}", [
                (k, v) for k, v in response.getheaders()
                if k.lower() not in ("transfer-encoding", "connection", "date", "server")])

            def body():
                try:
                    while chunk := response.read1(65536):
                        yield chunk
                finally:
                    conn.close()
            return body()
        return app
    return middleware


@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.postgres
def test_a_store_page_in_chromium_follows_its_stream_and_polls_when_live_py_dies():
    from tests.live_site import ARTIFACTS, chromium, live_site
    from tests.test_web_browser import Watched
    from webapp.models import StockLevel

    if not services.redis_available():
        services.missing("Redis is not reachable on 127.0.0.1:6379")
    prefix, port = unique_prefix(), free_port()
    shots = ARTIFACTS / "live-events"

    def fill():
        store = make_store()
        product = make_product(sku="CHEENI", name="Cheeni (loose)", unit="kg")
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=50))
        make_user("shopkeeper", [store], username="dukan")
        return {"store": store.id, "product": product.id}

    def sell_elsewhere(site, quantity):
        with site["app"].app_context():
            ledger.record_movement(ADMIN, commands.Movement.parse(
                store_id=site["store"], product_id=site["product"], type="sale",
                quantity=quantity))
            level = db.session.get(StockLevel, (site["store"], site["product"])).quantity
            db.session.remove()
        return f"{level.normalize():f}", time.monotonic()

    shown = "([sel, want]) => document.querySelector(sel).dataset.quantity === want"
    with live_site(fill, middleware=_proxy_live(port), REDIS_URL=services.REDIS_URL,
                   REDIS_KEY_PREFIX=prefix, LIVE_URL="/live") as site:
        site["app"].prefix = prefix
        live = start_live(site["app"], port=port)
        try:
            with chromium() as browser:
                phone = Watched(browser, site, "dukan")  # fails on a CSP violation
                page = phone.page
                polls = []
                page.on("request", lambda r: polls.append(time.monotonic())
                        if f"/stores/{site['store']}/stock" in r.url else None)
                page.goto(f"{site['url']}/stores/{site['store']}/")
                wait_until(lambda: _health(port).get("streams") == 1, timeout=10,
                           what="the page's stream")
                # The stream open, the list is not polled (polling: every 1-4 s).
                opened = time.monotonic()
                page.wait_for_timeout(5000)
                assert [t for t in polls if t > opened] == []
                qty = f"#stock-list [data-product-id='{site['product']}'] .qty"
                want, sold = sell_elsewhere(site, 3)
                page.wait_for_function(shown, arg=[qty, want], timeout=2000)
                took = time.monotonic() - sold
                assert took < 1.0 and len(polls) == 1  # the one fetch the event asked for
                shots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shots / "stream-sale-shown.png"), full_page=True)
                # live.py stops: the page polls again and still sees the next sale.
                live.stop()
                want, sold = sell_elsewhere(site, 2)
                page.wait_for_function(shown, arg=[qty, want], timeout=6000)
                fallback = time.monotonic() - sold
                page.screenshot(path=str(shots / "polling-after-live-died.png"), full_page=True)
                (shots / "seconds.txt").write_text(
                    f"stream: sale shown after {took:.2f} s\n"
                    f"live.py stopped: next sale shown after {fallback:.2f} s\n")
                # The stream's own failures once live.py stopped are expected (502 here).
                phone.problems = [p for p in phone.problems if "/live/" not in p]
                phone.close()
        finally:
            live.stop()
