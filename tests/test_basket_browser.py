# ruff: noqa: F811 (the fixture imported from test_web_browser is a parameter here)
"""The basket in Chromium at 360×640 shows the bill the receipt records (issue 22): a Pepsi and
`1,5` kg of Cheeni are Rs 425 on the basket and on the receipt, in English and with `١٫٥` in
Urdu; a quarter kilo at Rs 150.10 is 37.53 on both.

Screenshots: test-artifacts/basket-1-5-kg-en.png, basket-1-5-kg-ur.png and their receipts.
"""
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import ADMIN, PASSWORD, make_product, make_store, make_user
from tests.live_site import ARTIFACTS, VIEWPORT, live_site
from tests.test_web_browser import browser  # noqa: F401 (the shared fixture)
from webapp.extensions import db
from webapp.models import Sale
from webapp.services import commands, ledger

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def _fill():
    store = make_store(code="KHI-0001", name="Al-Madina Kiryana")
    products = {
        "pepsi": make_product(sku="PEPSI-15", name="Pepsi 1.5L", unit="piece", sale_price="200"),
        "cheeni": make_product(sku="CHEENI", name="Cheeni (loose)", unit="kg", sale_price="150"),
        "daal": make_product(sku="DAAL-MASH", name="Daal Mash", unit="kg", sale_price="150.10"),
    }
    for product in products.values():
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=50))
    make_user("shopkeeper", [store], username="dukan")
    urdu = make_user("shopkeeper", [store], username="dukan_ur")
    urdu.language = "ur"
    db.session.commit()
    return {"store": store.id, **{k: p.id for k, p in products.items()}}


@pytest.fixture(scope="module")
def site():
    with live_site(_fill) as site:
        yield site


def _phone(browser, site, username):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(5000)
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(site["url"] + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)
    return context, page, problems


def _add(page, site, product):
    count = page.locator(".basket-line").count()
    page.locator(f"#basket-results button[data-product-id='{site[product]}'], "
                 f"button.row.add[data-product-id='{site[product]}']").last.click()
    page.wait_for_function("n => document.querySelectorAll('.basket-line').length === n",
                           arg=count + 1)


def _set(page, index, typed):
    line = page.locator(".basket-line").nth(index)
    line.locator(".line-qty").fill(typed)
    line.locator("button.set").click()


def _last_sale(site):
    with site["app"].app_context():
        sale = db.session.scalars(select(Sale).order_by(Sale.id.desc())).first()
        result = (sale.id, sale.total)
        db.session.remove()
    return result


def _basket_then_receipt(browser, site, username, typed, bill, name):
    context, page, problems = _phone(browser, site, username)
    page.goto(f"{site['url']}/stores/{site['store']}/basket")
    _add(page, site, "pepsi")
    _add(page, site, "cheeni")
    _set(page, 1, typed)
    page.wait_for_selector("#bill-total[data-total='425.00']")
    line = page.locator(".basket-line").nth(1)
    assert line.locator(".line-qty").input_value() == "1.5"
    assert line.locator(".line-total").get_attribute("data-line-total") == "225.00"
    assert page.locator("#bill-total").inner_text() == bill
    # What the shopkeeper sees at the counter: the lines and the bill on one 360×640 screen.
    page.locator(".basket-line").first.scroll_into_view_if_needed()
    page.locator("#checkout").scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.locator("#checkout button[type=submit]").click()
    page.wait_for_url(lambda u: "/sales/" in u)
    assert page.locator("#receipt-total").inner_text() == bill
    page.screenshot(path=str(ARTIFACTS / f"{name}-receipt.png"))
    sale_id, total = _last_sale(site)
    assert f"/sales/{sale_id}" in page.url and total == Decimal("425.00")
    context.close()
    assert problems == []


def test_a_pepsi_and_1_5_kg_of_cheeni_show_and_charge_rs_425(browser, site):
    _basket_then_receipt(browser, site, "dukan", "1,5", "Rs 425", "basket-1-5-kg-en")


def test_in_urdu_1_5_kg_typed_in_urdu_digits_shows_and_charges_the_same_425(browser, site):
    _basket_then_receipt(browser, site, "dukan_ur", "١٫٥", "425 روپے", "basket-1-5-kg-ur")


def test_a_quarter_kilo_at_150_10_shows_and_charges_37_53(browser, site):
    context, page, problems = _phone(browser, site, "dukan")
    page.goto(f"{site['url']}/stores/{site['store']}/basket")
    _add(page, site, "daal")
    _set(page, 0, "0.250")
    page.wait_for_selector("#bill-total[data-total='37.53']")
    assert page.locator("#bill-total").inner_text() == "Rs 37.53"
    page.locator("#checkout button[type=submit]").click()
    page.wait_for_url(lambda u: "/sales/" in u)
    assert page.locator("#receipt-total").inner_text() == "Rs 37.53"
    assert _last_sale(site)[1] == Decimal("37.53")
    context.close()
    assert problems == []
