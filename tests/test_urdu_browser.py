"""Urdu in Debian's Chromium at 360×640: switch language, sell ۱٫۵ kg, count, low stock, and no
page that scrolls sideways. Screenshots go to test-artifacts/urdu-*.png.

One real server (werkzeug in a thread, CSRF on) on a fresh PostgreSQL database for the module.
"""
from decimal import Decimal

import pytest
from flask import url_for

from tests.factories import ADMIN, make_product, make_store, make_supplier, make_user
from tests.live_site import ARTIFACTS, VIEWPORT, chromium, live_site
from webapp.extensions import db
from webapp.models import StockLevel, User
from webapp.services import closing, commands, imports, khata, ledger, purchasing, sales
from webapp.services.audit import Actor

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

PASSWORD = "password-123"


def _fill():
    """Two stores, products and suppliers named in Urdu, one user per role."""
    khi = make_store(code="KHI-0001", name="مدینہ کریانہ اسٹور", city="کراچی")
    lhe = make_store(code="LHE-0001", name="داتا جنرل اسٹور", city="لاہور")
    supplier = make_supplier(name="میٹرو کیش اینڈ کیری", phone="021-111-222-333")
    products = {
        "cheeni": make_product(sku="CHEENI", name="چینی (کھلی)", unit="kg",
                               category="کریانہ", reorder_level="30", sale_price="150"),
        "chawal": make_product(sku="CHAWAL-BAS", name="باسمتی چاول", unit="kg",
                               category="کریانہ", barcode="8964000123456",
                               sale_price="385.50"),
        "atta": make_product(sku="ATTA-10", name="سن رج چکی آٹا 10 کلو", unit="pack",
                             category="آٹا", sale_price="1450"),
    }
    for key, product in products.items():
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=khi.id, product_id=product.id,
                               type="stock_in", quantity=10 if key == "cheeni" else 50,
                               supplier_id=supplier.id, unit_cost="100"))
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=khi.id, product_id=products["atta"].id,
                           type="sale", quantity=3))
    keeper = make_user("shopkeeper", [khi, lhe], username="dukan")
    manager = make_user("manager", username="manager")
    make_user("admin", username="admin")
    # A sale, an order and an import job, so the pages that show one are swept too.
    sale = sales.complete_sale(Actor(user_id=keeper.id, source="web", ip="127.0.0.1"),
                               store_id=khi.id, lines=[
                                   {"product_id": products["atta"].id, "quantity": "1"}])
    order = purchasing.create_order(ADMIN, manager, store_id=khi.id, supplier_id=supplier.id,
                                    lines=[{"product_id": products["cheeni"].id, "packs": "1"}])
    job = imports.check(Actor(user_id=manager.id, source="web", ip="127.0.0.1"), "products",
                        "sku,name,unit,sale price\nNAMAK,نمک,kg,60\n".encode(), "namak.csv")
    # A customer with a credit sale and a payment, and a closed day, for the money pages.
    daal = make_product(sku="DAAL", name="دال مسور", unit="piece", sale_price="300")
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=khi.id, product_id=daal.id,
                                                          type="stock_in", quantity=5))
    keeper_actor = Actor(user_id=keeper.id, source="web", ip="127.0.0.1")
    customer = khata.create_customer(keeper_actor, keeper, store_id=khi.id, name="عاصف بھائی",
                                     phone="0300 1234567").data["customer"]
    sales.complete_sale(keeper_actor, store_id=khi.id, customer_id=customer["id"],
                        lines=[{"product_id": daal.id, "quantity": 1}],
                        payments=[{"method": "cash", "amount": "100"},
                                  {"method": "credit", "amount": "200"}])
    khata.receive_payment(keeper_actor, keeper, customer["id"], amount="50", method="cash")
    closed = closing.close_day(keeper_actor, keeper, khi.id, counted_cash="150")
    from tests.test_i18n import _webhook_with_a_failed_delivery
    webhook = _webhook_with_a_failed_delivery()
    return {"khi": khi.id, "lhe": lhe.id, "supplier": supplier.id, "keeper": keeper.id,
            "sale": sale.data["sale"]["id"], "order": order.id, "job": job,
            "customer": customer["id"], "closing": closed.data["closing"]["id"],
            "webhook": webhook, **{k: p.id for k, p in products.items()}}


@pytest.fixture(scope="module")
def site():
    with live_site(_fill) as site:
        yield site


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def new_page(browser, site, problems):
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    context.set_default_timeout(5000)
    page = context.new_page()
    # The live stock list asks htmx to include the selected product even when none is chosen
    # yet; htmx only logs that (the stock pages' own matter, not the language's).
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and "status of 422" not in m.text
            and "#selected-product" not in m.text else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page


def log_in(page, site, username):
    page.goto(site["url"] + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(lambda u: "/login" not in u)


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"urdu-{name}.png"), full_page=True)


def sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def level(site, product):
    with site["app"].app_context():
        value = db.session.get(StockLevel, (site["khi"], site[product])).quantity
        db.session.remove()
    return value


def language_of(site, username):
    with site["app"].app_context():
        value = db.session.query(User.language).filter_by(username=username).scalar()
        db.session.remove()
    return value


@pytest.fixture(scope="module")
def shopkeeper(browser, site):
    """Logged in (in English, the browser's language), then switched to Urdu from the menu."""
    problems = []
    page = new_page(browser, site, problems)
    log_in(page, site, "dukan")
    page.goto(site["url"] + "/stores/")
    page.click("details.menu > summary")
    page.click("details.menu button[value=ur]")
    page.locator("html[lang=ur]").wait_for(state="attached")
    yield page
    page.context.close()
    assert problems == []


def test_switch_to_urdu_from_the_menu(browser, site, shopkeeper):
    page = shopkeeper
    page.goto(site["url"] + "/stores/")
    assert page.get_attribute("html", "dir") == "rtl"
    assert language_of(site, "dukan") == "ur"
    assert page.locator("details.menu > summary").inner_text() == "مینو"
    # Before the switch the same account saw English: a fresh browser of another user does.
    other = new_page(browser, site, [])
    log_in(other, site, "admin")
    assert other.get_attribute("html", "lang") == "en"
    assert other.locator("details.menu > summary").inner_text() == "Menu"
    other.context.close()


def test_find_a_product_and_sell_one_and_a_half_kg_typed_in_urdu_digits(shopkeeper, site):
    page = shopkeeper
    page.goto(f"{site['url']}/stores/{site['khi']}/")
    page.fill("#q", "چینی")
    page.locator("#picker-results a.row").first.wait_for()
    assert "CHEENI" in page.locator("#picker-results").inner_text()
    page.locator("#picker-results a.row").first.click()
    page.locator("#panel-level").wait_for()
    assert page.locator("#panel-level").get_attribute("data-quantity") == "10"
    page.fill("#sale-quantity", "۱٫۵")
    shot(page, "store-before-sale")
    page.click("button.sell")
    page.locator("#panel-level[data-quantity='8.5']").wait_for()
    assert "فروخت" in page.locator("#panel .flash.just-recorded").inner_text()
    assert "8.5" in page.locator("#panel .flash.just-recorded").inner_text()
    assert level(site, "cheeni") == Decimal("8.500")
    assert page.locator("#panel-level .badge-low").inner_text() == "کم"
    assert sideways_scroll(page) <= 0
    shot(page, "store-after-sale")


def test_a_comma_thousands_number_is_refused_in_urdu(shopkeeper, site):
    page = shopkeeper
    before = level(site, "cheeni")
    page.goto(f"{site['url']}/stores/{site['khi']}/?product={site['cheeni']}")
    page.fill("#sale-quantity", "1,500")
    page.click("button.sell")
    error = page.locator("#sale-quantity-error")
    error.wait_for()
    assert "1500" in error.inner_text() and "1.5" in error.inner_text()
    assert "مقدار" in error.inner_text()
    assert level(site, "cheeni") == before
    shot(page, "store-comma-error")


def test_shelf_count_in_urdu(shopkeeper, site):
    page = shopkeeper
    page.goto(f"{site['url']}/stores/{site['khi']}/count")
    assert page.locator("h1").inner_text().startswith("شیلف کی گنتی")
    page.fill(f"#count-{site['chawal']}", "۴۸")
    shot(page, "count-enter")
    page.click("button[value=review]")
    page.get_by_text("فرق کا جائزہ لیں").wait_for()
    assert "-2" in page.locator(f"li[data-product-id='{site['chawal']}']").inner_text()
    shot(page, "count-review")
    page.click("button[value=apply]")
    page.locator(".flash-success").wait_for()
    assert "گنتی لاگو ہو گئی" in page.locator(".flash-success").inner_text()
    assert level(site, "chawal") == Decimal("48.000")
    assert sideways_scroll(page) <= 0


def test_low_stock_report_in_urdu_after_choosing_it_before_login(browser, site):
    problems = []
    page = new_page(browser, site, problems)
    page.goto(site["url"] + "/login")
    page.click("footer .language button[value=ur]")
    page.locator("html[lang=ur]").wait_for(state="attached")
    assert page.locator("h1").inner_text() == "لاگ اِن"
    shot(page, "login")
    log_in(page, site, "manager")
    assert page.get_attribute("html", "dir") == "rtl"
    assert language_of(site, "manager") is None  # only the cookie so far
    page.goto(site["url"] + "/reports/low-stock")
    assert page.locator("h1").inner_text() == "کم اسٹاک"
    rows = page.locator("table.rp-table tbody").inner_text()
    assert "چینی (کھلی)" in rows and "کلو" in rows
    assert sideways_scroll(page) <= 0
    shot(page, "low-stock")
    page.context.close()
    assert problems == []


USERS = ("dukan", "manager", "admin")


def pages(site):
    """Every page of the app's URL map (GET, not the API, not files or fragments for scripts),
    with the site's ids: a new page is swept without editing this list."""
    from tests.test_i18n import NOT_PAGES
    ids = {"store_id": site["khi"], "product_id": site["chawal"], "supplier_id": site["supplier"],
           "user_id": site["keeper"], "sale_id": site["sale"], "order_id": site["order"],
           "job_id": site["job"], "customer_id": site["customer"],
           "closing_id": site["closing"], "endpoint_id": site["webhook"]}
    app = site["app"]
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if (rule.endpoint in NOT_PAGES or rule.rule.startswith("/api/")
                    or "GET" not in rule.methods or rule.rule.endswith(".csv")
                    or rule.endpoint.endswith("picker")):
                continue
            found.append(url_for(rule.endpoint, **{n: ids[n] for n in rule.arguments}))
    return sorted(found) + [f"/stores/{site['khi']}/?product={site['chawal']}"]


@pytest.mark.parametrize("username", USERS)
def test_no_page_scrolls_sideways_in_urdu(browser, site, username):
    problems = []
    page = new_page(browser, site, problems)
    page.context.add_cookies([{"name": "lang", "value": "ur", "url": site["url"]}])
    log_in(page, site, username)
    wide = {}
    urls = pages(site)
    assert len(urls) > 40
    for path in urls:
        response = page.goto(site["url"] + path)
        if response.status in (403, 404) or "/login" in page.url:
            continue  # not this role's page
        if page.url.rstrip("/") != (site["url"] + path).rstrip("/") and "?" not in path:
            continue  # sent on elsewhere (a step that needs something first)
        if "<html" not in response.text():
            continue  # a fragment for htmx (the live stock list): test_i18n reads its words
        assert page.get_attribute("html", "dir") == "rtl", path
        overflow = sideways_scroll(page)
        if overflow > 0:
            wide[path] = overflow
        name = path.strip("/").replace("/", "-").replace("?", "-") or "home"
        shot(page, f"{username}-{name.split('=')[0]}")
    page.context.close()
    assert wide == {}
    # Another role's page answers 403/404 on purpose; anything else the console says counts.
    assert [p for p in problems if "status of 403" not in p and "status of 404" not in p] == []
