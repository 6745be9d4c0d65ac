"""Webhooks through a real RQ worker on Redis and PostgreSQL, to real HTTP receivers: delivered
within seconds and signed, retried after a 500 with the same delivery id, not lost when the
worker is SIGKILLed mid-send, and a 10-second-slow receiver holds up no other delivery."""
import hashlib
import hmac
import threading
import time

import pytest

from tests import services
from tests.api_client import api_as
from tests.conftest import _config
from tests.factories import ADMIN, make_product, make_store
from tests.processes import app_env, start_worker, unique_prefix, wait_until
from tests.receiver import Receiver
from webapp import create_app
from webapp.extensions import db
from webapp.models import AuditOutbox, WebhookDelivery
from webapp.services import commands, ledger

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
SETTINGS = {"WEBHOOK_ALLOW_PRIVATE": "1", "WEBHOOK_TIMEOUT_SECONDS": "2",
            "WEBHOOK_RETRY_SECONDS": "1,2"}


@pytest.fixture
def hooks(pg_app, pg_url):
    """The app on PostgreSQL and Redis under a fresh prefix, a shop, an admin's API client
    and the environment for real workers."""
    if not services.redis_available():
        services.missing("Redis is not reachable on 127.0.0.1:6379")
    prefix = unique_prefix()
    app = create_app(_config(pg_url, REDIS_URL=services.REDIS_URL, REDIS_KEY_PREFIX=prefix,
                             RQ_QUEUE_PREFIX=prefix, WEBHOOK_ALLOW_PRIVATE=True))
    with app.app_context():
        store, product = make_store(), make_product(unit="piece")
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=1000))
        app.shop = (store.id, product.id)
        app.admin = api_as(app)
        app.env = app_env(pg_url, services.REDIS_URL, prefix, **SETTINGS)
        yield app
        db.session.remove()
        db.engine.dispose()
    services.forget_keys(prefix)


def register(app, url):
    response = app.admin.post("/api/v1/webhooks", json={"url": url, "events": ["sale.completed"]})
    assert response.status_code == 201, response.json
    return response.json["secret"]


def sell(app):
    store_id, product_id = app.shop
    started = time.monotonic()
    response = app.admin.post("/api/v1/sales", json={
        "store_id": store_id, "lines": [{"product_id": product_id, "quantity": "1"}]})
    assert response.status_code == 201, response.json
    return response.json["sale"]["id"], time.monotonic() - started


def worker_ready(app):
    """Wait until the worker has drained the outbox (it is up and taking jobs)."""
    wait_until(lambda: db.session.query(AuditOutbox).count() == 0 or db.session.rollback(),
               timeout=60, what="the worker to drain the outbox")
    db.session.rollback()


def signed(secret, request):
    fields = [p.split("=", 1) for p in request["headers"]["X-Kiryana-Signature"].split(",")]
    t = dict(fields)["t"]
    expected = hmac.new(secret.encode(), f"{t}.".encode() + request["body"],
                        hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in fields)


def test_a_sale_is_delivered_within_seconds_and_a_500_is_retried_with_the_same_id(hooks):
    receiver, failing = Receiver(), Receiver(statuses=(500, 200))
    worker = start_worker(hooks.env)
    try:
        secret, failing_secret = register(hooks, receiver.url), register(hooks, failing.url)
        worker_ready(hooks)
        sale_id, _ = sell(hooks)
        started = time.monotonic()
        [request] = receiver.wait_for(1, timeout=10)
        delivered_in = time.monotonic() - started
        assert request["json"]["data"]["sale_id"] == sale_id and signed(secret, request)
        assert delivered_in < 5, delivered_in
        first, second = failing.wait_for(2, timeout=15)
        assert first["headers"]["X-Kiryana-Delivery"] == second["headers"]["X-Kiryana-Delivery"]
        assert first["body"] == second["body"] and signed(failing_secret, second)
        wait_until(lambda: {d.status for d in db.session.query(WebhookDelivery)} == {"delivered"}
                   or db.session.rollback(), what="both deliveries marked delivered")
        print(f"\nwebhook delivered {delivered_in:.2f} s after the sale's 201")
    finally:
        worker.stop()
        receiver.close()
        failing.close()


def test_no_delivery_is_lost_when_the_worker_is_killed_mid_send(hooks):
    receiver = Receiver()
    receiver.hold = threading.Event()  # the first request hangs until the worker is dead
    worker = start_worker(hooks.env)
    try:
        secret = register(hooks, receiver.url)
        sell(hooks)
        [held] = receiver.wait_for(1, timeout=10)
        worker.kill()  # SIGKILL, mid-send: the receiver has the request, no answer went back
        receiver.hold.set()
        receiver.hold = None
        worker = start_worker(hooks.env)
        # The lease (2 x timeout + 5 s) runs out, the new worker's sweep queues it again.
        requests = receiver.wait_for(2, timeout=30)
        assert requests[1]["headers"]["X-Kiryana-Delivery"] == \
            held["headers"]["X-Kiryana-Delivery"]
        assert requests[1]["body"] == held["body"] and signed(secret, requests[1])
        wait_until(lambda: db.session.query(WebhookDelivery).one().status == "delivered"
                   or db.session.rollback(), what="the delivery marked delivered")
        assert db.session.query(WebhookDelivery).one().attempts == 2
    finally:
        worker.stop()
        receiver.close()


def test_a_ten_second_slow_receiver_does_not_hold_up_other_deliveries(hooks):
    slow, fast = Receiver(delay=10), Receiver()
    hooks.env["WEBHOOK_TIMEOUT_SECONDS"] = "15"
    worker = start_worker(hooks.env)
    try:
        register(hooks, slow.url)
        register(hooks, fast.url)
        worker_ready(hooks)
        times = []
        started = time.monotonic()
        for _ in range(3):
            times.append(sell(hooks)[1])
            time.sleep(0.3)
        fast.wait_for(3, timeout=8)
        # All three reached the fast receiver while the slow one still had the first in hand.
        took = time.monotonic() - started
        assert took < 8 and len(slow.events()) >= 1, took
        print(f"\nfast receiver had all 3 in {took:.1f} s beside a 10 s receiver")
        assert max(times) < 2, times  # the sales never waited for a delivery
    finally:
        worker.stop()
        slow.close()
        fast.close()


def test_a_fast_path_sale_is_delivered_without_waiting_for_the_sweep(hooks):
    """A sale through POST /movements is PostgreSQL's one-statement fast path, whose audit event
    is written in that statement: it is drained and delivered at once, with the worker's sweep
    ten minutes away."""
    hooks.env["WORKER_SWEEP_SECONDS"] = "600"
    receiver = Receiver()
    worker = start_worker(hooks.env)
    try:
        worker_ready(hooks)  # its first sweep, at start: the shop's stock-in goes nowhere
        response = hooks.admin.post("/api/v1/webhooks", json={"url": receiver.url,
                                                              "events": ["movement.created"]})
        assert response.status_code == 201, response.json
        worker_ready(hooks)
        store_id, product_id = hooks.shop
        response = hooks.admin.post("/api/v1/movements", json={
            "store_id": store_id, "product_id": product_id, "type": "sale", "quantity": "1"})
        assert response.status_code == 201, response.json
        started = time.monotonic()
        [request] = receiver.wait_for(1, timeout=10)
        delivered_in = time.monotonic() - started
        assert request["json"]["data"]["id"] == response.json["movement"]["id"]
        assert delivered_in < 5, delivered_in
        print(f"\nfast-path sale's webhook delivered {delivered_in:.2f} s after its 201")
    finally:
        worker.stop()
        receiver.close()
