# ruff: noqa: F811 (the fixture imported from test_web_browser is a parameter here)
# ruff: noqa: F811 (the fixtures imported from test_web_browser are parameters here)
"""The webhook pages in Chromium at 360×640, in English and Urdu: an admin adds an endpoint,
copies its secret (shown once), sees a delivery reach a real receiver, rotates the secret.

Screenshots: test-artifacts/webhooks-*.png.
"""
import pytest
from flask import current_app

from tests.factories import ADMIN, make_product, make_store, make_user
from tests.live_site import live_site
from tests.receiver import Receiver
from tests.test_web_browser import Watched, browser, shot  # noqa: F401 (fixture)
from webapp.extensions import db
from webapp.services import audit, commands, ledger

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def _fill():
    current_app.config["WEBHOOK_ALLOW_PRIVATE"] = True  # the receiver listens on 127.0.0.1
    store, product = make_store(code="KHI-0001"), make_product(sku="CHEENI", unit="kg")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=50))
    make_user("admin", username="admin")
    return {"store": store.id, "product": product.id}


@pytest.fixture(scope="module")
def site():
    with live_site(_fill) as site:
        yield site


def test_an_admin_adds_a_webhook_sees_its_delivery_and_rotates_the_secret(browser, site):
    receiver = Receiver()
    admin = Watched(browser, site, "admin")
    page = admin.page
    try:
        page.goto(site["url"] + "/admin/webhooks/")
        page.fill("#url", receiver.url)
        page.check("input[value='sale.completed']")
        page.check("input[value='movement.created']")
        page.click("form[action$='/admin/webhooks/'] button[type=submit]")
        secret = page.locator("[data-secret]").inner_text()
        assert secret.startswith("whsec_")
        shot(page, "webhooks-added")
        # A sale through the store page's form (a movement): the receiver gets it, signed.
        page.goto(f"{site['url']}/stores/{site['store']}/?product={site['product']}")
        page.fill("#sale-quantity", "2")
        page.click("#sell-form button[type=submit]")
        page.wait_for_selector("text=Sold 2 kg")
        # A single movement on PostgreSQL writes its audit event inside its one statement and
        # leaves the drain to the worker's sweep (every WORKER_SWEEP_SECONDS): run it here.
        with site["app"].app_context():
            audit.drain_all()
            db.session.remove()
        [request] = receiver.wait_for(1, "movement.created")
        assert request["json"]["data"]["type"] == "sale"
        assert request["headers"]["X-Kiryana-Signature"].startswith("t=")
        page.goto(site["url"] + "/admin/webhooks/")
        page.click("a[href*='/admin/webhooks/1']")
        page.wait_for_selector("[data-delivery-id]")
        shot(page, "webhooks-deliveries")
        page.click("form[action$='/rotate'] button")
        assert page.locator("[data-secret]").inner_text() != secret
        shot(page, "webhooks-rotated")
        # In Urdu, right to left.
        page.goto(site["url"] + "/admin/webhooks/1")
        page.evaluate("""() => { const f = document.createElement('form'); f.method = 'post';
            f.action = '/language'; for (const [k, v] of [['lang', 'ur'],
            ['next', '/admin/webhooks/1'], ['csrf_token',
            document.querySelector('input[name=csrf_token]').value]]) {
              const i = document.createElement('input'); i.name = k; i.value = v;
              f.appendChild(i); } document.body.appendChild(f); f.submit(); }""")
        page.wait_for_selector("html[dir=rtl]")
        assert "ترسیلات" in page.content()
        shot(page, "webhooks-deliveries-ur")
        page.goto(site["url"] + "/admin/webhooks/")
        shot(page, "webhooks-ur")
    finally:
        admin.close()
        receiver.close()
