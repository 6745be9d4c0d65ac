"""Customers and their khata, payments on a sale, supplier dues and the daily closing, through
the API (services/khata.py, payments.py, payables.py, closing.py)."""
from datetime import timedelta
from decimal import Decimal
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store, make_supplier, make_user
from webapp.extensions import db
from webapp.models import (
    AuditLog,
    Customer,
    CustomerEntry,
    Sale,
    StockMovement,
    SupplierEntry,
)
from webapp.services import closing, commands, khata, ledger, payables
from webapp.services.errors import DomainError


@pytest.fixture
def shop(app):
    store = make_store(name="Madina Store")
    rice = make_product(unit="piece", sku="RICE", sale_price="250.00")
    soap = make_product(unit="piece", sku="SOAP", sale_price="60.00")
    for product in (rice, soap):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=100))
    return store, rice, soap


@pytest.fixture
def keeper(app, shop):
    return api_as(app, "shopkeeper", stores=[shop[0]])


def new_customer(api, store, **fields):
    response = api.post("/api/v1/customers", json={"store_id": store.id, "name": "Asif",
                                                   **fields})
    assert response.status_code == 201, response.json
    return response.json["customer"]


def sell(api, store, product, quantity, **extra):
    return api.post("/api/v1/sales", json={
        "store_id": store.id, "lines": [{"product_id": product.id, "quantity": quantity}],
        **extra})


def assert_khata_consistent():
    assert khata.balances_agree() == []
    for customer in db.session.scalars(select(Customer)):
        entries = db.session.scalars(select(CustomerEntry).where(
            CustomerEntry.customer_id == customer.id).order_by(CustomerEntry.id)).all()
        running = Decimal(0)
        for entry in entries:
            running += entry.amount
            assert entry.balance_after == running
        assert customer.balance == running


@pytest.mark.parametrize("typed", ["0300 1234567", "+923001234567", "923001234567",
                                   "0092-300-1234567", "+92 300 1234567", "3001234567"])
def test_phone_numbers_normalise_to_one_form(typed):
    assert khata.normalise_phone(typed) == "+923001234567"


@pytest.mark.parametrize("typed", ["12", "0300 12345678901", "abc", "0300-12x4567",
                                   "۰۳۰۰۱۲۳۴۵۶۷"])
def test_phone_numbers_that_are_not_refused(typed):
    with pytest.raises(DomainError) as error:
        khata.normalise_phone(typed)
    assert error.value.fields == {"phone": error.value.message}


def test_create_read_update_and_a_duplicate_phone(keeper, shop):
    store = shop[0]
    customer = new_customer(keeper, store, phone="0300 1234567", credit_limit="5000")
    assert (customer["phone"], customer["balance"], customer["credit_limit"],
            customer["language"]) == ("+923001234567", "0.00", "5000.00", "ur")
    again = keeper.post("/api/v1/customers", json={"store_id": store.id, "name": "Other",
                                                   "phone": "+923001234567"})
    assert again.status_code == 409 and again.json["error"]["code"] == "duplicate"
    # Another store may have the same number.
    other = make_store()
    assert new_customer(api_as(keeper.client.application, "admin"), other,
                        phone="03001234567")["phone"] == "+923001234567"
    patched = keeper.patch(f"/api/v1/customers/{customer['id']}",
                           json={"name": "Asif Bhai", "language": "en"})
    assert patched.status_code == 200
    assert (patched.json["customer"]["name"], patched.json["customer"]["language"]) == \
        ("Asif Bhai", "en")
    read = keeper.get(f"/api/v1/customers/{customer['id']}")
    assert read.json["customer"]["name"] == "Asif Bhai"
    bad = keeper.post("/api/v1/customers", json={"store_id": store.id, "name": "X",
                                                 "phone": "12"})
    assert bad.status_code == 422 and "phone" in bad.json["error"]["fields"]


def test_a_shopkeeper_sees_only_their_stores_customers(app, keeper, shop):
    other = make_store()
    admin = api_as(app, "admin")
    theirs = new_customer(admin, other, name="Elsewhere")
    mine = new_customer(keeper, shop[0], name="Mine")
    for path in (f"/api/v1/customers/{theirs['id']}", f"/api/v1/customers/{theirs['id']}/ledger",
                 f"/api/v1/customers/{theirs['id']}/reminder"):
        assert keeper.get(path).status_code == 404
    assert keeper.post(f"/api/v1/customers/{theirs['id']}/payments",
                       json={"amount": "10", "method": "cash"}).status_code == 404
    assert keeper.post("/api/v1/customers", json={"store_id": other.id,
                                                  "name": "X"}).status_code == 404
    listed = keeper.get("/api/v1/customers").json
    assert [c["id"] for c in listed["items"]] == [mine["id"]]
    assert keeper.get(f"/api/v1/customers?store_id={other.id}").status_code == 404
    # A sale of my store cannot put udhaar on another store's customer.
    refused = sell(keeper, shop[0], shop[1], 1, customer_id=theirs["id"],
                   payments=[{"method": "credit", "amount": "250"}])
    assert refused.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 0


def test_a_split_sale_puts_the_credit_part_on_the_khata(keeper, shop):
    store, rice, soap = shop
    customer = new_customer(keeper, store, phone="03001234567")
    response = keeper.post("/api/v1/sales", json={
        "store_id": store.id, "customer_id": customer["id"],
        "lines": [{"product_id": rice.id, "quantity": 2}, {"product_id": soap.id, "quantity": 5}],
        "payments": [{"method": "cash", "amount": "400"}, {"method": "credit", "amount": "400"}]})
    assert response.status_code == 201, response.json
    sale = response.json["sale"]
    assert sale["total"] == "800.00" and sale["customer_id"] == customer["id"]
    assert sale["payments"] == [{"method": "cash", "amount": "400.00"},
                                {"method": "credit", "amount": "400.00"}]
    assert sale["customer_balance"] == "400.00"
    assert keeper.get(f"/api/v1/sales/{sale['id']}").json["sale"]["payments"] == sale["payments"]
    ledger_page = keeper.get(f"/api/v1/customers/{customer['id']}/ledger").json
    assert [(e["kind"], e["amount"], e["balance_after"], e["sale_id"])
            for e in ledger_page["items"]] == [("sale", "400.00", "400.00", sale["id"])]
    # A plain cash sale: one cash payment of the total, no khata entry.
    cash = sell(keeper, store, soap, 1).json["sale"]
    assert cash["payments"] == [{"method": "cash", "amount": "60.00"}]
    assert cash["customer_id"] is None
    assert_khata_consistent()


@pytest.mark.parametrize("extra, status, field", [
    ({"payments": [{"method": "cash", "amount": "100"}]}, 422, "payments"),
    ({"payments": [{"method": "cash", "amount": "100"}, {"method": "card", "amount": "200"}]},
     422, "payments"),
    ({"payments": [{"method": "credit", "amount": "250"}]}, 422, "customer_id"),
    ({"payments": [{"method": "cheque", "amount": "250"}]}, 422, "payments.0.method"),
])
def test_payments_that_do_not_fit_write_nothing(keeper, shop, extra, status, field):
    store, rice, _soap = shop
    response = sell(keeper, store, rice, 1, **extra)
    assert response.status_code == status, response.json
    assert field in response.json["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 0
    assert db.session.scalar(select(func.count()).select_from(StockMovement)
                             .where(StockMovement.type == "sale")) == 0


def test_the_credit_limit_refuses_the_whole_sale(keeper, shop):
    store, rice, _soap = shop
    customer = new_customer(keeper, store, credit_limit="600")
    first = sell(keeper, store, rice, 2, customer_id=customer["id"],
                 payments=[{"method": "credit", "amount": "500"}])
    assert first.status_code == 201
    over = sell(keeper, store, rice, 1, customer_id=customer["id"],
                payments=[{"method": "credit", "amount": "250"}])
    assert over.status_code == 409 and over.json["error"]["code"] == "credit_limit_exceeded"
    assert over.json["error"]["available"] == "100.00"
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 1
    assert db.session.get(Customer, customer["id"]).balance == Decimal("500.00")
    # Up to the limit exactly is fine.
    split = sell(keeper, store, rice, 1, customer_id=customer["id"],
                 payments=[{"method": "cash", "amount": "150"},
                           {"method": "credit", "amount": "100"}])
    assert split.status_code == 201 and split.json["sale"]["customer_balance"] == "600.00"
    assert_khata_consistent()


def test_payments_reminder_and_idempotency(keeper, shop):
    store, rice, _soap = shop
    customer = new_customer(keeper, store, phone="0300 1234567", name="Asif")
    sell(keeper, store, rice, 5, customer_id=customer["id"],
         payments=[{"method": "credit", "amount": "1250"}])
    path = f"/api/v1/customers/{customer['id']}/payments"
    headers = {"Idempotency-Key": "pay-1"}
    paid = keeper.post(path, json={"amount": "500", "method": "wallet"}, headers=headers)
    assert paid.status_code == 201, paid.json
    assert (paid.json["entry"]["kind"], paid.json["entry"]["amount"],
            paid.json["entry"]["balance_after"], paid.json["entry"]["method"]) == \
        ("payment", "-500.00", "750.00", "wallet")
    assert paid.json["customer"]["balance"] == "750.00"
    replay = keeper.post(path, json={"amount": "500", "method": "wallet"}, headers=headers)
    assert replay.status_code == 201 and replay.json == paid.json
    assert replay.headers["Idempotent-Replayed"] == "true"
    other = keeper.post(path, json={"amount": "400", "method": "wallet"}, headers=headers)
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    too_much = keeper.post(path, json={"amount": "751", "method": "cash"})
    assert too_much.status_code == 422 and "amount" in too_much.json["error"]["fields"]
    assert keeper.post(path, json={"amount": "0", "method": "cash"}).status_code == 422
    assert keeper.post(path, json={"amount": "5", "method": "credit"}).status_code == 422

    reminder = keeper.get(f"/api/v1/customers/{customer['id']}/reminder").json
    assert "750" in reminder["text"] and "Asif" in reminder["text"]
    assert "آپ" in reminder["text"]  # Urdu by default
    assert not any("\u06f0" <= ch <= "\u06f9" for ch in reminder["text"])  # Western digits
    assert reminder["whatsapp_url"].startswith("https://wa.me/923001234567?text=")
    assert unquote(reminder["whatsapp_url"].split("text=")[1]) == reminder["text"]
    keeper.patch(f"/api/v1/customers/{customer['id']}", json={"language": "en"})
    english = keeper.get(f"/api/v1/customers/{customer['id']}/reminder").json["text"]
    assert english.startswith("Assalam-o-Alaikum Asif") and "Rs 750" in english
    events = db.session.scalars(select(AuditLog.action)).all()
    assert events.count("customer.payment") == 1 and "customer.create" in events
    assert_khata_consistent()


def test_void_and_returns_of_a_credit_sale(keeper, shop):
    store, rice, soap = shop
    customer = new_customer(keeper, store)
    sale = keeper.post("/api/v1/sales", json={
        "store_id": store.id, "customer_id": customer["id"],
        "lines": [{"product_id": rice.id, "quantity": 4}, {"product_id": soap.id, "quantity": 5}],
        "payments": [{"method": "cash", "amount": "700"},
                     {"method": "credit", "amount": "600"}]}).json["sale"]
    # A return of 2 rice (500) comes off the khata first: 600 → 100.
    returned = keeper.post(f"/api/v1/sales/{sale['id']}/returns",
                           json={"lines": [{"product_id": rice.id, "quantity": 2}]})
    assert returned.status_code == 201, returned.json
    assert (returned.json["return"]["credit"], returned.json["return"]["cash_back"]) == \
        ("500.00", "0.00")
    # The next return (250) takes the last 100 off the khata, 150 back in cash.
    second = keeper.post(f"/api/v1/sales/{sale['id']}/returns",
                         json={"lines": [{"product_id": rice.id, "quantity": 1}]}).json
    assert (second["return"]["credit"], second["return"]["cash_back"]) == ("100.00", "150.00")
    voided = keeper.post(f"/api/v1/sales/{sale['id']}/void", json={})
    assert voided.status_code == 200
    assert "credit_reversed" not in voided.json["sale"]  # nothing was left on credit
    assert db.session.get(Customer, customer["id"]).balance == Decimal("0.00")
    kinds = [e["kind"] for e in keeper.get(
        f"/api/v1/customers/{customer['id']}/ledger").json["items"]]
    assert kinds == ["return", "return", "sale"]
    # A fresh credit sale voided at once: its whole credit comes off.
    other = sell(keeper, store, rice, 2, customer_id=customer["id"],
                 payments=[{"method": "cash", "amount": "100"},
                           {"method": "credit", "amount": "400"}]).json["sale"]
    voided = keeper.post(f"/api/v1/sales/{other['id']}/void", json={}).json["sale"]
    assert voided["credit_reversed"] == "400.00"
    assert db.session.get(Customer, customer["id"]).balance == Decimal("0.00")
    assert_khata_consistent()


def _receive(api, store, supplier, product, quantity, cost):
    order = api.post("/api/v1/purchase-orders", json={
        "store_id": store.id, "supplier_id": supplier.id,
        "lines": [{"product_id": product.id, "packs": quantity, "unit_cost": cost}]}).json
    response = api.post(f"/api/v1/purchase-orders/{order['id']}/receipts", json={
        "lines": [{"product_id": product.id, "quantity": quantity, "unit_cost": cost}]})
    assert response.status_code == 201, response.json
    return response.json


def test_supplier_dues_from_receipts_and_payments(app, shop):
    store, rice, _soap = shop
    supplier = make_supplier(name="Al-Noor Distributors")
    manager = api_as(app, "manager")
    receipt = _receive(manager, store, supplier, rice, 10, "180.50")
    assert receipt["payable"] == {"amount": "1805.00", "balance": "1805.00"}
    _receive(manager, store, supplier, rice, 4, "200")
    path = f"/api/v1/suppliers/{supplier.id}"
    paid = manager.post(f"{path}/payments", json={"store_id": store.id, "amount": "1000",
                                                  "method": "cash"},
                        headers={"Idempotency-Key": "sup-1"})
    assert paid.status_code == 201, paid.json
    assert paid.json["balance"] == "1605.00"
    assert manager.post(f"{path}/payments", json={"store_id": store.id, "amount": "1000",
                                                  "method": "cash"},
                        headers={"Idempotency-Key": "sup-1"}).json == paid.json
    over = manager.post(f"{path}/payments", json={"store_id": store.id, "amount": "1605.01",
                                                  "method": "cash"})
    assert over.status_code == 422 and over.json["error"]["code"] == "payment_exceeds_balance"
    book = manager.get(f"{path}/ledger?store_id={store.id}").json
    assert book["balance"] == "1605.00"
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in book["items"]] == [
        ("payment", "-1000.00", "1605.00"), ("receipt", "800.00", "2605.00"),
        ("receipt", "1805.00", "1805.00")]
    rows, total = payables.owed(manager.user)
    assert total == Decimal("1605.00") and rows[0]["supplier_name"] == "Al-Noor Distributors"
    assert payables.balances_agree() == []
    # A shopkeeper of another store sees neither that store's account nor pays from it.
    stranger = api_as(app, "shopkeeper", stores=[make_store()])
    assert stranger.get(f"{path}/ledger?store_id={store.id}").status_code == 404
    assert stranger.post(f"{path}/payments", json={"store_id": store.id, "amount": "1",
                                                   "method": "cash"}).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(SupplierEntry)) == 3


def test_the_daily_closing(app, keeper, shop):
    store, rice, soap = shop
    admin = api_as(app, "admin")
    admin.patch(f"/api/v1/stores/{store.id}", json={"opening_float": "1000"})
    supplier = make_supplier()
    _receive(admin, store, supplier, soap, 10, "40")
    customer = new_customer(keeper, store)
    sell(keeper, store, rice, 4)  # cash 1000
    sell(keeper, store, soap, 5, payments=[{"method": "card", "amount": "300"}])
    credit = sell(keeper, store, rice, 2, customer_id=customer["id"],
                  payments=[{"method": "wallet", "amount": "100"},
                            {"method": "credit", "amount": "400"}]).json["sale"]
    cash_sale = sell(keeper, store, soap, 2).json["sale"]  # cash 120, voided: 120 back
    keeper.post(f"/api/v1/sales/{cash_sale['id']}/void", json={})
    keeper.post(f"/api/v1/sales/{credit['id']}/returns",
                json={"lines": [{"product_id": rice.id, "quantity": 1}]})  # 250 off the khata
    keeper.post(f"/api/v1/customers/{customer['id']}/payments",
                json={"amount": "100", "method": "cash"})
    admin.post(f"/api/v1/suppliers/{supplier.id}/payments",
               json={"store_id": store.id, "amount": "300", "method": "cash"})
    path = f"/api/v1/stores/{store.id}/closings"
    response = keeper.post(path, json={"counted_cash": "1820",
                                       "notes": {"1000": 1, "500": 1, "100": 3, "coins": "20"}})
    assert response.status_code == 201, response.json
    closing_ = response.json["closing"]
    # 1000 float + 1120 cash sales − 120 paid back + 100 received − 300 to the supplier
    assert closing_["expected_cash"] == "1800.00"
    assert closing_["counted_cash"] == "1820.00" and closing_["difference"] == "20.00"
    assert closing_["sales_by_method"] == {"cash": "1000.00", "card": "300.00",
                                           "wallet": "100.00", "credit": "150.00"}
    assert closing_["customer_payments"] == {"cash": "100.00", "card": "0.00",
                                             "wallet": "0.00"}
    assert closing_["paid_to_suppliers"] == "300.00"
    assert closing_["notes"] == {"1000": 1, "500": 1, "100": 3, "coins": "20.00"}
    again = keeper.post(path, json={"counted_cash": "1800"})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_closed"
    listed = keeper.get(path).json
    assert [c["id"] for c in listed["items"]] == [closing_["id"]]
    mismatch = keeper.post(path, json={"counted_cash": "5", "notes": {"10": 1},
                                       "business_date": "2026-01-02"})
    assert mismatch.status_code == 422
    tomorrow = keeper.post(path, json={"counted_cash": "0", "business_date": (
        closing.parse_day(None) + timedelta(days=1)).isoformat()})
    assert tomorrow.status_code == 422
    stranger = api_as(app, "shopkeeper", stores=[make_store()])
    assert stranger.post(path, json={"counted_cash": "1"}).status_code == 404
    assert stranger.get(path).status_code == 404
    text = closing.summary_text(closing_, store.name, "en")
    assert "1,550" in text and "difference Rs 20" in text
    assert_khata_consistent()


def test_the_counters_customer_choice_is_the_list_in_its_order(app, keeper, shop):
    """picker_customers (the basket's udhaar choice) gives what list_customers gave it: the
    store's customers who owe most first, then by name, with only the fields it shows."""
    store = shop[0]
    other = make_store(name="Other Store")
    for name, phone, balance in (("Zahid", "03001112223", "0.00"), ("Asif", None, "0.00"),
                                 ("Bilal", "03004445556", "120.50"), ("Nadia", None, "7.25")):
        customer = khata.create_customer(ADMIN, None, store_id=store.id, name=name,
                                         phone=phone)
        db.session.execute(khata.CUSTOMERS.update().values(balance=Decimal(balance))
                           .where(khata.CUSTOMERS.c.id == customer.data["customer"]["id"]))
    khata.create_customer(ADMIN, None, store_id=other.id, name="Elsewhere")
    db.session.commit()
    listed = khata.list_customers(make_user("shopkeeper", [store]), store.id, per_page=200,
                                  count=False).items
    picked = khata.picker_customers(store.id)
    assert [c["name"] for c in picked] == ["Bilal", "Nadia", "Asif", "Zahid"]
    assert picked == [{key: c[key] for key in ("id", "name", "phone", "balance")}
                      for c in listed]
    assert khata.picker_customers(store.id, limit=2) == picked[:2]
