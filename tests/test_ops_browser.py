"""The audit log and jobs pages in Chromium on a 360×640 phone screen."""

import pytest

from tests import services
from tests.api_client import PASSWORD
from tests.factories import ADMIN, make_product, make_store, make_user
from tests.live_site import ARTIFACTS, VIEWPORT, chromium, serve
from webapp.extensions import db
from webapp.services import audit, catalog, commands, ledger

pytestmark = pytest.mark.browser


@pytest.fixture
def live(app):
    with serve(app) as url:
        yield url


@pytest.fixture
def phone():
    if not services.chromium_available():
        services.missing(f"Chromium is not at {services.CHROMIUM}")
    with chromium() as browser:
        yield browser.new_page(viewport=VIEWPORT)


def open_filters(page):
    """On a phone the filters are folded away under their summary: tap it open."""
    if not page.locator("details.fold").evaluate("d => d.open"):
        page.click("details.fold > summary")


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, f"{name} scrolls sideways"


def test_an_admin_filters_the_audit_log_and_sees_the_jobs_page_on_a_phone(app, live, phone):
    make_user("admin", username="ayesha", password=PASSWORD)
    store, product = make_store(name="Saddar Kiryana"), make_product(unit="kg", name="Sugar")
    catalog.update_product(ADMIN, product.id, {"name": "Sugar (loose)", "sale_price": "160.00"})
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="stock_in", quantity="25.5"))
    audit.drain_all()
    db.session.remove()  # SQLite: hold no transaction (and so no lock) while the server works

    phone.goto(f"{live}/login")
    phone.fill("input[name=username]", "ayesha")
    phone.fill("input[name=password]", PASSWORD)
    phone.click("button[type=submit]")
    phone.wait_for_url(lambda url: "/login" not in url)
    phone.goto(f"{live}/audit/")
    assert phone.locator(".event").count() >= 6
    shot(phone, "audit-log")

    open_filters(phone)
    phone.fill("input[name=action]", "product.update")
    phone.click("form.filters button[type=submit]")
    phone.wait_for_url("**/audit/?*action=product.update*")
    assert phone.locator(".event").count() == 1
    phone.click(".event summary")
    assert "Sugar (loose)" in phone.locator(".event pre").last.inner_text()
    shot(phone, "audit-log-filtered")

    open_filters(phone)
    phone.fill("input[name=from]", "2026-03-02")
    phone.fill("input[name=to]", "2026-03-01")
    phone.click("form.filters button[type=submit]")
    error = phone.wait_for_selector(".flash-error")
    assert "start date is after the end date" in error.inner_text()
    shot(phone, "audit-log-bad-dates")

    phone.goto(f"{live}/admin/jobs/")
    assert "Background jobs" in phone.locator("h1").inner_text()
    shot(phone, "jobs")
