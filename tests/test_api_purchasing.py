"""/api/v1/purchase-orders and /api/v1/imports."""
import io

import pytest

from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store, make_supplier
from webapp.extensions import db
from webapp.models import StockMovement
from webapp.services import commands, ledger


@pytest.fixture
def setup(app):
    store, other = make_store(), make_store()
    supplier = make_supplier(name="Metro", phone="0300 1112223")
    sugar = make_product(sku="CHEENI", unit="kg", pack_size="50", cost="140",
                         preferred_supplier_id=supplier.id)
    soap = make_product(sku="SOAP", unit="piece", pack_size="24", cost="50")
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=sugar.id, type="stock_in",
                           quantity="2"))
    return {"store": store.id, "other": other.id, "supplier": supplier.id, "sugar": sugar.id,
            "soap": soap.id, "keeper_store": store}


def test_create_read_patch_and_receive(app, setup):
    manager = api_as(app, "manager")
    created = manager.post("/api/v1/purchase-orders", json={
        "store_id": setup["store"], "supplier_id": setup["supplier"],
        "lines": [{"product_id": setup["sugar"], "packs": "2"},
                  {"product_id": setup["soap"], "packs": "1", "unit_cost": "48.50"}]},
        headers={"Idempotency-Key": "po-1"})
    assert created.status_code == 201, created.json
    order = created.json
    assert order["status"] == "draft" and order["total_cost"] == "15164.00"
    assert [line["quantity"] for line in order["lines"]] == ["100.000", "24.000"]
    again = manager.post("/api/v1/purchase-orders", json={
        "store_id": setup["store"], "supplier_id": setup["supplier"],
        "lines": [{"product_id": setup["sugar"], "packs": "2"},
                  {"product_id": setup["soap"], "packs": "1", "unit_cost": "48.50"}]},
        headers={"Idempotency-Key": "po-1"})
    assert again.json["id"] == order["id"]
    listed = manager.get(f"/api/v1/purchase-orders?store_id={setup['store']}&status=draft")
    assert listed.json["total"] == 1
    assert manager.patch(f"/api/v1/purchase-orders/{order['id']}",
                         json={"status": "received"}).json["error"]["code"] == \
        "invalid_transition"
    sent = manager.patch(f"/api/v1/purchase-orders/{order['id']}", json={"status": "sent"})
    assert sent.status_code == 200 and sent.json["status"] == "sent"
    keeper = api_as(app, "shopkeeper", stores=[setup["keeper_store"]])
    assert keeper.post("/api/v1/purchase-orders", json={
        "store_id": setup["store"], "supplier_id": setup["supplier"],
        "lines": [{"product_id": setup["sugar"], "packs": "1"}]}).status_code == 403
    stranger = api_as(app, "shopkeeper", stores=[make_store()])
    assert stranger.get(f"/api/v1/purchase-orders/{order['id']}").status_code == 404
    body = {"lines": [{"product_id": setup["sugar"], "quantity": "60", "unit_cost": "145"}]}
    received = keeper.post(f"/api/v1/purchase-orders/{order['id']}/receipts", json=body,
                           headers={"Idempotency-Key": "rcv-9"})
    assert received.status_code == 201, received.json
    data = received.json
    assert data["order"]["status"] == "partly_received"
    assert data["movements"][0]["type"] == "stock_in"
    assert data["movements"][0]["supplier_id"] == setup["supplier"]
    assert data["levels"][0]["quantity"] == "62.000"
    count = db.session.scalar(db.select(db.func.count()).select_from(StockMovement))
    replay = keeper.post(f"/api/v1/purchase-orders/{order['id']}/receipts", json=body,
                         headers={"Idempotency-Key": "rcv-9"})
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json == data
    assert db.session.scalar(db.select(db.func.count()).select_from(StockMovement)) == count
    other = keeper.post(f"/api/v1/purchase-orders/{order['id']}/receipts",
                        json={"lines": [{"product_id": setup["sugar"], "quantity": "1"}]},
                        headers={"Idempotency-Key": "rcv-9"})
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    bad = keeper.post(f"/api/v1/purchase-orders/{order['id']}/receipts",
                      json={"lines": [{"product_id": setup["soap"], "quantity": "1.5"}]})
    assert bad.status_code == 422 and "error" in bad.json
    assert db.session.scalar(db.select(db.func.count()).select_from(StockMovement)) == count


def test_imports_dry_run_then_confirm_inline(app, setup):
    manager = api_as(app, "manager")
    csv = "sku,name,unit,sale_price\nNEW-1,نیا,piece,\"1,450.00\"\nBAD,x,crate,5\n"
    response = manager.client.post("/api/v1/imports", data={
        "kind": "products", "dry_run": "true",
        "file": (io.BytesIO(csv.encode()), "p.csv")},
        headers={"Authorization": f"Bearer {manager.token}"},
        content_type="multipart/form-data")
    assert response.status_code == 202, response.json
    job = response.json
    status = manager.get(job["status_url"]).json
    assert (status["status"], status["created"], status["refused"]) == ("checked", 1, 1)
    assert status["refusals"] == [{"line": 3, "column": "unit", "code": "unknown_unit",
                                   "message": status["refusals"][0]["message"]}]
    confirmed = manager.post(f"/api/v1/imports/{job['job_id']}/confirm")
    assert confirmed.status_code == 202 and confirmed.json["status"] == "done"
    assert manager.get(job["status_url"]).json["created"] == 1
    wrong = manager.client.post("/api/v1/imports", data={"kind": "cars"},
                                headers={"Authorization": f"Bearer {manager.token}"},
                                content_type="multipart/form-data")
    assert wrong.status_code == 422
    keeper = api_as(app, "shopkeeper", stores=[setup["keeper_store"]])
    assert keeper.get(job["status_url"]).status_code == 403
