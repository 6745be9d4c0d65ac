"""A write whose body has no required field takes no body: `curl -X POST .../void` with a token
voids, and a PATCH with nothing in it changes nothing. Writes with required fields still ask
for JSON."""
import pytest

from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store
from webapp.services import commands, ledger


@pytest.fixture
def sale(app):
    store = make_store()
    soap = make_product(sku="SOAP", sale_price="60.00")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=soap.id, type="stock_in", quantity=10))
    api = api_as(app, "manager")
    made = api.post("/api/v1/sales", json={"store_id": store.id,
                                           "lines": [{"product_id": soap.id, "quantity": "2"}]})
    assert made.status_code == 201
    return api, made.json["sale"], store, soap


@pytest.mark.parametrize("send", [
    pytest.param({}, id="no body, no Content-Type"),
    pytest.param({"data": b""}, id="empty body"),
    pytest.param({"data": b"", "content_type": "application/json"}, id="empty JSON body"),
    pytest.param({"data": b"", "content_type": "text/plain"}, id="empty body, other type"),
    pytest.param({"json": {}}, id="{}"),
])
def test_a_void_takes_no_body(sale, send):
    api, made, store, soap = sale
    response = api.client.post(f"/api/v1/sales/{made['id']}/void",
                               headers=api._headers({}), **send)
    assert response.status_code == 200, response.json
    assert response.json["sale"]["status"] == "voided"
    stock = api.get(f"/api/v1/stores/{store.id}/stock/{soap.id}")
    assert stock.json["quantity"] == "10.000"


def test_a_bodiless_void_is_idempotent_by_its_key(sale):
    api, made, _, _ = sale
    key = {"Idempotency-Key": "void-once-1"}
    first = api.client.post(f"/api/v1/sales/{made['id']}/void", headers=api._headers(key))
    again = api.client.post(f"/api/v1/sales/{made['id']}/void", headers=api._headers(key))
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_a_patch_without_a_body_changes_nothing(sale):
    api, _, store, soap = sale
    for path in (f"/api/v1/stores/{store.id}", f"/api/v1/products/{soap.id}"):
        before = api.get(path).json
        response = api.client.patch(path, headers=api._headers({}))
        assert response.status_code == 200, response.json
        assert {k: v for k, v in response.json.items() if k != "updated_at"} == \
            {k: v for k, v in before.items() if k != "updated_at"}


def test_a_write_with_required_fields_still_asks_for_json(sale):
    api, made, store, _ = sale
    for path in (f"/api/v1/sales/{made['id']}/returns", "/api/v1/sales"):
        response = api.client.post(path, headers=api._headers({}))
        assert response.status_code == 415, path
        assert response.json["error"]["code"] == "unsupported_media_type"


def test_a_body_that_is_there_must_still_be_json(sale):
    api, made, _, _ = sale
    path = f"/api/v1/sales/{made['id']}/void"
    other = api.client.post(path, data=b"void please", content_type="text/plain",
                            headers=api._headers({}))
    assert other.status_code == 415
    broken = api.client.post(path, data=b"{", content_type="application/json",
                             headers=api._headers({}))
    assert broken.status_code == 400
    unknown = api.post(path, json={"reason": "typo"})
    assert unknown.status_code == 422 and "reason" in unknown.json["error"]["fields"]


def test_the_document_marks_exactly_those_bodies_optional(app):
    document = app.test_client().get("/api/v1/openapi.json").json
    optional = {(method, path) for path, operations in document["paths"].items()
                for method, operation in operations.items()
                if operation.get("requestBody", {}).get("required") is False}
    assert optional == {("post", "/api/v1/sales/{sale_id}/void"),
                        ("patch", "/api/v1/stores/{store_id}"),
                        ("patch", "/api/v1/products/{product_id}"),
                        ("patch", "/api/v1/purchase-orders/{order_id}"),
                        ("patch", "/api/v1/customers/{customer_id}"),
                        ("post", "/api/v1/webhooks/{webhook_id}/rotate"),
                        ("post", "/api/v1/webhooks/deliveries/{delivery_id}/redeliver")}
    assert document["paths"]["/api/v1/sales"]["post"]["requestBody"]["required"] is True
