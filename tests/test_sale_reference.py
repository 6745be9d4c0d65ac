"""A basket sold with no signal keeps the provisional receipt number the phone handed over
(issue 24, item 6): `sales.reference`, unique in its store, through every door (the offline
queue, the API), kept by a replay, shown on the receipt and its WhatsApp text, and found by the
sales page's search and the API's `reference` filter. (The phone's side: tests/js/receipt-number
and tests/test_offline_browser.py.)"""
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from tests.api_client import api_as
from tests.factories import ADMIN, PASSWORD, make_product, make_store, make_user
from webapp.extensions import db
from webapp.models import Sale, StockMovement, Store
from webapp.services import commands, ledger, sales
from webapp.services.errors import DomainError


def _world():
    store, other = make_store(code="LHR1"), make_store(code="KHI-0001")
    cheeni = make_product(sku="CHEENI", name="Cheeni", unit="kg", sale_price="150.00")
    chawal = make_product(sku="CHAWAL", name="Chawal", unit="kg", sale_price="250.00")
    for shop in (store, other):
        for product in (cheeni, chawal):
            ledger.record_movement(ADMIN, commands.Movement.parse(
                store_id=shop.id, product_id=product.id, type="stock_in", quantity=50))
    dukan = make_user("shopkeeper", [store, other], username="dukan", password=PASSWORD)
    return {"store": store.id, "other": other.id, "cheeni": cheeni.id, "chawal": chawal.id,
            "dukan": dukan.id}


@pytest.fixture
def world(app):
    return _world()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_world(request):
    """On both engines: the unique index is what refuses a second sale under one reference."""
    app = request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    return dict(_world(), client=app.test_client())


def counts():
    return (db.session.scalar(select(func.count()).select_from(Sale)),
            db.session.scalar(select(func.count()).select_from(StockMovement)))


def queued(world, reference="LHR1-A7KX-0042", **fields):
    body = {"key": uuid.uuid4().hex, "user_id": world["dukan"], "reference": reference,
            "lines": [{"product_id": world["cheeni"], "quantity": "2"},
                      {"product_id": world["chawal"], "quantity": "1"}],
            "occurred_at": datetime.now(timezone.utc).isoformat()}
    body.update(fields)
    return body


def logged_in(client):
    response = client.post("/login", data={"username": "dukan", "password": PASSWORD})
    assert response.status_code in (302, 303)
    return client


def send(client, world, body, store=None):
    return client.post(f"/offline/stores/{store or world['store']}/sales", json=body)


def test_a_queued_basket_lands_with_its_reference_and_a_replay_keeps_it(any_world):
    world, client = any_world, any_world["client"]
    logged_in(client)
    body = queued(world, reference="lhr1-a7kx-0042")
    first = send(client, world, body)
    assert first.status_code == 201, first.get_json()
    sale = first.get_json()["sale"]
    assert (sale["reference"], sale["total"], sale["number"]) == ("LHR1-A7KX-0042", "550.00", 1)
    before = counts()
    again = send(client, world, body)
    assert again.status_code == 201 and again.get_json()["replayed"] is True
    assert (again.get_json()["sale"]["id"], again.get_json()["sale"]["reference"]) == (
        sale["id"], "LHR1-A7KX-0042")
    assert counts() == before
    assert db.session.get(Sale, sale["id"]).reference == "LHR1-A7KX-0042"


def test_a_reference_is_one_sale_per_store(any_world):
    world, client = any_world, any_world["client"]
    logged_in(client)
    assert send(client, world, queued(world)).status_code == 201
    before = counts()
    # Another basket (another key) under the same number in the same store: refused, nothing
    # written, with a code the phone lists under "needs attention".
    twice = send(client, world, queued(world))
    assert twice.status_code == 409
    assert twice.get_json()["error"]["code"] == "duplicate_reference"
    assert "reference" in twice.get_json()["error"]["fields"]
    assert counts() == before
    # Another store may have the same text: unique per store.
    elsewhere = send(client, world, queued(world), store=world["other"])
    assert elsewhere.status_code == 201, elsewhere.get_json()
    # A basket sold with signal has none; any number of them.
    for _ in range(2):
        plain = sales.complete_sale(ADMIN, store_id=world["store"], lines=[
            {"product_id": world["cheeni"], "quantity": "1"}])
        assert plain.data["sale"]["reference"] is None


@pytest.mark.parametrize("reference", ["LHR1 A7 0042", "LHR1-A7\u200b-0042", "لاہور-1",
                                       "X" * 49])
def test_a_reference_outside_the_codes_alphabet_is_refused(world, reference):
    with pytest.raises(DomainError) as refused:
        sales.parse_sale(world["store"], [{"product_id": world["cheeni"], "quantity": "1"}],
                         reference=reference)
    assert (refused.value.code, list(refused.value.fields)) == ("invalid", ["reference"])


def test_the_pages_own_complete_then_its_queued_copy_lands_once(client, world):
    # The page posted Complete (no tap time, no reference), the reply was lost, and the phone
    # queued the basket with the same key, its tap time and a provisional number: the server
    # answers the page's sale (which has no reference) and writes nothing more.
    logged_in(client)
    client.post(f"/stores/{world['store']}/basket/add", data={"product_id": world["chawal"]})
    with client.session_transaction() as session:
        key = session["baskets"][str(world["store"])]["key"]
    assert client.post(f"/stores/{world['store']}/basket/complete",
                       data={"key": key}).status_code in (302, 303)
    before = counts()
    copy = send(client, world, queued(world, key=key, lines=[
        {"product_id": world["chawal"], "quantity": "1"}]))
    assert copy.status_code == 201, copy.get_json()
    assert copy.get_json()["replayed"] is True and copy.get_json()["sale"]["reference"] is None
    assert counts() == before


def test_the_receipt_whatsapp_and_sales_search_show_and_find_the_reference(client, world):
    logged_in(client)
    sale = send(client, world, queued(world)).get_json()["sale"]
    sales.complete_sale(ADMIN, store_id=world["store"], lines=[
        {"product_id": world["cheeni"], "quantity": "1"}])
    page = client.get(f"/stores/{world['store']}/sales/{sale['id']}").get_data(as_text=True)
    assert 'Ref <bdi dir="ltr" id="receipt-ref">LHR1-A7KX-0042</bdi>' in page
    share = page.split('href="https://wa.me/?text=')[1].split('"')[0]
    assert "Ref LHR1-A7KX-0042" in unquote(share.replace("&amp;", "&"))
    listing = f"/stores/{world['store']}/sales"
    for typed in ("LHR1-A7KX-0042", "lhr1-a7kx-0042", "A7KX-0042", " a7kx-0042 "):
        found = client.get(listing, query_string={"q": typed}).get_data(as_text=True)
        assert found.count("receipt-ref") == 0   # (the list, not a receipt)
        assert f"/sales/{sale['id']}\"" in found, typed
        assert found.count('class="row" href=') == 1, typed
    by_number = client.get(listing, query_string={"q": "#2"}).get_data(as_text=True)
    assert by_number.count('class="row" href=') == 1 and f"/sales/{sale['id']}\"" not in by_number
    none = client.get(listing, query_string={"q": "A7KX-9999"}).get_data(as_text=True)
    assert "No sale matches" in none and 'class="row" href=' not in none
    # In Urdu the reference sits isolated, left to right.
    client.post("/language", data={"lang": "ur"})
    urdu = client.get(f"/stores/{world['store']}/sales/{sale['id']}").get_data(as_text=True)
    assert '<bdi dir="ltr" id="receipt-ref">LHR1-A7KX-0042</bdi>' in urdu


def test_the_api_takes_returns_and_filters_by_reference(app, world):
    keeper = api_as(app, "shopkeeper", stores=[db.session.get(Store, world["store"])])
    body = {"store_id": world["store"], "reference": "LHR1-B2-0007",
            "lines": [{"product_id": world["cheeni"], "quantity": "1"}]}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    created = keeper.post("/api/v1/sales", json=body, headers=key)
    assert created.status_code == 201, created.json
    sale = created.json["sale"]
    assert sale["reference"] == "LHR1-B2-0007"
    replay = keeper.post("/api/v1/sales", json=body, headers=key)
    assert (replay.status_code, replay.json["sale"]["id"], replay.json["sale"]["reference"]) == (
        201, sale["id"], "LHR1-B2-0007")
    taken = keeper.post("/api/v1/sales", json=body)
    assert (taken.status_code, taken.json["error"]["code"]) == (409, "duplicate_reference")
    assert keeper.get(f"/api/v1/sales/{sale['id']}").json["sale"]["reference"] == "LHR1-B2-0007"
    listed = keeper.get("/api/v1/sales", query_string={"reference": "lhr1-b2-0007"}).json
    assert [(s["id"], s["reference"]) for s in listed["items"]] == [(sale["id"], "LHR1-B2-0007")]
    plain = keeper.post("/api/v1/sales", json={k: v for k, v in body.items() if k != "reference"})
    assert plain.status_code == 201 and plain.json["sale"]["reference"] is None
    bad = keeper.post("/api/v1/sales", json=dict(body, reference="LHR1 B2"))
    assert bad.status_code == 422 and "reference" in bad.json["error"]["fields"]
