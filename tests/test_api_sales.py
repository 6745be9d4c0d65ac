"""Contract tests: /sales (baskets), /sales/<id>, void, returns; price overrides on /movements."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store
from webapp.extensions import db
from webapp.models import Sale, StockLevel, StockMovement
from webapp.services import commands, ledger


def level(store, product):
    return db.session.get(StockLevel, (store.id, product.id)).quantity


@pytest.fixture
def shop(app):
    store = make_store()
    sugar = make_product(unit="kg", sku="CHEENI", sale_price="150.00")
    soap = make_product(unit="piece", sku="SOAP", sale_price="60.00")
    for product in (sugar, soap):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id,
            type="stock_in", quantity=10))
    return store, sugar, soap


@pytest.fixture
def keeper(app, shop):
    return api_as(app, "shopkeeper", stores=[shop[0]])


def basket(store, sugar, soap, **extra):
    return {"store_id": store.id, "lines": [
        {"sku": "cheeni", "amount": "300"}, {"product_id": soap.id, "quantity": "2"}], **extra}


def test_complete_read_list_and_void_a_basket(keeper, shop):
    store, sugar, soap = shop
    response = keeper.post("/api/v1/sales", json=basket(store, sugar, soap))
    assert response.status_code == 201, response.json
    sale = response.json["sale"]
    assert (sale["number"], sale["store_id"], sale["status"], sale["total"]) == \
        (1, store.id, "completed", "420.00")
    assert [(line["product_id"], line["quantity"], line["unit_price"], line["line_total"],
             line["level"]["quantity"]) for line in sale["lines"]] == [
        (sugar.id, "2.000", "150.00", "300.00", "8.000"),
        (soap.id, "2.000", "60.00", "120.00", "8.000")]
    movement_ids = {line["movement_id"] for line in sale["lines"]}
    assert movement_ids == set(db.session.scalars(select(StockMovement.id).where(
        StockMovement.type == "sale")))
    read = keeper.get(f"/api/v1/sales/{sale['id']}")
    assert read.status_code == 200 and read.json["sale"]["total"] == "420.00"
    listed = keeper.get(f"/api/v1/sales?store_id={store.id}&from=2000-01-01")
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json["items"]] == [sale["id"]]
    assert listed.json["total"] == 1
    voided = keeper.post(f"/api/v1/sales/{sale['id']}/void", json={})
    assert voided.status_code == 200 and voided.json["sale"]["status"] == "voided"
    assert level(store, sugar) == Decimal(10) and level(store, soap) == Decimal(10)
    again = keeper.post(f"/api/v1/sales/{sale['id']}/void", json={})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_voided"


def test_a_short_line_is_409_with_a_field_per_line_and_nothing_written(keeper, shop):
    store, sugar, soap = shop
    response = keeper.post("/api/v1/sales", json={"store_id": store.id, "lines": [
        {"product_id": sugar.id, "quantity": "1"},
        {"product_id": soap.id, "quantity": "11"}]})
    assert response.status_code == 409
    error = response.json["error"]
    assert error["code"] == "insufficient_stock"
    assert set(error["fields"]) == {"lines.1.quantity"}
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 0
    assert level(store, sugar) == Decimal(10)


def test_idempotent_replay_of_a_basket(keeper, shop):
    store, sugar, soap = shop
    headers = {"Idempotency-Key": "pos-7-basket-1"}
    first = keeper.post("/api/v1/sales", json=basket(store, sugar, soap), headers=headers)
    again = keeper.post("/api/v1/sales", json=basket(store, sugar, soap), headers=headers)
    assert again.status_code == 201 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    other = keeper.post("/api/v1/sales", json=basket(store, sugar, soap, note="x"),
                        headers=headers)
    assert other.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 1


def test_returns_are_201_and_more_than_returnable_is_422(keeper, shop):
    store, sugar, soap = shop
    sale = keeper.post("/api/v1/sales", json=basket(store, sugar, soap)).json["sale"]
    url = f"/api/v1/sales/{sale['id']}/returns"
    done = keeper.post(url, json={"lines": [{"product_id": soap.id, "quantity": "1"}]})
    assert done.status_code == 201, done.json
    assert done.json["return"]["amount"] == "60.00"
    assert done.json["return"]["lines"][0]["original_movement_id"] == \
        sale["lines"][1]["movement_id"]
    assert done.json["sale"]["lines"][1]["returned_quantity"] == "1.000"
    too_many = keeper.post(url, json={"lines": [{"product_id": soap.id, "quantity": "2"}]})
    assert too_many.status_code == 422
    assert too_many.json["error"]["fields"] == {"lines.0.quantity": "Only 1 can still be returned."}
    assert level(store, soap) == Decimal(9)


def test_shopkeepers_of_other_stores_see_404_and_bad_bodies_are_422(app, keeper, shop):
    store, sugar, soap = shop
    sale = keeper.post("/api/v1/sales", json=basket(store, sugar, soap)).json["sale"]
    stranger = api_as(app, "shopkeeper", stores=[make_store()])
    assert stranger.get(f"/api/v1/sales/{sale['id']}").status_code == 404
    assert stranger.post(f"/api/v1/sales/{sale['id']}/void", json={}).status_code == 404
    assert stranger.post("/api/v1/sales", json=basket(store, sugar, soap)).status_code == 404
    assert keeper.get("/api/v1/sales/999999").status_code == 404
    bad = keeper.post("/api/v1/sales", json={"store_id": store.id, "lines": [
        {"product_id": sugar.id, "quantity": "1", "amount": "5"}]})
    assert bad.status_code == 422 and "lines.0" in bad.json["error"]["fields"]
    empty = keeper.post("/api/v1/sales", json={"store_id": store.id, "lines": []})
    assert empty.status_code == 422


def test_void_window_and_price_overrides_for_shopkeepers(app, keeper, shop):
    store, sugar, soap = shop
    cheap = keeper.post("/api/v1/sales", json={"store_id": store.id, "lines": [
        {"product_id": sugar.id, "quantity": "1", "unit_price": "120"}]})
    assert cheap.status_code == 403
    assert cheap.json["error"]["code"] == "discount_not_allowed"
    assert "lines.0.unit_price" in cheap.json["error"]["fields"]
    single = keeper.post("/api/v1/movements", json={
        "store_id": store.id, "product_id": sugar.id, "type": "sale", "quantity": "1",
        "unit_price": "120"})
    assert single.status_code == 403 and "unit_price" in single.json["error"]["fields"]
    manager = api_as(app, "manager")
    assert manager.post("/api/v1/movements", json={
        "store_id": store.id, "product_id": sugar.id, "type": "sale", "quantity": "1",
        "unit_price": "120"}).status_code == 201
    sale = keeper.post("/api/v1/sales", json=basket(store, sugar, soap)).json["sale"]
    row = db.session.get(Sale, sale["id"])
    row.created_at = row.created_at.replace(year=row.created_at.year - 1)
    db.session.commit()
    late = keeper.post(f"/api/v1/sales/{sale['id']}/void", json={})
    assert late.status_code == 403 and late.json["error"]["code"] == "void_window_passed"
    assert manager.post(f"/api/v1/sales/{sale['id']}/void", json={}).status_code == 200


def test_openapi_documents_the_sales_endpoints(keeper):
    paths = keeper.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/v1/sales", "/api/v1/sales/{sale_id}", "/api/v1/sales/{sale_id}/void",
            "/api/v1/sales/{sale_id}/returns"} <= set(paths)
