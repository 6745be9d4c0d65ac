# ruff: noqa: F811 (the fixture imported from test_web_browser is a parameter here)
"""Expiry on a 360×640 phone in Urdu (issue 26 item 3): the store page flags yoghurt with an
expired batch in red and bread expiring in amber; Expiring lists them soonest first; one tap
removes the expired batch, which is gone from the list, and the shelf level drops by it.

Screenshots: test-artifacts/expiry-store-flags-ur.png, expiry-panel-ur.png, expiry-expiring-ur.png,
expiry-after-removal-ur.png.
"""
from decimal import Decimal

import pytest

from tests.factories import ADMIN, make_product, make_store, make_user
from tests.live_site import ARTIFACTS, live_site
from tests.test_expiry import stock_in
from tests.test_web_browser import Watched, browser  # noqa: F401 (the shared fixture)
from webapp.extensions import db
from webapp.models import StockLevel
from webapp.services import commands, ledger

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def _fill():
    store = make_store(code="KHI-0001", name="Al-Madina Kiryana")
    dahi = make_product(sku="NESTLE-DAHI-400", name="نیسلے دہی 400 گرام", unit="piece",
                        cost="160.00", sale_price="190.00", tracks_expiry=True)
    bread = make_product(sku="DAWN-BREAD-L", name="Dawn Bread Large", unit="piece",
                         cost="150.00", sale_price="170.00", tracks_expiry=True)
    atta = make_product(sku="ATTA-10", name="Sunridge Chakki Atta 10kg", unit="pack")
    stock_in(store, dahi, 12, -2)  # expired two days ago
    stock_in(store, dahi, 6, 5)
    stock_in(store, bread, 8, 2)
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=atta.id, type="stock_in", quantity=20))
    make_user("shopkeeper", [store], username="dukan")
    return {"khi": store.id, "dahi": dahi.id, "bread": bread.id, "atta": atta.id}


@pytest.fixture(scope="module")
def site():
    with live_site(_fill) as site:
        yield site


@pytest.fixture(scope="module")
def keeper(browser, site):
    watched = Watched(browser, site, "dukan")
    page = watched.page
    page.goto(f"{site['url']}/stores/")
    page.click("details.menu > summary")
    page.click("details.menu button[value=ur]")
    page.locator("html[lang=ur]").wait_for(state="attached")
    yield watched
    watched.close()


def _level(site, product):
    with site["app"].app_context():
        value = db.session.get(StockLevel, (site["khi"], site[product])).quantity
        db.session.remove()
    return value


def _shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"expiry-{name}.png"), full_page=True)


def _fits(page):
    """Nothing wider than the phone: no sideways scroll, and every flag inside the screen."""
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    for box in page.locator(".badge-expired, .badge-expiring").evaluate_all(
            "els => els.map(e => e.getBoundingClientRect()).map(r => [r.left, r.right])"):
        assert box[0] >= 0 and box[1] <= 360, box


def test_the_store_page_flags_expired_in_red_and_expiring_in_amber(keeper, site):
    page = keeper.page
    keeper.open_store()
    assert page.get_attribute("html", "dir") == "rtl"
    dahi = page.locator(f"#stock-list a[data-product-id='{site['dahi']}']")
    bread = page.locator(f"#stock-list a[data-product-id='{site['bread']}']")
    atta = page.locator(f"#stock-list a[data-product-id='{site['atta']}']")
    assert dahi.locator("[data-expiry=expired]").is_visible()
    assert bread.locator("[data-expiry=expiring]").is_visible()
    assert atta.locator("[data-expiry]").count() == 0
    red = dahi.locator("[data-expiry=expired]").evaluate("e => getComputedStyle(e).backgroundColor")
    assert red == "rgb(180, 35, 24)"  # --bad
    banner = page.locator(".expiry-banner")
    assert banner.is_visible() and "flash-error" in banner.get_attribute("class")
    _fits(page)
    page.locator("#stock-list").scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "store-flags-ur")
    dahi.click()  # chosen: the panel says it has expired stock before anything is sold
    page.locator("#panel .panel-expiry [data-expiry=expired]").wait_for()
    _fits(page)
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "panel-ur")


def test_expiring_lists_soonest_first_and_one_tap_removes_the_expired_batch(keeper, site):
    page = keeper.page
    keeper.open_store()
    page.locator(".expiry-banner a").click()
    page.wait_for_url(lambda u: u.endswith("/expiring"))
    rows = page.locator(".expiring-batch")
    assert rows.count() == 3
    dates = rows.evaluate_all("els => els.map(e => e.dataset.expiresOn)")
    assert dates == sorted(dates)
    assert "is-expired" in rows.first.get_attribute("class")
    assert rows.first.get_attribute("data-product-id") == str(site["dahi"])
    _fits(page)
    _shot(page, "expiring-ur")
    before = _level(site, "dahi")
    rows.first.locator("button[type=submit]").click()  # the one tap
    page.wait_for_function("() => document.querySelectorAll('.expiring-batch').length === 2")
    assert page.locator("#flashes .flash-success").is_visible()
    assert page.locator(".expiring-batch.is-expired").count() == 0
    assert _level(site, "dahi") == before - Decimal(12) == Decimal(6)
    _fits(page)
    _shot(page, "after-removal-ur")
    keeper.open_store()
    dahi = page.locator(f"#stock-list a[data-product-id='{site['dahi']}']")
    assert dahi.locator(".qty").get_attribute("data-quantity") == "6"
    assert dahi.locator("[data-expiry=expiring]").is_visible()  # 6 left, due in 5 days
    assert page.locator(".expiry-banner.flash-warning").is_visible()
