"""Udhaar with no signal, the server side: a queued credit sale, a queued customer payment and a
customer added on the phone each land exactly once, and the phone's list of customers is kept
fresh by a conditional request. (The browser side: test_khata_offline_browser.py.)"""
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import ADMIN, make_product, make_store, make_user
from tests.test_khata import assert_khata_consistent
from webapp.extensions import db
from webapp.models import Customer, CustomerEntry, Sale
from webapp.services import commands, khata, ledger
from webapp.services.errors import DomainError
from webapp.services.policy import Principal

PASSWORD = "password-123"


@pytest.fixture
def world(app):
    store, other = make_store(code="KHI-0001"), make_store(code="LHE-0001")
    chawal = make_product(sku="CHAWAL", name="Chawal", unit="kg", sale_price="250.00")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=chawal.id, type="stock_in", quantity=50))
    users = {"dukan": make_user("shopkeeper", [store], username="dukan")}
    admin = Principal(id=0, role="admin", store_ids=frozenset())
    asif = khata.create_customer(ADMIN, admin, store_id=store.id, name="Asif",
                                 phone="0300 1234567", credit_limit="1000").data["customer"]
    elsewhere = khata.create_customer(ADMIN, admin, store_id=other.id,
                                      name="Bilal").data["customer"]
    return {"store": store.id, "other": other.id, "chawal": chawal.id, "asif": asif["id"],
            "elsewhere": elsewhere["id"], "users": {k: u.id for k, u in users.items()}}


def login(client, username="dukan"):
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (302, 303)


def queued(world, **fields):
    body = {"key": uuid.uuid4().hex, "user_id": world["users"]["dukan"],
            "occurred_at": datetime.now(timezone.utc).isoformat()}
    body.update(fields)
    return body


def sale_item(world, quantity="2", **fields):
    return queued(world, lines=[{"product_id": world["chawal"], "quantity": quantity}],
                  **fields)


def post(client, world, kind, body):
    return client.post(f"/offline/stores/{world['store']}/{kind}", json=body)


def balance(customer_id):
    db.session.expire_all()
    return db.session.get(Customer, customer_id).balance


def counts():
    return (db.session.scalar(select(func.count()).select_from(Sale)),
            db.session.scalar(select(func.count()).select_from(CustomerEntry)),
            db.session.scalar(select(func.count()).select_from(Customer)))


def test_a_queued_credit_sale_is_priced_when_it_lands_and_replays_once(client, world):
    login(client)
    body = sale_item(world, pay="credit", customer_id=world["asif"], paid_now="100")
    first = post(client, world, "sales", body)
    assert first.status_code == 201, first.get_json()
    sale = first.get_json()["sale"]
    # The phone sent no bill: Rs 500, of which Rs 100 now in cash and the rest on the khata.
    assert sale["total"] == "500.00" and sale["customer_id"] == world["asif"]
    assert sale["payments"] == [{"method": "cash", "amount": "100.00"},
                                {"method": "credit", "amount": "400.00"}]
    assert sale["customer_balance"] == "400.00"
    before = counts()
    again = post(client, world, "sales", body)
    assert again.status_code == 201 and again.get_json()["replayed"] is True
    assert again.get_json()["sale"]["id"] == sale["id"]
    assert counts() == before and balance(world["asif"]) == Decimal("400.00")
    assert_khata_consistent()


@pytest.mark.parametrize("pay", ["card", "wallet"])
def test_a_queued_card_or_wallet_sale_pays_the_whole_bill(client, world, pay):
    login(client)
    response = post(client, world, "sales", sale_item(world, quantity="1", pay=pay))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["sale"]["payments"] == [{"method": pay, "amount": "250.00"}]


def test_a_queued_credit_sale_over_the_limit_is_refused_and_writes_nothing(client, world):
    login(client)
    before = counts()
    response = post(client, world, "sales", sale_item(world, quantity="5", pay="credit",
                                                      customer_id=world["asif"]))
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "credit_limit_exceeded"
    assert error["message"] == "Asif may owe at most Rs 1,000; Rs 1,000 is left on the khata."
    assert counts() == before and balance(world["asif"]) == 0


@pytest.mark.parametrize("fields, code, field", [
    ({"pay": "credit"}, "customer_required", "customer_id"),
    ({"pay": "credit", "customer_id": "x"}, "invalid", "customer_id"),
    ({"pay": "credit", "paid_now": "900", "new_customer": {"name": "Dawood", "key": "k1"}},
     "invalid", "paid_now"),
    ({"pay": "cheque"}, "invalid", "pay"),
    ({"pay": "credit", "customer_id": "elsewhere"}, "not_found", "customer_id"),
])
def test_a_queued_udhaar_without_a_good_customer_or_split_is_refused(client, world, fields, code,
                                                                       field):
    login(client)
    if fields.get("customer_id") == "elsewhere":
        fields = dict(fields, customer_id=world["elsewhere"])
    before = counts()
    response = post(client, world, "sales", sale_item(world, **fields))
    assert response.status_code in (404, 409, 422)
    error = response.get_json()["error"]
    assert (error["code"], list(error["fields"])) == (code, [field])
    # (A customer added on the phone is kept even when its basket is refused: sent again, the
    # basket finds it by its key.)
    assert counts()[:2] == before[:2]


def test_a_customer_added_on_the_phone_is_created_once_before_its_sale(client, world):
    login(client)
    new = {"name": "Dawood", "phone": "0301 7654321", "key": uuid.uuid4().hex}
    body = sale_item(world, quantity="3", pay="credit", new_customer=new)
    first = post(client, world, "sales", body)
    assert first.status_code == 201, first.get_json()
    sale = first.get_json()["sale"]
    dawood = db.session.execute(select(Customer).where(Customer.name == "Dawood")).scalar_one()
    assert dawood.phone == "+923017654321" and sale["customer_id"] == dawood.id
    assert sale["customer_balance"] == "750.00"
    before = counts()
    assert post(client, world, "sales", body).get_json()["replayed"] is True
    # The basket refused and sent again (a new key, the same customer's key): one Dawood.
    again = sale_item(world, quantity="1", pay="credit", new_customer=new)
    assert post(client, world, "sales", again).status_code == 201
    assert counts()[2] == before[2]
    assert balance(dawood.id) == Decimal("1000.00")
    assert_khata_consistent()


def test_a_queued_payment_lands_once_and_is_refused_past_the_balance(client, world):
    login(client)
    assert post(client, world, "sales", sale_item(world, pay="credit",
                                                 customer_id=world["asif"])).status_code == 201
    body = queued(world, customer_id=world["asif"], amount="200", method="wallet")
    first = post(client, world, "payments", body)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["entry"]["amount"] == "-200.00"
    assert first.get_json()["entry"]["method"] == "wallet"
    assert post(client, world, "payments", body).get_json()["replayed"] is True
    assert balance(world["asif"]) == Decimal("300.00")
    too_much = post(client, world, "payments", queued(world, customer_id=world["asif"],
                                                      amount="301", method="cash"))
    assert too_much.status_code == 422
    assert too_much.get_json()["error"]["code"] == "payment_exceeds_balance"
    assert too_much.get_json()["error"]["message"] == \
        "This customer owes Rs 300; take no more than that."
    # Another store's customer through this store's door: not found, nothing written.
    other = post(client, world, "payments", queued(world, customer_id=world["elsewhere"],
                                                   amount="1", method="cash"))
    assert other.status_code == 404
    assert balance(world["asif"]) == Decimal("300.00")
    assert_khata_consistent()


def test_payments_need_a_key_and_a_tap_time_like_every_queued_item(client, world):
    login(client)
    for missing in ("key", "occurred_at"):
        body = queued(world, customer_id=world["asif"], amount="1", method="cash")
        del body[missing]
        response = post(client, world, "payments", body)
        assert response.status_code == 422
        assert list(response.get_json()["error"]["fields"]) == [missing]


def test_the_customers_list_is_kept_with_an_etag_until_a_balance_moves(client, world):
    login(client)
    url = f"/offline/stores/{world['store']}/customers"
    first = client.get(url)
    assert first.status_code == 200
    assert first.get_json()["customers"] == [{
        "id": world["asif"], "name": "Asif", "phone": "+923001234567", "balance": "0.00",
        "credit_limit": "1000.00", "balance_text": "Rs 0"}]
    tag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    assert post(client, world, "sales", sale_item(world, pay="credit",
                                                 customer_id=world["asif"])).status_code == 201
    fresh = client.get(url, headers={"If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != tag
    assert fresh.get_json()["customers"][0]["balance"] == "500.00"
    # Another store's customers are not this shopkeeper's to keep.
    assert client.get(f"/offline/stores/{world['other']}/customers").status_code == 404


def test_the_phone_cannot_put_the_rest_on_credit_through_the_api(app, world):
    """`rest of the bill` is the offline door's own: the API's payments need amounts."""
    from webapp.services import sales
    with pytest.raises(DomainError) as refused:
        sales.parse_sale(world["store"], [{"product_id": world["chawal"], "quantity": 1}],
                         customer_id=world["asif"], payments=[{"method": "credit"}])
    assert refused.value.fields == {"payments.0.amount": refused.value.fields[
        "payments.0.amount"]}


def test_an_udhaar_complete_whose_reply_was_lost_lands_once_from_the_queue(client, world):
    """The page posted (new customer, Rs 100 now) and lost the reply; the phone queued the same
    Complete with the same key and a tap time: one customer, one sale, the first result."""
    login(client)
    for _ in range(2):
        assert client.post(f"/stores/{world['store']}/basket/add",
                           data={"product_id": world["chawal"]}).status_code == 303
    key = uuid.uuid4().hex
    page = client.post(f"/stores/{world['store']}/basket/complete", data={
        "key": key, "pay": "credit", "new_name": "Dawood", "new_phone": "0301 7654321",
        "paid_now": "100"})
    assert page.status_code == 303, page.get_data(as_text=True)
    before = counts()
    body = queued(world, key=key, lines=[{"product_id": world["chawal"], "quantity": "2"}],
                  pay="credit", paid_now="100",
                  new_customer={"name": "Dawood", "phone": "0301 7654321",
                                "key": f"{key}-customer"})
    replay = post(client, world, "sales", body)
    assert replay.status_code == 201, replay.get_json()
    assert replay.get_json()["replayed"] is True
    assert replay.get_json()["sale"]["payments"] == [{"method": "cash", "amount": "100.00"},
                                                     {"method": "credit", "amount": "400.00"}]
    assert counts() == before
    assert_khata_consistent()
