# ruff: noqa: F811 (the fixture imported from test_web_browser is a parameter here)
"""Issue 24 in Chromium at 360×640: ordering what the low-stock report suggests, received in
full, clears "low"; the Urdu receipt keeps an address's Latin runs and the phone number in
order. Screenshots: test-artifacts/day-*.png."""
import re

import pytest

from tests.factories import ADMIN, PASSWORD, make_product, make_store, make_supplier, make_user
from tests.live_site import ARTIFACTS, VIEWPORT, live_site
from tests.test_web_browser import browser  # noqa: F401 (the shared fixture)
from webapp.extensions import db
from webapp.services import commands, ledger, reports, sales
from webapp.services.audit import Actor

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def _fill():
    """A store short of four products (two suppliers, one product with none), and a sale."""
    khi = make_store(code="KHI-0001", name="Al-Madina Kiryana",
                     address="Gulshan-e-Iqbal Block 13-D، کراچی", phone="0300-1234567")
    metro = make_supplier(name="Metro Cash & Carry", phone="0300-1234567")
    rehman = make_supplier(name="Rehman Traders", phone="0321 7654321")
    products = {
        "cheeni": make_product(sku="CHEENI", name="Cheeni (loose)", unit="kg",
                               reorder_level="30", cost="140", pack_size="1",
                               preferred_supplier_id=metro.id, sale_price="150"),
        "sabun": make_product(sku="LUX-SOAP", name="Lux Soap", unit="piece",
                              reorder_level="12", cost="95", pack_size="1",
                              preferred_supplier_id=rehman.id, sale_price="120"),
        "chai": make_product(sku="TAPAL-DANEDAR", name="Tapal Danedar 190g", unit="pack",
                             reorder_level="10", cost="360", pack_size="1",
                             preferred_supplier_id=metro.id, sale_price="400"),
        "pepsi": make_product(sku="PEPSI-15", name="Pepsi 1.5L", unit="piece",
                              reorder_level="6", cost="150", pack_size="1",
                              preferred_supplier_id=rehman.id, sale_price="180"),
    }
    for product, quantity in (("cheeni", 5), ("sabun", 3), ("chai", 4), ("pepsi", 6)):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=khi.id, product_id=products[product].id, type="stock_in",
            quantity=quantity))
    keeper = make_user("shopkeeper", [khi], username="dukan")
    make_user("manager", username="manager")
    sale = sales.complete_sale(Actor(user_id=keeper.id, source="web", ip="127.0.0.1"),
                               store_id=khi.id, lines=[
                                   {"product_id": products["sabun"].id, "quantity": 2},
                                   {"product_id": products["cheeni"].id, "quantity": "1.5"}])
    return {"khi": khi.id, "sale": sale.data["sale"]["id"],
            **{k: p.id for k, p in products.items()}}


@pytest.fixture(scope="module")
def site():
    with live_site(_fill) as site:
        yield site


def phone(browser, site, username, lang="en"):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(20000)
    if lang == "ur":
        context.add_cookies([{"name": "lang", "value": "ur", "url": site["url"]}])
    page = context.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(site["url"] + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)
    context.set_default_timeout(10000)
    return page, problems


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"day-{name}.png"), full_page=True)


def low_in_store(site):
    with site["app"].app_context():
        names = [i["name"] for i in reports.iter_low_stock(None, store_id=site["khi"])]
        db.session.remove()
    return names


def test_receiving_the_suggested_orders_in_full_clears_low(browser, site):
    assert len(low_in_store(site)) == 4   # pepsi at exactly its level counts as low too
    page, problems = phone(browser, site, "manager")
    page.goto(f"{site['url']}/reports/low-stock?store_id={site['khi']}")
    page.click("text=Make orders")
    page.wait_for_url("**/purchasing/make**")
    shot(page, "make-orders")
    orders = []
    for supplier in ("Metro Cash & Carry", "Rehman Traders"):
        page.goto(f"{site['url']}/purchasing/make?store_id={site['khi']}")
        page.locator("section.po-group", has_text=supplier).locator(
            "button[type=submit]").click()
        page.wait_for_url(re.compile(r".*/purchasing/\d+$"))
        orders.append(page.url)
    for order in orders:
        page.goto(order)
        page.click("button:has-text('Mark as sent')")
        page.wait_for_selector(".po-status-sent")
        page.click("a:has-text('Receive')")
        page.wait_for_url("**/receive")
        page.click("button:has-text('Record what arrived')")   # as prefilled: all that is due
        page.wait_for_selector(".flash-success, .flash-warning")
    page.goto(f"{site['url']}/reports/low-stock?store_id={site['khi']}")
    assert page.locator("table.rp-table tbody").inner_text().strip() == "Nothing is low."
    shot(page, "low-stock-after-receiving")
    assert low_in_store(site) == []
    page.context.close()
    assert problems == []


def test_the_urdu_receipt_keeps_the_address_and_phone_in_order(browser, site):
    page, problems = phone(browser, site, "dukan", lang="ur")
    page.goto(f"{site['url']}/stores/{site['khi']}/sales/{site['sale']}")
    head = page.locator(".receipt-address")
    assert page.get_attribute("html", "dir") == "rtl"
    runs = head.locator("bdi.run").all_inner_texts()
    assert runs == ["Gulshan-e-Iqbal Block 13-D"]
    assert head.locator("bdi[dir=ltr]").inner_text() == "0300-1234567"
    # On screen the phone number sits wholly after (left of) the whole address, not inside it.
    address = head.locator("span[dir=auto]").bounding_box()
    number = head.locator("bdi[dir=ltr]").bounding_box()
    assert number["x"] + number["width"] <= address["x"] + 1 or number["y"] > address["y"]
    lines = page.locator(".receipt-lines tbody").inner_text()
    assert "2 عدد" in lines and "1.5 کلو" in lines
    shot(page, "urdu-receipt")
    page.context.close()
    assert problems == []


def test_tapping_a_product_shows_it_on_the_bar_and_a_loose_one_opens_the_number_pad(
        browser, site):
    page, problems = phone(browser, site, "dukan")
    page.goto(f"{site['url']}/stores/{site['khi']}/basket")
    # The search box's placeholder fits: its text is narrower than the box.
    fits = page.evaluate("""() => {
        const input = document.getElementById("basket-q");
        const style = getComputedStyle(input);
        const ctx = document.createElement("canvas").getContext("2d");
        ctx.font = style.font;
        const room = input.clientWidth - parseFloat(style.paddingLeft)
                     - parseFloat(style.paddingRight);
        return ctx.measureText(input.placeholder).width <= room;
    }""")
    assert fits
    page.locator("section:not(#basket) button.add", has_text="Cheeni (loose)").first.click()
    page.wait_for_selector("#bar-note")
    bar = page.locator("#checkout").bounding_box()
    assert bar["y"] >= 0 and bar["y"] + bar["height"] <= VIEWPORT["height"]   # always on screen
    assert page.locator("#bar-note").inner_text() == "Added Cheeni (loose)."
    assert page.locator("#bar-count").inner_text() == "1"
    assert page.locator("#bill-total").inner_text() == "Rs 150"
    page.screenshot(path=str(ARTIFACTS / "day-basket-added-screen.png"))   # what the thumb sees
    # Loose sugar: the quantity field has the focus (the number pad is up), selected.
    focused = page.evaluate("""() => [document.activeElement.className,
        document.activeElement.closest('.basket-line').dataset.productId,
        document.activeElement.selectionEnd - document.activeElement.selectionStart]""")
    assert focused == ["line-qty", str(site["cheeni"]), 1]
    page.keyboard.type("2.5")
    page.keyboard.press("Enter")
    page.wait_for_selector(".line-total[data-line-total='375.00']")
    shot(page, "basket-added")
    # A piece is not asked for a weight: the focus stays where it was.
    page.locator("section:not(#basket) button.add", has_text="Pepsi 1.5L").first.click()
    page.wait_for_function("() => document.getElementById('bar-count').textContent === '2'")
    assert page.evaluate("document.activeElement.className") != "line-qty"
    assert page.locator("#bar-note").inner_text() == "Added Pepsi 1.5L."
    page.context.close()
    assert problems == []
