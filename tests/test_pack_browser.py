"""Selling one carton at the counter in Chromium at 360×640 (issue 26, item 4): the basket's
"Sell whole" field, the bill at the pack price, the receipt's "1 carton (12)", 12 off the shelf.

Screenshots: test-artifacts/pack-basket.png, test-artifacts/pack-receipt.png.
"""
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import ADMIN, make_product, make_store, make_user
from tests.live_site import chromium, live_site
from tests.test_web_browser import Watched, shot
from webapp.extensions import db
from webapp.models import Sale, SaleLine, StockLevel
from webapp.services import commands, ledger

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def _fill():
    store = make_store(code="KHI-0001", name="Al-Madina Kiryana")
    biscuits = make_product(sku="BISKUT", name="Sooper Biscuits", unit="piece",
                            sale_price="100.00", pack_size="12", pack_price="1150.00",
                            pack_name="carton")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=biscuits.id, type="stock_in", quantity=30))
    make_user("shopkeeper", [store], username="dukan")
    return {"khi": store.id, "biscuits": biscuits.id}


@pytest.fixture(scope="module")
def site():
    with live_site(_fill) as site:
        yield site


@pytest.fixture(scope="module")
def keeper(site):
    with chromium() as browser:
        watched = Watched(browser, site, "dukan")
        yield watched
        watched.close()


def _level(site):
    with site["app"].app_context():
        value = db.session.get(StockLevel, (site["khi"], site["biscuits"])).quantity
        db.session.remove()
    return value


def test_one_carton_at_the_counter_is_1150_and_12_off_the_shelf(keeper, site):
    page = keeper.page
    page.goto(f"{site['url']}/stores/{site['khi']}/basket")
    page.fill("#basket-q", "sooper")
    page.locator("#basket-results button", has_text="Sooper Biscuits").click()
    page.wait_for_selector(".basket-line .line-packs")
    label = page.locator(".line-packs label").inner_text()
    assert "1 carton (12)" in label and "Rs 1,150" in label
    page.fill("#line-0-packs", "1")
    page.locator(".line-packs button", has_text="Sell whole").click()
    page.wait_for_function(
        "() => document.querySelector('#bill-total').dataset.total === '1150.00'")
    assert page.locator("#bill-total").inner_text() == "Rs 1,150"
    assert page.input_value("#line-0-quantity") == "12"
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "pack-basket")
    page.locator("#checkout button[type=submit]").click()
    page.wait_for_url(lambda u: "/sales/" in u)
    line = page.locator(".receipt-lines tbody tr").first.inner_text()
    assert "1 carton (12)" in line and "Rs 1,150" in line, line
    assert page.locator("#receipt-total").inner_text() == "Rs 1,150"
    shot(page, "pack-receipt")
    assert _level(site) == Decimal(18)
    with site["app"].app_context():
        sold = db.session.scalars(select(SaleLine)).one()
        sale = db.session.scalars(select(Sale)).one()
        assert (sold.quantity, sold.packs, sold.line_total, sale.total) == (
            Decimal(12), Decimal(1), Decimal("1150.00"), Decimal("1150.00"))
        db.session.remove()
