"""Hostile input: every bad request gets a clear 4xx envelope and writes nothing."""
import json

import pytest
from sqlalchemy import func, select

from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store
from webapp.extensions import db
from webapp.models import (
    AuditLog,
    AuditOutbox,
    IdempotencyRecord,
    Product,
    StockMovement,
    Store,
)
from webapp.services import commands, ledger


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def world(app):
    store, product = make_store(), make_product(unit="kg")
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="stock_in", quantity=10))
    api = api_as(app, "admin")
    return api, store, product


def snapshot():
    # Audit events: outbox and log together (a request may drain the outbox in-process).
    return (count(StockMovement), count(AuditOutbox) + count(AuditLog), count(IdempotencyRecord),
            count(Product), count(Store))


def send_raw(api, path, text):
    return api.post(path, data=text, headers={"Content-Type": "application/json",
                                              "Idempotency-Key": "hostile"})


@pytest.mark.parametrize("quantity", [
    "1e309", "-1e309", "NaN", "Infinity", "-1", "0", "1.2345", '"1.2345"', '"0.0001"',
    "1000000000.001", "1" + "0" * 30, '"abc"', "true", "null", "[]", "{}", '"1; DROP TABLE '
    'stock_movements;--"', '"٣٫٣٣٣٣"', '"1,500"', '"1e2"', "1" * 5000,
])
def test_bad_quantities_are_refused_and_nothing_is_written(world, quantity):
    api, store, product = world
    before = snapshot()
    text = (f'{{"store_id": {store.id}, "product_id": {product.id}, "type": "sale", '
            f'"quantity": {quantity}}}')
    response = send_raw(api, "/api/v1/movements", text)
    assert 400 <= response.status_code < 500, response.json
    assert response.json["error"]["code"] in ("invalid", "bad_request")
    assert response.json["error"]["message"]
    assert snapshot() == before


@pytest.mark.parametrize("field, value", [
    ("store_id", "1"), ("store_id", 1.5), ("store_id", -1), ("store_id", 2**40),
    ("store_id", "1 OR 1=1"), ("store_id", None), ("store_id", True),
    ("product_id", [1]), ("product_id", {"id": 1}), ("type", "SALE"), ("type", "refund"),
    ("reason", "stolen"), ("note", "x" * 10_000), ("unit_price", "-5"),
    ("unit_price", "1.001"), ("occurred_at", "yesterday"), ("occurred_at", "2999-01-01"),
    ("occurred_at", 12), ("sku", "x" * 65), ("colour", "red"),
])
def test_bad_fields_are_422_with_the_field_named(world, field, value):
    api, store, product = world
    body = {"store_id": store.id, "product_id": product.id, "type": "sale", "quantity": "1"}
    body[field] = value
    before = snapshot()
    response = api.post("/api/v1/movements", json=body)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid"
    assert field in response.json["error"]["fields"] or \
        any(name.startswith(field) for name in response.json["error"]["fields"])
    assert snapshot() == before


@pytest.mark.parametrize("missing", ["store_id", "type", "quantity"])
def test_missing_fields_are_422(world, missing):
    api, store, product = world
    body = {"store_id": store.id, "product_id": product.id, "type": "sale", "quantity": "1"}
    del body[missing]
    response = api.post("/api/v1/movements", json=body)
    assert response.status_code == 422
    assert response.json["error"]["fields"][missing] == "Field required"


@pytest.mark.parametrize("text", ["[]", '"sale"', "12", "null", "{", "{'a': 1}", "\x00"])
def test_bodies_that_are_not_an_object_are_refused(world, text):
    api, _, _ = world
    before = snapshot()
    response = send_raw(api, "/api/v1/movements", text)
    assert response.status_code in (400, 422)
    assert snapshot() == before


def test_sql_looking_strings_are_just_text(world):
    api, store, _ = world
    before = snapshot()
    response = api.post("/api/v1/movements", json={
        "store_id": store.id, "sku": "' OR '1'='1'; DROP TABLE stock_levels; --",
        "type": "sale", "quantity": "1"})
    assert response.status_code == 404 and response.json["error"]["fields"] == {
        "sku": "Product not found"}
    found = api.get("/api/v1/products", query_string={"q": "%' OR 1=1 --"}).json
    assert found["total"] == 0
    assert snapshot() == before


def test_unicode_names_are_kept_and_huge_names_refused(world):
    api, _, _ = world
    urdu = api.post("/api/v1/products", json={"sku": "CHEENI-URDU", "name": "چینی (کھلی) 🍬",
                                              "unit": "kg", "sale_price": "150"})
    assert urdu.status_code == 201 and urdu.json["name"] == "چینی (کھلی) 🍬"
    before = snapshot()
    for body in ({"sku": "BIG", "name": "ن" * 10_000, "sale_price": "1"},
                 {"sku": "S" * 10_000, "name": "x", "sale_price": "1"},
                 {"sku": "NUL", "name": "a\x00b", "sale_price": "1"},
                 {"sku": "BIG2", "name": "x", "sale_price": 10**20},
                 {"sku": "BIG3", "name": "x", "sale_price": "9" * 400}):
        response = api.post("/api/v1/products", json=body)
        assert response.status_code == 422, (body["sku"][:10], response.json)
    assert snapshot() == before


def test_huge_counts_and_transfers_are_refused(world):
    api, store, product = world
    other = make_store()
    before = snapshot()
    too_many = {"counts": [{"product_id": product.id, "quantity": 1}] * 1001}
    assert api.post(f"/api/v1/stores/{store.id}/counts", json=too_many).status_code == 422
    nan = send_raw(api, "/api/v1/transfers", json.dumps({
        "from_store_id": store.id, "to_store_id": other.id, "product_id": product.id,
        "quantity": float("nan")}))
    assert nan.status_code == 422
    assert snapshot() == before
