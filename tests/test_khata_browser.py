"""The money around a day, in Chromium at 360×640 and in Urdu: a 3-line basket half in cash and
half on udhaar to a new customer, a payment received, the reminder link, a credit sale voided,
the day closed; every balance and the closing's figures checked against the books.

Screenshots: test-artifacts/khata-*.png (the Complete step, the customer's khata, the closing).
"""
from decimal import Decimal
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from tests.factories import ADMIN, PASSWORD, make_product, make_store, make_user
from tests.live_site import ARTIFACTS, VIEWPORT, chromium, live_site
from webapp.extensions import db
from webapp.models import Customer, CustomerEntry, DailyClosing, Sale
from webapp.services import catalog, commands, khata, ledger

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def _fill():
    store = make_store(code="KHI-0001", name="مدینہ کریانہ")
    catalog.update_store(ADMIN, store.id, {"opening_float": "1000"})
    products = {"daal": make_product(sku="DAAL", name="Daal Masoor", unit="piece",
                                     sale_price="100"),
                "ghee": make_product(sku="GHEE", name="Dalda Ghee", unit="piece",
                                     sale_price="200"),
                "chai": make_product(sku="CHAI", name="Tapal Chai", unit="piece",
                                     sale_price="300")}
    for product in products.values():
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=50))
    make_user("shopkeeper", [store], username="dukan", password=PASSWORD)
    return {"khi": store.id, **{k: p.id for k, p in products.items()}}


@pytest.fixture(scope="module")
def site():
    with live_site(_fill) as site:
        yield site


def books(site, fn):
    with site["app"].app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"khata-{name}.png"), full_page=True)


def sideways(page):
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def add_to_basket(page, site, *names):
    page.goto(f"{site['url']}/stores/{site['khi']}/basket")
    for name in names:
        count = page.locator(".basket-line").count()
        page.locator("button.row.add", has_text=name).last.click()
        page.wait_for_function("n => document.querySelectorAll('.basket-line').length === n",
                               arg=count + 1)


def test_a_day_of_udhaar_payments_a_void_and_the_closing(site):
    with chromium() as browser:
        context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
        context.set_default_timeout(8000)
        context.add_cookies([{"name": "lang", "value": "ur", "url": site["url"]}])
        page = context.new_page()
        problems = []
        page.on("console", lambda m: problems.append(m.text)
                if m.type == "error" and "status of 422" not in m.text else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(site["url"] + "/login")
        page.fill("#username", "dukan")
        page.fill("#password", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.wait_for_url(lambda u: "/login" not in u)
        assert page.get_attribute("html", "dir") == "rtl"

        # 1. A 3-line basket (100 + 200 + 300), half in cash and half on udhaar, new customer.
        add_to_basket(page, site, "Daal Masoor", "Dalda Ghee", "Tapal Chai")
        assert page.locator("#bill-total").get_attribute("data-total") == "600.00"
        page.locator("details.udhaar summary").click()
        page.fill("#udhaar-name", "عاصف")
        page.fill("#udhaar-phone", "0300 1234567")
        page.fill("#udhaar-now", "300")
        assert sideways(page) <= 0
        page.locator("#udhaar-form").scroll_into_view_if_needed()
        shot(page, "complete-udhaar")
        page.locator("#pay-udhaar").click()
        page.wait_for_url(lambda u: "/sales/" in u)
        assert "300" in page.locator(".receipt-customer").inner_text()
        shot(page, "receipt-udhaar")

        def first_sale():
            sale = db.session.scalars(select(Sale).order_by(Sale.id)).first()
            customer = db.session.get(Customer, sale.customer_id)
            return (sale.total, sale.paid_cash, sale.paid_credit, customer.name, customer.phone,
                    customer.balance, customer.id)
        total, cash, credit, name, phone, balance, customer_id = books(site, first_sale)
        assert (total, cash, credit, name, phone, balance) == (
            Decimal("600.00"), Decimal("300.00"), Decimal("300.00"), "عاصف", "+923001234567",
            Decimal("300.00"))

        # 2. Receive a payment on the customer's khata.
        page.locator(f"a[href$='/customers/{customer_id}']").click()
        page.wait_for_selector("#pay-amount")
        page.fill("#pay-amount", "100")
        page.locator("form[action$='/payments'] button[type=submit]").click()
        page.wait_for_selector(".flash-success")
        assert "200" in page.locator("#customer-balance").inner_text()

        # 3. The reminder: a wa.me link to the customer, the balance in Urdu, Western digits.
        link = page.locator("#send-reminder").get_attribute("href")
        assert link.startswith("https://wa.me/923001234567?text=")
        text = unquote(link.split("text=", 1)[1])
        assert "200" in text and "بقایا" in text and "عاصف" in text

        # 4. A credit sale of the same customer, then voided: its udhaar comes off again.
        add_to_basket(page, site, "Daal Masoor")
        page.locator("details.udhaar summary").click()
        page.select_option("#udhaar-customer", str(customer_id))
        page.locator("#pay-udhaar").click()
        page.wait_for_url(lambda u: "/sales/" in u)
        assert books(site, lambda: db.session.get(Customer, customer_id).balance) == \
            Decimal("300.00")
        page.locator("a.void-link").click()
        page.locator("form[action$='/void'] button[type=submit]").click()
        page.wait_for_selector(".stamp")
        assert books(site, lambda: db.session.get(Customer, customer_id).balance) == \
            Decimal("200.00")

        def entries():
            rows = db.session.scalars(select(CustomerEntry).where(
                CustomerEntry.customer_id == customer_id).order_by(CustomerEntry.id)).all()
            return [(e.kind, e.amount, e.balance_after) for e in rows]
        assert books(site, entries) == [
            ("sale", Decimal("300.00"), Decimal("300.00")),
            ("payment", Decimal("-100.00"), Decimal("200.00")),
            ("sale", Decimal("100.00"), Decimal("300.00")),
            ("void", Decimal("-100.00"), Decimal("200.00"))]
        assert books(site, khata.balances_agree) == []
        page.goto(f"{site['url']}/stores/{site['khi']}/customers/{customer_id}")
        assert sideways(page) <= 0
        shot(page, "customer-ledger")

        # 5. Close the day: 1000 float + 300 cash sales − 0 paid back + 100 received = 1400.
        page.goto(f"{site['url']}/stores/{site['khi']}/closing")
        assert "1,400" in page.locator("#expected-cash").inner_text()
        page.locator("form[action$='/closing'] details summary").click()
        page.fill("#note-1000", "1")
        page.fill("#note-100", "3")
        page.fill("#coins", "50")
        shot(page, "closing-count")
        page.locator("form[action$='/closing'] button[type=submit]").click()
        page.wait_for_selector("#closing-difference")
        assert sideways(page) <= 0
        shot(page, "closing")
        closing = books(site, lambda: db.session.scalars(select(DailyClosing)).one())
        assert (closing.opening_float, closing.sales_cash, closing.sales_credit,
                closing.credit_reversed, closing.cash_paid_back, closing.received_cash,
                closing.expected_cash, closing.counted_cash, closing.difference) == (
            Decimal("1000.00"), Decimal("300.00"), Decimal("400.00"), Decimal("100.00"),
            Decimal("0.00"), Decimal("100.00"), Decimal("1400.00"), Decimal("1350.00"),
            Decimal("-50.00"))
        assert "1,350" in page.locator("#closing-counted").inner_text()
        assert "50" in page.locator("#closing-difference").inner_text()
        share = page.locator("#share-summary").get_attribute("href")
        assert share.startswith("https://wa.me/?text=") and "1%2C400" in share
        context.close()
        assert problems == []
