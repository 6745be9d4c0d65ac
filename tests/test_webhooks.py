"""Signed webhooks through the embedded app (no Redis: the web process's sender threads send
them after the response) to a real HTTP receiver: registration, signatures (verified by the
receiver code docs/webhooks.md shows), rotation, retries, redelivery, refused targets."""
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store
from tests.processes import wait_until
from tests.receiver import Receiver
from webapp.extensions import db
from webapp.models import WebhookDelivery
from webapp.models.types import utcnow
from webapp.services import commands, ledger, webhooks
from webapp.services.errors import DomainError

DOCS = Path(__file__).resolve().parent.parent / "docs" / "webhooks.md"


def docs_verifier():
    """The verify() function exactly as docs/webhooks.md prints it."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    namespace = {}
    exec(code, namespace)
    return namespace["verify"]


@pytest.fixture
def hooks_app(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT_SECONDS", 3)
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SECONDS", [0.3, 0.6])
    return app


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def shop(hooks_app):
    store = make_store()
    product = make_product(unit="piece", sale_price="40.00", reorder_level="5")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=7))
    return store.id, product.id


def register(admin, url, events=("sale.completed",)):
    response = admin.post("/api/v1/webhooks", json={"url": url, "events": list(events)})
    assert response.status_code == 201, response.json
    return response.json


def sell(client, store_id, product_id, quantity="1"):
    response = client.post("/api/v1/sales", json={
        "store_id": store_id, "lines": [{"product_id": product_id, "quantity": quantity}]})
    assert response.status_code == 201, response.json
    return response.json["sale"]


def test_register_shows_the_secret_once_and_only_admins_may(hooks_app, receiver):
    admin = api_as(hooks_app)
    created = register(admin, receiver.url, ["sale.completed", "stock.low"])
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["webhook"]["events"] == ["sale.completed", "stock.low"]
    listed = admin.get("/api/v1/webhooks")
    assert listed.status_code == 200 and "secret" not in listed.get_data(as_text=True)
    assert admin.get(f"/api/v1/webhooks/{created['webhook']['id']}").json["url"] == receiver.url
    assert api_as(hooks_app, "manager").get("/api/v1/webhooks").status_code == 403
    for body, field in (({"url": "ftp://example.com/x", "events": ["sale.completed"]}, "url"),
                        ({"url": receiver.url, "events": ["sale.exploded"]}, "events"),
                        ({"url": receiver.url, "events": []}, "events"),
                        ({"url": "http://no-such-host.invalid/", "events": ["stock.low"]}, "url")):
        refused = admin.post("/api/v1/webhooks", json=body)
        assert refused.status_code == 422 and field in str(refused.json["error"]), refused.json
    assert admin.get("/api/v1/webhooks/999").status_code == 404


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x", "http://localhost/x",
                                 "http://10.1.2.3/x", "http://169.254.169.254/latest",
                                 "http://[::1]/x", "http://192.168.0.10:8080/"])
def test_private_loopback_and_link_local_targets_are_refused(app, url):
    response = api_as(app).post("/api/v1/webhooks", json={"url": url, "events": ["stock.low"]})
    assert response.status_code == 422 and response.json["error"]["code"] == "private_target"


def test_a_sale_is_delivered_signed_and_the_docs_receiver_verifies_it(hooks_app, receiver, shop):
    store_id, product_id = shop
    admin = api_as(hooks_app)
    secret = register(admin, receiver.url, ["sale.completed", "movement.created",
                                            "stock.low"])["secret"]
    started = time.monotonic()
    sale = sell(admin, store_id, product_id, "3")  # 7 -> 4: under the reorder level of 5
    assert time.monotonic() - started < 2
    for event, count in (("sale.completed", 1), ("movement.created", 2), ("stock.low", 1)):
        receiver.wait_for(count, event)  # the fixture's stock-in, drained late, and the sale
    verify = docs_verifier()
    kinds = {}
    for request in receiver.events():
        headers = request["headers"]
        assert verify(secret, request["body"], headers["X-Kiryana-Signature"])
        assert not verify("whsec_wrong", request["body"], headers["X-Kiryana-Signature"])
        assert not verify(secret, request["body"] + b" ", headers["X-Kiryana-Signature"])
        assert headers["Content-Type"] == "application/json" and request["path"] == "/hooks/kiryana"
        assert request["json"]["type"] == headers["X-Kiryana-Event"]
        if request["json"]["data"].get("type") != "stock_in":  # the fixture's, drained late
            kinds[headers["X-Kiryana-Event"]] = request["json"]["data"]
    assert kinds["sale.completed"]["sale_id"] == sale["id"]
    assert kinds["sale.completed"]["total"] == "120.00"
    assert kinds["movement.created"]["balance_after"] == "4.000"
    assert kinds["stock.low"] == {"store_id": store_id, "product_id": product_id,
                                  "sku": kinds["stock.low"]["sku"],
                                  "name": kinds["stock.low"]["name"], "quantity": "4.000",
                                  "reorder_level": "5.000",
                                  "movement_id": kinds["movement.created"]["id"]}
    # Already below the level: another sale is no new stock.low.
    sell(admin, store_id, product_id)
    receiver.wait_for(2, "sale.completed")
    time.sleep(0.5)
    assert len(receiver.events("stock.low")) == 1
    # An old timestamp is refused by the receiver (a replayed request).
    old = f"t={int(time.time()) - 3600},v1=" + webhooks.sign(secret, int(time.time()) - 3600, b"{}")
    assert not verify(secret, b"{}", old)


def test_a_500_is_retried_with_the_same_delivery_id(hooks_app, shop):
    receiver = Receiver(statuses=(500, 503, 200))
    try:
        admin = api_as(hooks_app)
        register(admin, receiver.url)
        sell(admin, *shop)
        requests = receiver.wait_for(3, timeout=20)
        assert len({r["headers"]["X-Kiryana-Delivery"] for r in requests}) == 1
        assert len({r["body"] for r in requests}) == 1
        delivery = wait_until(lambda: db.session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.status == "delivered")).first() or db.session.rollback(),
            what="the delivery marked delivered")
        assert (delivery.attempts, delivery.last_status) == (3, 200)
    finally:
        receiver.close()


def test_deliveries_are_listed_and_one_can_be_redelivered_with_its_id(hooks_app, receiver, shop):
    admin = api_as(hooks_app)
    endpoint = register(admin, receiver.url)["webhook"]
    sell(admin, *shop)
    [first] = receiver.wait_for(1)
    page = wait_until(lambda: (p := admin.get(
        f"/api/v1/webhooks/{endpoint['id']}/deliveries").json)["items"][0]["status"]
        == "delivered" and p)
    delivery = page["items"][0]
    assert page["total"] == 1 and delivery["attempts"] == 1 and delivery["last_status"] == 200
    assert delivery["id"] == first["headers"]["X-Kiryana-Delivery"]
    again = admin.post(f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202 and again.json["delivery"]["status"] == "pending"
    second = receiver.wait_for(2)[1]
    assert second["headers"]["X-Kiryana-Delivery"] == delivery["id"]
    assert second["body"] == first["body"]
    assert admin.post("/api/v1/webhooks/deliveries/nope/redeliver").status_code == 404


def test_during_a_rotation_both_secrets_sign(hooks_app, receiver, shop):
    admin = api_as(hooks_app)
    created = register(admin, receiver.url)
    old = created["secret"]
    rotated = admin.post(f"/api/v1/webhooks/{created['webhook']['id']}/rotate")
    assert rotated.status_code == 200 and rotated.json["secret"] != old
    assert rotated.json["webhook"]["rotation_ends_at"] is not None
    new = rotated.json["secret"]
    sell(admin, *shop)
    [request] = receiver.wait_for(1)
    header = request["headers"]["X-Kiryana-Signature"]
    assert header.count("v1=") == 2
    verify = docs_verifier()
    assert verify(old, request["body"], header) and verify(new, request["body"], header)
    # After the window only the new secret signs.
    db.session.execute(update(webhooks.ENDPOINTS).values(
        previous_secret_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    sell(admin, *shop)
    request = receiver.wait_for(2)[1]
    header = request["headers"]["X-Kiryana-Signature"]
    assert header.count("v1=") == 1 and verify(new, request["body"], header)
    assert not verify(old, request["body"], header)


def test_a_target_that_turned_private_is_refused_at_send_time(hooks_app, receiver, shop,
                                                             monkeypatch):
    admin = api_as(hooks_app)
    register(admin, receiver.url)
    monkeypatch.setitem(hooks_app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    monkeypatch.setitem(hooks_app.config, "WEBHOOK_RETRY_SECONDS", [3600])
    sell(admin, *shop)
    delivery = wait_until(lambda: db.session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.attempts == 1, WebhookDelivery.leased_until.is_(None))).first()
        or db.session.rollback(), what="the refused attempt recorded")
    assert delivery.status == "pending" and "private" in delivery.last_error
    assert receiver.received == []


def test_a_delivery_still_failing_after_24_hours_is_marked_failed(hooks_app, shop):
    receiver = Receiver(statuses=(500,))
    try:
        admin = api_as(hooks_app)
        register(admin, receiver.url)
        hooks_app.config["WEBHOOK_RETRY_SECONDS"] = [3600]
        sell(admin, *shop)
        receiver.wait_for(1)
        wait_until(lambda: db.session.scalars(select(WebhookDelivery.leased_until)).first()
                   is None or db.session.rollback(), what="the first attempt finished")
        db.session.execute(update(webhooks.DELIVERIES).values(
            created_at=utcnow() - timedelta(hours=25), next_attempt_at=utcnow()))
        db.session.commit()
        [delivery_id] = db.session.scalars(select(WebhookDelivery.id)).all()
        assert webhooks.send(delivery_id) == "failed"
        assert webhooks.send(delivery_id) is None  # failed is final: nothing more is sent
        assert len(receiver.received) == 2
    finally:
        receiver.close()


def test_a_slow_receiver_does_not_slow_the_sale(hooks_app, shop):
    slow = Receiver(delay=10)
    try:
        admin = api_as(hooks_app)
        register(admin, slow.url)
        started = time.monotonic()
        for _ in range(3):
            sell(admin, *shop)
        assert time.monotonic() - started < 3
        slow.wait_for(3, timeout=5)  # all three are being sent side by side
    finally:
        slow.close()


def test_no_endpoint_no_delivery(hooks_app, shop):
    admin = api_as(hooks_app)
    sell(admin, *shop)
    assert db.session.scalars(select(WebhookDelivery)).all() == []


def test_check_url_refuses_credentials_and_overlong_urls(hooks_app):
    for url in ("http://user:pw@example.com/", "http://example.com/" + "x" * 2000, 42, None):
        with pytest.raises(DomainError):
            webhooks.check_url(url)


def test_the_admin_pages_add_rotate_list_and_redeliver(hooks_app, receiver, shop):
    from flask import g

    from tests.factories import PASSWORD, make_user

    admin = make_user("admin", password=PASSWORD).username
    manager = make_user("manager", password=PASSWORD).username
    db.session.remove()
    client = hooks_app.test_client()
    client.post("/login", data={"username": manager, "password": PASSWORD})
    assert client.get("/admin/webhooks/").status_code == 403
    g.pop("_login_user", None)
    client = hooks_app.test_client()
    client.post("/login", data={"username": admin, "password": PASSWORD})
    page = client.get("/admin/webhooks/")
    assert page.status_code == 200 and "No webhooks yet" in page.get_data(as_text=True)
    refused = client.post("/admin/webhooks/", data={"url": "gopher://x", "events": ["stock.low"]})
    assert refused.status_code == 422 and "http:// or https://" in refused.get_data(as_text=True)
    made = client.post("/admin/webhooks/", data={"url": receiver.url,
                                                 "events": ["sale.completed", "sale.voided"]})
    body = made.get_data(as_text=True)
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    secret = re.search(r"data-secret dir=\"ltr\">(whsec_\w+)<", body).group(1)
    assert secret not in client.get("/admin/webhooks/").get_data(as_text=True)
    [endpoint] = webhooks.list_endpoints()
    sell(api_as(hooks_app), *shop)
    # The test's requests share its session; on SQLite an open transaction holds the write
    # lock the sender threads need, so each step here lets go of it.
    db.session.remove()
    [request] = receiver.wait_for(1)
    assert docs_verifier()(secret, request["body"], request["headers"]["X-Kiryana-Signature"])
    def shown():
        page = client.get(f"/admin/webhooks/{endpoint['id']}")
        db.session.remove()
        assert page.status_code == 200
        return "badge\">delivered<" in page.get_data(as_text=True)

    wait_until(shown, what="the delivery shown as delivered")
    delivery_id = request["headers"]["X-Kiryana-Delivery"]
    again = client.post(f"/admin/webhooks/deliveries/{delivery_id}/redeliver")
    db.session.remove()
    assert again.status_code == 303
    assert receiver.wait_for(2)[1]["headers"]["X-Kiryana-Delivery"] == delivery_id
    rotated = client.post(f"/admin/webhooks/{endpoint['id']}/rotate")
    new_secret = re.search(r"data-secret dir=\"ltr\">(whsec_\w+)<",
                           rotated.get_data(as_text=True)).group(1)
    assert new_secret != secret
    stopped = client.post(f"/admin/webhooks/{endpoint['id']}/deactivate", follow_redirects=True)
    assert "stopped" in stopped.get_data(as_text=True)
    # In Urdu.
    client.post("/language", data={"lang": "ur", "next": "/admin/webhooks/"})
    urdu = client.get(f"/admin/webhooks/{endpoint['id']}").get_data(as_text=True)
    assert "ترسیلات" in urdu and "دوبارہ بھیجیں" in urdu and 'dir="rtl"' in urdu
