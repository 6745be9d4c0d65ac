"""Cartons and singles (issue 26, item 4; SPEC section 2 "Pack selling"): a product with a pack
size above 1 sells whole packs at its pack price; the ledger always counts the product's unit.

A carton of 12 biscuits at Rs 1,150 against Rs 100 each: one carton takes 12 off the shelf,
the receipt says "1 carton (12)" and Rs 1,150.00, and the day's report counts the same figure.
"""
import re
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote
from decimal import Decimal

import pytest
from flask import current_app
from sqlalchemy import func, select

from tests.api_client import api_as
from tests.factories import ADMIN, login, make_product, make_store, make_user
from webapp.extensions import db
from webapp.models import Sale, SaleLine, StockLevel, StockMovement
from webapp.services import basket, commands, ledger, reports
from webapp.services.errors import DomainError
from webapp.web.filters import pack_count


def _shop():
    store = make_store()
    biscuits = make_product(sku="BISKUT", name="Biscuits", unit="piece", sale_price="100.00",
                            cost="80.00", pack_size="12", pack_price="1150.00",
                            pack_name="carton")
    soap = make_product(sku="SOAP", name="Soap", unit="piece", sale_price="60.00",
                        pack_size="6")                      # a pack of 6, no pack price
    salt = make_product(sku="NAMAK", name="Salt", unit="piece", sale_price="40.00")  # no pack
    for product, quantity in ((biscuits, 30), (soap, 10), (salt, 10)):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity=quantity))
    return store, biscuits, soap, salt


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shop(request):
    """On PostgreSQL a sale line goes through the ledger's one-statement path: its summary row
    must carry the pack line's total too (the report counts it)."""
    request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    return _shop()


def level(store, product):
    db.session.expire_all()
    return db.session.get(StockLevel, (store.id, product.id)).quantity


def counts():
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Sale, SaleLine, StockMovement))


# --- the module -------------------------------------------------------------------------------

def test_a_pack_line_is_priced_once_from_the_pack_price_or_the_unit_price():
    carton = basket.Pack(Decimal(12), Decimal("1150.00"), "carton")
    priced = basket.price_line("p", Decimal(2), Decimal("100.00"), "piece", "lines.0", carton)
    assert (priced.quantity, priced.total, priced.packs) == (24, Decimal("2300.00"), 2)
    loose = basket.Pack(Decimal("2.5"), None)           # 2.5 kg bags at Rs 150.10 a kg
    priced = basket.price_line("p", Decimal(1), Decimal("150.10"), "kg", "lines.3", loose)
    assert (priced.quantity, priced.total) == (Decimal("2.5"), Decimal("375.25"))
    with pytest.raises(DomainError) as refused:
        basket.price_line("p", Decimal(1), Decimal("40.00"), "piece", "lines.1", None)
    assert refused.value.fields == {"lines.1.packs": refused.value.message}
    with pytest.raises(DomainError) as half:
        basket.parse_request_lines([{"product_id": 1, "packs": "1.5"}])
    assert list(half.value.fields) == ["lines.0.packs"]
    assert basket.pack_of({"pack_size": Decimal(1), "pack_price": None}) is None


def test_the_receipt_words_for_packs():
    assert pack_count("1", "carton", "12.000") == "1 carton (12)"
    assert pack_count("2", "carton", "24.000") == "2 cartons (12)"
    assert pack_count("1", None, "6.000") == "1 pack (6)"
    assert pack_count(None, "carton", "12") == ""


# --- the API ----------------------------------------------------------------------------------

def _keeper(store):
    return api_as(current_app._get_current_object(), "shopkeeper", stores=[store])


def test_one_carton_through_the_api_takes_12_and_charges_1150_as_the_report_counts(shop):
    store, biscuits, soap, _salt = shop
    keeper = _keeper(store)
    response = keeper.post("/api/v1/sales", json={"store_id": store.id, "lines": [
        {"product_id": biscuits.id, "packs": 1}, {"sku": "SOAP", "packs": "1"},
        {"sku": "NAMAK", "quantity": "2"}]})
    assert response.status_code == 201, response.get_json()
    sale = response.get_json()["sale"]
    assert [(line["quantity"], line["packs"], line["pack_name"], line["line_total"])
            for line in sale["lines"]] == [
        ("12.000", "1.000", "carton", "1150.00"),     # the pack price, not 12 × 100
        ("6.000", "1.000", None, "360.00"),           # no pack price: 6 × 60
        ("2.000", None, None, "80.00")]
    assert sale["total"] == "1590.00"
    assert (level(store, biscuits), level(store, soap)) == (18, 4)
    # The ledger took 12 units in one sale movement worth the receipt's figure.
    movement = db.session.scalars(select(StockMovement).where(
        StockMovement.id == sale["lines"][0]["movement_id"])).one()
    assert (movement.type, movement.delta) == ("sale", Decimal(-12))
    assert keeper.get(f"/api/v1/sales/{sale['id']}").get_json()["sale"] == \
        {**sale, "lines": [{**line, "level": None} for line in sale["lines"]]}
    report = keeper.get(f"/api/v1/reports/sales?store_id={store.id}").get_json()
    assert report["total"]["amount"] == sale["total"] == "1590.00"
    assert reports.sales_total(reports.sales_by_day([store.id], reports.date_range()))[
        "amount"] == Decimal("1590.00")


def test_a_pack_line_refused_names_lines_i_packs_and_writes_nothing(shop):
    store, biscuits, _soap, salt = shop
    keeper = _keeper(store)
    before = counts()
    for line in ({"product_id": biscuits.id, "packs": 1, "quantity": 12},
                 {"product_id": biscuits.id, "packs": 1, "amount": "100"},
                 {"product_id": salt.id, "packs": 1},
                 {"product_id": biscuits.id, "packs": "0.5"}):
        response = keeper.post("/api/v1/sales", json={"store_id": store.id, "lines": [
            {"sku": "SOAP", "quantity": 1}, line]})
        assert response.status_code == 422, (line, response.get_json())
        assert list(response.get_json()["error"]["fields"]) == ["lines.1.packs"], line
    overridden = keeper.post("/api/v1/sales", json={"store_id": store.id, "lines": [
        {"product_id": biscuits.id, "packs": 1, "unit_price": "90"}]})
    assert overridden.status_code == 422
    assert list(overridden.get_json()["error"]["fields"]) == ["lines.0.unit_price"]
    assert counts() == before and level(store, biscuits) == 30


def test_three_cartons_of_30_biscuits_is_409_insufficient_stock_and_nothing_written(shop):
    store, biscuits, soap, _salt = shop
    keeper = _keeper(store)
    before = counts()
    response = keeper.post("/api/v1/sales", json={"store_id": store.id, "lines": [
        {"sku": "SOAP", "quantity": 1}, {"product_id": biscuits.id, "packs": 3}]})
    assert response.status_code == 409, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_stock"
    assert [name for name in error["fields"] if name.startswith("lines.1")], error
    assert counts() == before
    assert (level(store, biscuits), level(store, soap)) == (30, 10)
    two = keeper.post("/api/v1/sales", json={"store_id": store.id, "lines": [
        {"product_id": biscuits.id, "packs": 2}]})
    assert two.status_code == 201 and level(store, biscuits) == 6


def test_a_manager_sets_the_pack_price_through_the_api(shop):
    store, _biscuits, _soap, salt = shop
    manager = api_as(current_app._get_current_object(), "manager")
    response = manager.patch(f"/api/v1/products/{salt.id}", json={
        "pack_size": "24", "pack_price": "900.00", "pack_name": "box"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["pack_size"], body["pack_price"], body["pack_name"]) == ("24.000", "900.00",
                                                                          "box")
    bad = manager.patch(f"/api/v1/products/{salt.id}", json={"pack_name": "crate"})
    assert bad.status_code == 422 and "pack_name" in bad.get_json()["error"]["fields"]
    sold = _keeper(store).post("/api/v1/sales", json={"store_id": store.id, "lines": [
        {"product_id": salt.id, "packs": 1}]})
    assert sold.status_code == 409   # 24 wanted, 10 on the shelf


# --- the pages --------------------------------------------------------------------------------

def test_a_manager_sets_the_pack_price_on_the_product_form(client, app):
    make_user("manager", username="malik")
    salt = make_product(sku="NAMAK", name="Salt", unit="piece", sale_price="40.00")
    login(client, "malik")
    form = client.get(f"/products/{salt.id}/edit").get_data(as_text=True)
    assert 'name="pack_price"' in form and 'name="pack_name"' in form
    data = {"sku": "NAMAK", "name": "Salt", "category": "Test", "unit": "piece",
            "sale_price": "40.00", "cost": "", "reorder_level": "0", "pack_size": "24",
            "pack_price": "900", "pack_name": "box", "preferred_supplier_id": ""}
    refused = client.post(f"/products/{salt.id}/edit", data={**data, "pack_price": "abc"})
    assert refused.status_code == 422
    assert client.post(f"/products/{salt.id}/edit", data=data).status_code in (302, 303)
    db.session.expire_all()
    assert (salt.pack_size, salt.pack_price, salt.pack_name) == (24, Decimal("900.00"), "box")
    cleared = client.post(f"/products/{salt.id}/edit", data={**data, "pack_price": "",
                                                              "pack_name": ""})
    assert cleared.status_code in (302, 303)
    db.session.expire_all()
    assert (salt.pack_price, salt.pack_name) == (None, None)


def test_the_counter_sells_a_carton_and_the_urdu_receipt_says_it(client, app):
    store, biscuits, _soap, salt = _shop()
    keeper = make_user("shopkeeper", [store], username="dukan")
    keeper.language = "ur"
    db.session.commit()
    login(client, "dukan")
    url = f"/stores/{store.id}/basket"
    client.post(f"{url}/add", data={"product_id": biscuits.id})
    client.post(f"{url}/add", data={"product_id": salt.id})
    html = client.get(url).get_data(as_text=True)
    assert 'name="packs"' in html and html.count('name="packs"') == 1   # salt has no pack
    part = client.post(f"{url}/lines/0", data={"packs": "1,5"}, headers={"HX-Request": "true"})
    assert part.status_code == 422
    html = client.post(f"{url}/lines/0", data={"packs": "١"},
                       headers={"HX-Request": "true"}).get_data(as_text=True)
    with client.session_transaction() as session:
        assert session["baskets"][str(store.id)]["lines"][0] == [biscuits.id, "p", "1"]
    assert "1,190 روپے" in html                         # 1,150 + 40
    key = re.search(r'name="key" value="([^"]+)"', html).group(1)
    response = client.post(f"{url}/complete", data={"key": key})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]
    sale = db.session.scalars(select(Sale)).one()
    assert sale.total == Decimal("1190.00") and level(store, biscuits) == 18
    receipt = client.get(f"/stores/{store.id}/sales/{sale.id}").get_data(as_text=True)
    assert "1 کارٹن (12)" in receipt and "1,150 روپے" in receipt
    share = unquote(re.search(r'href="https://wa.me/\?text=([^"]+)"', receipt).group(1))
    assert "1 کارٹن (12) = 1,150 روپے" in share


def test_the_offline_queue_hands_in_a_carton_as_the_phone_kept_it(client, app):
    store, biscuits, _soap, _salt = _shop()
    keeper = make_user("shopkeeper", [store], username="dukan")
    login(client, "dukan")
    response = client.post(f"/offline/stores/{store.id}/sales", json={
        "key": uuid.uuid4().hex, "user_id": keeper.id,
        "occurred_at": datetime.now(timezone.utc).isoformat(),
        "lines": [{"product_id": biscuits.id, "packs": "2"}]})   # basket.js requestLines
    assert response.status_code == 201, response.get_json()
    sale = response.get_json()["sale"]
    assert (sale["total"], sale["lines"][0]["quantity"], sale["lines"][0]["packs"]) == (
        "2300.00", "24.000", "2.000")
    assert level(store, biscuits) == 6
