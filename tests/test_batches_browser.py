# ruff: noqa: F811 (the fixture imported from test_web_browser is a parameter here)
"""Batches on a 360×640 phone (issue 26 items 1-2): receive two batches of yoghurt with
different dates on the store page (the date is asked for), sell across them, and see which
batches the sale took, soonest first, on the page, in the history and on a basket's receipt.

Screenshots: /work/wt/shots/h26a/ (batches-*.png) and test-artifacts/batches-*.png.
"""
from pathlib import Path

import pytest

from tests.factories import make_product, make_store, make_user
from tests.live_site import ARTIFACTS, live_site
from tests.test_web_browser import Watched, browser  # noqa: F401 (the shared fixture)
from webapp.extensions import db
from webapp.models import StockBatch

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
SHOTS = Path("/work/wt/shots/h26a")


def _fill():
    store = make_store(code="KHI-0001", name="Al-Madina Kiryana")
    dahi = make_product(sku="NESTLE-DAHI-400", name="Nestle Dahi 400g", unit="piece",
                        cost="160.00", sale_price="190.00", tracks_expiry=True)
    make_user("shopkeeper", [store], username="dukan")
    return {"khi": store.id, "dahi": dahi.id}


@pytest.fixture(scope="module")
def site():
    with live_site(_fill) as site:
        yield site


@pytest.fixture(scope="module")
def keeper(browser, site):
    watched = Watched(browser, site, "dukan")
    yield watched
    watched.close()


def _shot(page, name):
    for folder in (ARTIFACTS, SHOTS):
        if folder == SHOTS and not folder.parent.exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"batches-{name}.png"), full_page=True)


def _batches(site):
    with site["app"].app_context():
        rows = db.session.execute(db.select(StockBatch.expires_on, StockBatch.quantity)
                                  .where(StockBatch.product_id == site["dahi"])
                                  .order_by(StockBatch.expires_on)).all()
        db.session.remove()
    return [(str(day), f"{quantity.normalize():f}") for day, quantity in rows]


def _receive(page, quantity, day):
    details = page.locator("details.more", has=page.locator("#receive-form"))
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    page.fill("#stock_in-quantity", quantity)
    if day:
        page.fill("#stock_in-expires_on", day)
    page.click("#receive-form button[type=submit]")


def test_receive_two_batches_then_a_sale_takes_the_one_expiring_first(keeper, site):
    page = keeper.page
    keeper.open_store()
    page.fill("#q", "dahi")
    page.locator("#picker-results a", has_text="Nestle Dahi").click()
    # No date: the stock-in is refused with the question on the date field, nothing written.
    _receive(page, "6", None)
    error = page.locator("#stock_in-expires_on-error")
    error.wait_for()
    assert "expiry date" in error.inner_text()
    assert _batches(site) == []
    _shot(page, "date-asked")
    _receive(page, "6", "2027-06-30")
    page.wait_for_selector("#panel.result")
    assert "Batches: 30 Jun 2027 × 6" in page.locator(".just-recorded").inner_text()
    _receive(page, "4", "2027-05-31")  # arrives later, expires sooner
    page.wait_for_function("() => document.querySelector('.just-recorded')"
                           ".innerText.includes('31 May 2027 × 4')")
    assert _batches(site) == [("2027-05-31", "4"), ("2027-06-30", "6")]
    page.fill("#sale-quantity", "7")
    page.click("#sell-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('.just-recorded')"
                           ".innerText.startsWith('Sold 7')")
    message = page.locator(".just-recorded").inner_text()
    assert "Batches: 31 May 2027 × 4 · 30 Jun 2027 × 3" in message
    assert _batches(site) == [("2027-05-31", "0"), ("2027-06-30", "3")]
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.locator(".just-recorded").scroll_into_view_if_needed()
    _shot(page, "sale-panel")
    # The movement in the history says the same.
    page.goto(f"{site['url']}/history?store={site['khi']}&type=sale")
    row = page.locator("#history-rows li[data-movement-id]").first
    assert row.locator("[data-batches]").inner_text() == \
        "Batches: 31 May 2027 × 4 · 30 Jun 2027 × 3"
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    _shot(page, "history")


def test_a_basket_receipt_shows_the_batch_each_line_took(keeper, site):
    from webapp.services import sales
    from tests.factories import ADMIN
    with site["app"].app_context():
        sale = sales.complete_sale(ADMIN, store_id=site["khi"], lines=[
            {"product_id": site["dahi"], "quantity": 2}]).data["sale"]
        db.session.remove()
    page = keeper.page
    page.goto(f"{site['url']}/stores/{site['khi']}/sales/{sale['id']}")
    batches = page.locator(".receipt-lines [data-batches]")
    assert batches.inner_text() == "Batches: 30 Jun 2027 × 2"
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    _shot(page, "receipt")
