"""Udhaar with no signal, in Debian's Chromium at 360×640 (persistent profiles, like a phone):
a basket sold on udhaar to a customer from the list the phone keeps and a payment received on
the customer's page wait on the phone, then land exactly once each when the signal returns (the
first acknowledgement of each lost on the way, so each is sent twice); a credit sale that passes
the limit by the time it lands waits under "needs attention" with the server's reason.

Screenshots: test-artifacts/khata-offline-*.png.
"""
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.factories import ADMIN, make_product, make_store, make_user
from tests.live_site import live_site
from tests.test_khata import assert_khata_consistent
from tests.test_offline_browser import (  # noqa: F401 (playwright: the module's fixture)
    Network,
    Phone,
    playwright,
    shot,
    wait_for_queue,
)
from webapp.extensions import db
from webapp.models import Customer, CustomerEntry, Sale
from webapp.services import commands, khata, ledger, sales
from webapp.services.policy import Principal

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

ADMIN_USER = Principal(id=0, role="admin", store_ids=frozenset())


def _fill():
    store = make_store(code="KHI-0001", name="Al-Madina Kiryana")
    products = {"daal": make_product(sku="DAAL", name="Daal Masoor", unit="piece",
                                     sale_price="100"),
                "ghee": make_product(sku="GHEE", name="Dalda Ghee", unit="piece",
                                     sale_price="200")}
    for product in products.values():
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=50))
    customers = {}
    for name, phone in (("Asif", "0300 1234567"), ("Bilal", "0301 7654321")):
        customers[name.lower()] = khata.create_customer(
            ADMIN, ADMIN_USER, store_id=store.id, name=name, phone=phone,
            credit_limit="1000").data["customer"]["id"]
    make_user("shopkeeper", [store], username="dukan")
    return {"khi": store.id, **{k: p.id for k, p in products.items()}, **customers}


@pytest.fixture(scope="module")
def site():
    with live_site(_fill, middleware=Network) as site:
        site["bytes"] = site["app"].wsgi_app
        yield site


def books(site, fn):
    with site["app"].app_context():
        try:
            return fn()
        finally:
            db.session.remove()


def customer_url(site, name):
    return f"{site['url']}/stores/{site['khi']}/customers/{site[name]}"


def kept_customers(phone):
    """The customers' copy the phone keeps (Cache Storage), or None."""
    return phone.page.evaluate("""async (url) => {
        const hit = await (await caches.open("kiryana-data")).match(url);
        return hit ? (await hit.json()).customers : null;
    }""", f"/offline/stores/{phone.site['khi']}/customers")


def add(phone, product, times=1):
    for _ in range(times):
        phone.tap_add(product)


def sell_on_udhaar(phone, customer, paid_now=""):
    phone.page.locator("details.udhaar summary").click()
    phone.page.select_option("#udhaar-customer", str(phone.site[customer]))
    phone.page.fill("#udhaar-now", paid_now)
    phone.page.click("#pay-udhaar")


def lose_first_acknowledgements(phone):
    """The server applies each queued item, and the phone never hears back the first time."""
    dropped, seen = [], []

    def route(route):
        key = route.request.post_data_json["key"]
        seen.append(key)
        if key in dropped:
            route.continue_()
            return
        response = route.fetch()
        assert response.status == 201, response.text()
        dropped.append(key)
        route.abort()

    for door in ("sales", "payments"):
        phone.context.route(f"**/offline/stores/*/{door}", route)
    return dropped, seen


def flush_until_empty(phone):
    for _ in range(10):
        if not phone.queue():
            return
        phone.page.evaluate("KiryanaQueue.flush()")
    assert phone.queue() == []


def test_udhaar_and_a_payment_with_no_signal_land_once_each(playwright, site, tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(customer_url(site, "asif"))   # opened once with signal: kept for offline
    phone.ready_offline()
    phone.page.goto(phone.basket_url())
    phone.ready_offline()
    phone.until(lambda: kept_customers(phone))
    assert [(c["name"], c["balance"]) for c in kept_customers(phone)] == [
        ("Asif", "0.00"), ("Bilal", "0.00")]

    phone.go_offline()
    phone.page.reload()
    add(phone, "daal", 2)
    add(phone, "ghee")
    expect(phone.page.locator("#basket[data-local]")).to_have_count(1)
    phone.page.locator("details.udhaar summary").click()
    options = phone.page.locator("#udhaar-customer option")
    expect(options).to_have_count(3)    # a new customer, Asif, Bilal: from the phone's list
    expect(options.nth(1)).to_have_text("Asif · +923001234567 · owes Rs 0")
    shot(phone.page, "khata-offline-udhaar")
    phone.page.select_option("#udhaar-customer", str(site["asif"]))
    phone.page.fill("#udhaar-now", "100")
    phone.page.click("#pay-udhaar")
    wait_for_queue(phone, 1)
    expect(phone.page.locator(".basket-line")).to_have_count(0)
    expect(phone.page.locator("#basket")).to_contain_text(
        "Saved on this phone: Sell 2 piece Daal Masoor, 1 piece Dalda Ghee = Rs 400 · udhaar "
        "to Asif")

    # A payment on Asif's page, opened from the phone's copy with no signal.
    phone.page.goto(customer_url(site, "asif"))
    phone.page.fill("#pay-amount", "150")
    phone.page.check("input[name=method][value=wallet]")
    phone.page.click("form[data-offline-payment] button[type=submit]")
    wait_for_queue(phone, 2)
    expect(phone.page.locator("form[data-offline-payment] [data-offline-saved]")).to_have_text(
        "Saved on this phone: Received Rs 150 from Asif (wallet). It will be sent when the "
        "connection returns.")
    expect(phone.page.locator("#queue-waiting li")).to_have_count(2)
    shot(phone.page, "khata-offline-payment-waiting")
    items = phone.queue()
    assert [i["kind"] for i in items] == ["sale", "payment"]
    sale_key, payment_key = items[0]["key"], items[1]["key"]
    assert books(site, lambda: db.session.scalar(select(func.count()).select_from(Sale))) == 0

    dropped, seen = lose_first_acknowledgements(phone)
    phone.go_online()
    flush_until_empty(phone)
    assert sorted(dropped) == sorted([sale_key, payment_key])   # each reply lost once
    assert seen.count(sale_key) >= 2 and seen.count(payment_key) >= 2   # so each sent again

    def written():
        sale = db.session.execute(select(Sale).where(Sale.idempotency_key == sale_key)
                                  ).scalars().all()
        entries = db.session.execute(
            select(CustomerEntry.kind, CustomerEntry.amount, CustomerEntry.method,
                   CustomerEntry.balance_after)
            .where(CustomerEntry.customer_id == site["asif"]).order_by(CustomerEntry.id)).all()
        assert_khata_consistent()
        return ([(s.total, s.paid_cash, s.paid_credit, s.customer_id) for s in sale],
                [(k, str(a), m, str(b)) for k, a, m, b in entries],
                db.session.get(Customer, site["asif"]).balance)

    sold, entries, balance = books(site, written)
    # Priced when it landed: 2 × 100 + 200 = 400, Rs 100 in cash, 300 on the khata; once.
    assert sold == [(400, 100, 300, site["asif"])]
    assert entries == [("sale", "300.00", None, "300.00"),
                       ("payment", "-150.00", "wallet", "150.00")]
    assert balance == 150
    # The page opened again: the balance, and the phone's copy of the customers follows (a
    # conditional request, answered in full now that balances moved).
    phone.page.reload()
    expect(phone.page.locator("#customer-balance")).to_have_text("Rs 150")
    phone.until(lambda: [c["balance"] for c in kept_customers(phone)
                         if c["name"] == "Asif"] == ["150.00"])
    for door in ("sales", "payments"):
        phone.context.unroute(f"**/offline/stores/*/{door}")
    phone.finish()


def test_a_credit_sale_past_the_limit_by_the_time_it_lands_needs_attention(playwright, site,
                                                                          tmp_path):
    phone = Phone(playwright, site, tmp_path / "phone")
    phone.login("dukan")
    phone.page.goto(phone.basket_url())
    phone.ready_offline()
    phone.until(lambda: kept_customers(phone))
    phone.go_offline()
    phone.page.reload()
    add(phone, "ghee", 3)                      # Rs 600 on Bilal's khata (limit 1,000)
    sell_on_udhaar(phone, "bilal")
    wait_for_queue(phone, 1)

    def elsewhere():                           # meanwhile another phone sells him Rs 500
        sales.complete_sale(ADMIN, store_id=site["khi"], customer_id=site["bilal"],
                            lines=[{"product_id": site["daal"], "quantity": 5}],
                            payments=[{"method": "credit", "amount": "500"}])
    books(site, elsewhere)
    phone.go_online()
    wait_for_queue(phone, 1, "attention")
    item = phone.page.locator("#queue-attention li")
    item.wait_for()
    text = item.inner_text()
    assert "Sell 3 piece Dalda Ghee = Rs 600 · udhaar to Bilal" in text
    assert "Bilal may owe at most Rs 1,000; Rs 500 is left on the khata." in text
    shot(phone.page, "khata-offline-needs-attention")

    def bilal():
        assert_khata_consistent()
        return (db.session.get(Customer, site["bilal"]).balance,
                db.session.scalar(select(func.count()).select_from(Sale)
                                  .where(Sale.customer_id == site["bilal"])))
    assert books(site, bilal) == (500, 1)      # the refused sale wrote nothing
    # Sent again as it was: refused again, still udhaar to Bilal.
    first = phone.queue()[0]["key"]
    item.locator("button[type=submit]").click()
    phone.until(lambda: [(i["status"], i["key"] != first) for i in phone.queue()] ==
                [("attention", True)])
    item = phone.page.locator("#queue-attention li")
    expect(item).to_contain_text("Sell 3 piece Dalda Ghee · udhaar to Bilal")
    # The customer pays cash instead: the same basket, sold for cash.
    item.locator("button", has_text="Sell for cash instead").click()
    phone.until(lambda: phone.queue() == [])
    assert books(site, bilal) == (500, 1)
    cash = books(site, lambda: db.session.execute(
        select(Sale.total, Sale.paid_cash, Sale.customer_id).order_by(Sale.id.desc())).first())
    assert tuple(cash) == (600, 600, None)
    phone.finish()
