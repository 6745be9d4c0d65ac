"""The money pages through the test client: the basket's Complete step (cash, card, udhaar with
a new customer and part paid now), the receipt, customers, a customer's khata with Receive
payment and the reminder link, the statement, the closing, the manager's money screen and the
reports (receivables by age, cash book, payment methods)."""
from decimal import Decimal
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from tests.factories import ADMIN, login, make_product, make_store, make_supplier, make_user
from tests.test_khata import assert_khata_consistent
from webapp.extensions import db
from webapp.models import Customer, Sale
from webapp.services import commands, khata, ledger, payables
from webapp.models.types import utcnow


@pytest.fixture
def shop(app):
    store = make_store(code="KHI-0100", name="Madina Store")
    rice = make_product(unit="piece", sku="RICE", name="Basmati", sale_price="250.00")
    soap = make_product(unit="piece", sku="SOAP", name="Lifebuoy", sale_price="60.00")
    for product in (rice, soap):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=100))
    keeper = make_user("shopkeeper", [store], username="dukan")
    return store, rice, soap, keeper


def _as(client, user):
    """A new client logged in as `user`. The test's app context is shared with the requests,
    so Flask-Login's user cached in `g` by an earlier request is dropped first."""
    from flask import g
    g.pop("_login_user", None)
    client = client.application.test_client()
    login(client, user)
    g.pop("_login_user", None)
    return client


def _fill(client, store, *products):
    for product in products:
        assert client.post(f"/stores/{store.id}/basket/add",
                           data={"product_id": product.id}).status_code == 303


def test_complete_by_card_and_on_udhaar_with_a_new_customer(client, shop):
    store, rice, soap, keeper = shop
    login(client, keeper)
    _fill(client, store, rice, soap)
    page = client.get(f"/stores/{store.id}/basket").get_data(as_text=True)
    assert 'id="pay-card"' in page and 'id="udhaar-form"' in page
    response = client.post(f"/stores/{store.id}/basket/complete",
                           data={"key": "k-card", "pay": "card"})
    assert response.status_code == 303
    sale = db.session.scalars(select(Sale)).one()
    assert (sale.paid_card, sale.paid_cash, sale.total) == (Decimal("310.00"), 0, 310)
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Card" in receipt or "card" in receipt

    _fill(client, store, rice, soap)
    refused = client.post(f"/stores/{store.id}/basket/complete",
                          data={"key": "k-u0", "pay": "credit"})
    assert refused.status_code == 422  # udhaar needs a customer
    assert "Choose the customer for udhaar." in refused.get_data(as_text=True)
    response = client.post(f"/stores/{store.id}/basket/complete", data={
        "key": "k-u1", "pay": "credit", "new_name": "Asif", "new_phone": "0300 1234567",
        "paid_now": "110"})
    assert response.status_code == 303, response.get_data(as_text=True)
    customer = db.session.scalars(select(Customer)).one()
    assert (customer.name, customer.phone, customer.balance) == \
        ("Asif", "+923001234567", Decimal("200.00"))
    sale = db.session.scalars(select(Sale).order_by(Sale.id.desc())).first()
    assert (sale.paid_cash, sale.paid_credit, sale.customer_id) == \
        (Decimal("110.00"), Decimal("200.00"), customer.id)
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Asif" in receipt and "Rs 200" in receipt
    assert_khata_consistent()


def test_the_khata_pages(client, shop):
    store, rice, _soap, keeper = shop
    login(client, keeper)
    response = client.post(f"/stores/{store.id}/customers",
                           data={"name": "Bilal", "phone": "03111234567", "credit_limit": "900",
                                 "key": "c1"})
    assert response.status_code == 303
    customer_url = response.headers["Location"]
    bad = client.post(f"/stores/{store.id}/customers", data={"name": "Other",
                                                             "phone": "+923111234567"})
    assert bad.status_code == 422 and "already in this store" in bad.get_data(as_text=True)
    customer = db.session.scalars(select(Customer)).one()
    _fill(client, store, rice)
    client.post(f"/stores/{store.id}/basket/complete",
                data={"key": "u", "pay": "credit", "customer_id": customer.id})
    page = client.get(customer_url).get_data(as_text=True)
    assert "Rs 250" in page and "wa.me/923111234567?text=" in page
    paid = client.post(f"{customer_url}/payments", data={"amount": "100", "method": "wallet",
                                                         "key": "p1"})
    assert paid.status_code == 303
    assert db.session.get(Customer, customer.id).balance == Decimal("150.00")
    too_much = client.post(f"{customer_url}/payments", data={"amount": "151", "method": "cash"})
    assert too_much.status_code == 422
    assert "take no more than that" in too_much.get_data(as_text=True)
    listing = client.get(f"/stores/{store.id}/customers").get_data(as_text=True)
    assert "Bilal" in listing and "Rs 150" in listing
    statement = client.get(f"{customer_url}/statement?size=58").get_data(as_text=True)
    assert "size-58" in statement and "Rs 150" in statement
    # Urdu: the reminder is in the customer's language whatever the reader's.
    reminder = khata.reminder(keeper, customer.id)
    assert "بقایا" in reminder["text"] and "150" in reminder["text"]
    assert unquote(reminder["whatsapp_url"].split("text=")[1]) == reminder["text"]
    # Another store's shopkeeper sees none of it.
    other = make_user("shopkeeper", [make_store()], username="other")
    client = _as(client, other)
    assert client.get(customer_url).status_code == 404
    assert client.get(f"/stores/{store.id}/customers").status_code == 404
    assert_khata_consistent()


def test_the_closing_page_and_the_money_screen(client, shop):
    store, rice, soap, keeper = shop
    supplier = make_supplier(name="Al-Noor")
    payables.add_receipt(db.session.connection(), ADMIN, supplier.id, store.id,
                         Decimal("500"), None, utcnow())
    db.session.commit()
    login(client, keeper)
    _fill(client, store, rice, soap)
    client.post(f"/stores/{store.id}/basket/complete", data={"key": "c"})  # cash 310
    page = client.get(f"/stores/{store.id}/closing").get_data(as_text=True)
    assert "Rs 310" in page
    refused = client.post(f"/stores/{store.id}/closing", data={"counted_cash": "",
                                                               "key": "x"})
    assert refused.status_code == 422
    done = client.post(f"/stores/{store.id}/closing",
                       data={"note_100": "3", "coins": "5", "key": "close"})
    assert done.status_code == 303, done.get_data(as_text=True)
    view = client.get(done.headers["Location"]).get_data(as_text=True)
    import re
    figures = dict(re.findall(r'id="closing-(\w+)">([^<]*)<', view))
    assert (figures["expected"], figures["counted"]) == ("Rs 310", "Rs 305")
    assert figures["difference"].replace("\u2212", "-") in ("-Rs 5", "Rs -5")
    assert "wa.me/?text=" in view
    again = client.post(f"/stores/{store.id}/closing", data={"counted_cash": "310",
                                                             "key": "again"})
    assert again.status_code == 422 and "already closed" in again.get_data(as_text=True)
    assert client.get("/money").status_code == 403  # shopkeepers: their store's pages only

    manager = make_user("manager", username="boss")
    client = _as(client, manager)
    money = client.get("/money").get_data(as_text=True)
    assert "Al-Noor" in money and "Rs 500" in money and "flagged" in money
    paid = client.post(f"/suppliers/{supplier.id}/payments",
                       data={"store_id": store.id, "amount": "200", "method": "cash",
                             "key": "s1"})
    assert paid.status_code == 303
    assert payables.balance_of(db.session.connection(), supplier.id, store.id) == \
        Decimal("300.00")
    for path in ("/reports/receivables", "/reports/receivables.csv",
                 f"/reports/cash-book?store_id={store.id}",
                 f"/reports/cash-book.csv?store_id={store.id}", "/reports/sales",
                 "/reports/sales-methods.csv"):
        response = client.get(path)
        assert response.status_code == 200, path
    sales_page = client.get("/reports/sales").get_data(as_text=True)
    assert 'id="sales-by-method"' in sales_page
    book = client.get(f"/reports/cash-book.csv?store_id={store.id}").get_data(as_text=True)
    assert "Al-Noor" in book and "-200.00" in book


def test_receivables_are_aged_by_the_newest_credit(app, shop):
    store, rice, _soap, keeper = shop
    from datetime import timedelta
    from webapp.services import sales
    customer = khata.create_customer(ADMIN, keeper, store_id=store.id,
                                     name="Old").data["customer"]
    for _ in range(3):
        sales.complete_sale(ADMIN, store_id=store.id, customer_id=customer["id"],
                            lines=[{"product_id": rice.id, "quantity": 1}],
                            payments=[{"method": "credit", "amount": "250"}])
    khata.receive_payment(ADMIN, keeper, customer["id"], amount="300", method="cash")
    # Seen 45 days later: 450 is owed, all from the sales 45 days old.
    rows, totals = khata.receivables(keeper, store.id, now=utcnow() + timedelta(days=45))
    assert [(r["name"], r["balance"], r["31-60"]) for r in rows] == \
        [("Old", Decimal("450.00"), Decimal("450.00"))]
    assert totals["total"] == Decimal("450.00") and totals["0-30"] == 0


def test_receivables_over_every_store_read_the_summary_and_say_when(client, shop):
    """A manager's receivables page (every store) takes its totals from the summary the
    roll-up refresh keeps (inline here, with no worker), ages only the rows it shows, and says
    "as of"; one store chosen is aged live and says nothing of the kind."""
    from webapp.services import sales
    store, rice, _soap, keeper = shop
    other = make_store(code="LHE-0100")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=other.id, product_id=rice.id, type="stock_in", quantity=10))
    for where, name, quantity in ((store, "Asif", 2), (store, "Bilal", 1), (other, "Dawood", 3)):
        customer = khata.create_customer(ADMIN, keeper, store_id=where.id,
                                         name=name).data["customer"]
        sales.complete_sale(ADMIN, store_id=where.id, customer_id=customer["id"],
                            lines=[{"product_id": rice.id, "quantity": quantity}],
                            payments=[{"method": "credit", "amount": str(250 * quantity)}])
    login(client, make_user("manager", username="boss"))
    page = client.get("/reports/receivables").get_data(as_text=True)
    assert 'id="receivables-total">Rs 1,500<' in page
    assert "All stores as of" in page
    assert page.index("Dawood") < page.index("Asif") < page.index("Bilal")
    one = client.get(f"/reports/receivables?store_id={other.id}").get_data(as_text=True)
    assert 'id="receivables-total">Rs 750<' in one and "All stores as of" not in one
    assert "Asif" not in one


def test_the_money_screen_shows_the_largest_supplier_accounts_and_totals_all(client, shop,
                                                                            monkeypatch):
    """Over many stores the screen lists the largest accounts owed (OWED_SHOWN), while the
    total and the count add up every one (make bench-reports: 16,000 accounts were 4.6 s)."""
    from webapp.blueprints.khata import routes

    monkeypatch.setattr(routes, "OWED_SHOWN", 2)
    supplier = make_supplier(name="Al-Noor")
    for amount in ("300", "500", "100"):
        store_id = make_store().id
        payables.add_receipt(db.session.connection(), ADMIN, supplier.id, store_id,
                             Decimal(amount), None, utcnow())
    db.session.commit()
    manager = make_user("manager", username="boss")
    rows, total = payables.owed(manager, limit=2)
    assert [r["balance"] for r in rows] == ["500.00", "300.00"] and total == Decimal("900.00")
    assert payables.owed_count(manager) == 3
    page = _as(client, manager).get("/money").get_data(as_text=True)
    assert "Rs 900" in page and "Rs 100" not in page
    assert "The 2 largest of 3 accounts owed." in page


def test_receivables_csv_over_every_store_reads_the_summary_and_says_when(client, shop):
    """The CSV over every store lists each customer who owes from the summary per customer
    (same columns, same order as the live CSV) and says "as of" on a last line; one store's
    CSV is aged live and says nothing of the kind."""
    import csv
    import io

    from webapp.services import sales
    store, rice, _soap, keeper = shop
    other = make_store(code="LHE-0101")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=other.id, product_id=rice.id, type="stock_in", quantity=10))
    for where, name, quantity in ((store, "Asif", 2), (store, "=Bilal", 1), (other, "Dawood", 3)):
        customer = khata.create_customer(ADMIN, keeper, store_id=where.id,
                                         name=name).data["customer"]
        sales.complete_sale(ADMIN, store_id=where.id, customer_id=customer["id"],
                            lines=[{"product_id": rice.id, "quantity": quantity}],
                            payments=[{"method": "credit", "amount": str(250 * quantity)}])
    login(client, make_user("manager", username="boss2"))
    text = client.get("/reports/receivables.csv").get_data(as_text=True).lstrip("\ufeff")
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["store_code", "customer", "phone", "balance", "0-30 days",
                        "31-60 days", "61-90 days", "over 90 days"]
    assert [line[1:5] for line in lines[1:4]] == [["Dawood", "", "750.00", "750.00"],
                                                  ["Asif", "", "500.00", "500.00"],
                                                  ["'=Bilal", "", "250.00", "250.00"]]
    assert lines[4][0] == "TOTAL" and lines[4][3] == "1500.00"
    assert lines[5][0].startswith("All stores as of") and len(lines[5]) == 8
    one = client.get(f"/reports/receivables.csv?store_id={other.id}").get_data(as_text=True)
    assert "Dawood" in one and "Asif" not in one and "All stores as of" not in one
