"""Batch stock sync through the API on the fast layer: jobs run in-process (no REDIS_URL)."""
import pytest
from sqlalchemy import func, select

from tests.api_client import api_as
from tests.factories import make_product, make_store
from webapp.extensions import db
from webapp.models import StockMovement
from webapp.services import sync


@pytest.fixture
def shop(app):
    return make_store(), make_product(unit="piece")


def item(shop, id, type="stock_in", quantity=1, **extra):
    store, product = shop
    return {"id": id, "store_id": store.id, "product_id": product.id, "type": type,
            "quantity": quantity, **extra}


def submit(api, *items, **kwargs):
    return api.post("/api/v1/sync", json={"movements": list(items)}, **kwargs)


def movements():
    return db.session.scalar(select(func.count()).select_from(StockMovement))


def test_a_batch_is_accepted_with_202_and_reports_each_item(app, shop):
    api = api_as(app, "admin")
    response = submit(api, item(shop, "a", quantity=5), item(shop, 2, "sale", 9),
                      item(shop, "c", "sale", 2))
    assert response.status_code == 202
    status = api.get(response.json["status_url"]).json
    assert (status["status"], status["total"], status["applied"], status["failed"],
            status["pending"]) == ("done", 3, 2, 1, 0)
    first, second, third = status["items"]
    assert first["id"] == "a" and first["movement"]["source"] == "sync"
    assert first["movement"]["idempotency_key"] == "sync:a"
    assert second["id"] == "2" and second["error"]["code"] == "insufficient_stock"
    assert third["level"]["quantity"] == "3.000"


def test_resubmitting_a_batch_applies_nothing_twice(app, shop):
    api = api_as(app, "admin")
    batch = [item(shop, f"r{i}", quantity=2) for i in range(5)]
    submit(api, *batch)
    again = api.get(submit(api, *batch).json["status_url"]).json
    assert all(i["replayed"] and i["status"] == "applied" for i in again["items"])
    assert movements() == 5
    store, product = shop
    assert api.get(f"/api/v1/stores/{store.id}/stock/{product.id}").json["quantity"] == "10.000"


def test_the_same_client_id_with_another_body_fails_that_item_only(app, shop):
    api = api_as(app, "admin")
    submit(api, item(shop, "x", quantity=1))
    status = api.get(submit(api, item(shop, "x", quantity=4), item(shop, "y")).json
                     ["status_url"]).json
    assert [i["status"] for i in status["items"]] == ["failed", "applied"]
    assert status["items"][0]["error"]["code"] == "idempotency_key_reused"


def test_running_a_job_again_changes_nothing(app, shop):
    api = api_as(app, "admin")
    job_id = submit(api, item(shop, "once", quantity=3)).json["job_id"]
    assert sync.run(job_id) is None  # already done
    assert movements() == 1


def test_a_shopkeeper_cannot_sync_into_another_store(app, shop):
    store, _ = shop
    api = api_as(app, "shopkeeper", stores=[store])
    other = make_store()
    status = api.get(submit(api, item(shop, "mine"), {**item(shop, "theirs"),
                                                      "store_id": other.id}).json
                     ["status_url"]).json
    assert [i["status"] for i in status["items"]] == ["applied", "failed"]
    assert status["items"][1]["error"]["code"] == "not_found"


def test_only_the_owner_sees_a_job(app, shop):
    owner, stranger = api_as(app, "manager"), api_as(app, "manager")
    url = submit(owner, item(shop, "a")).json["status_url"]
    assert stranger.get(url).status_code == 404
    assert api_as(app, "admin").get(url).status_code == 200
    assert owner.get("/api/v1/sync/not-a-job").status_code == 404


@pytest.mark.parametrize("body, status, field", [
    ({"movements": []}, 422, "movements"),
    ({"movements": [{"store_id": 1, "product_id": 1, "type": "sale", "quantity": 1}]}, 422,
     "movements.0.id"),
    ({"movements": [{"id": "a", "store_id": 1, "product_id": 1, "type": "sale",
                     "quantity": 1, "colour": "red"}]}, 422, "movements.0.colour"),
    ({"movements": [{"id": "a", "store_id": 1, "product_id": 1, "type": "sale", "quantity": 1},
                    {"id": "a", "store_id": 1, "product_id": 1, "type": "sale",
                     "quantity": 1}]}, 422, "movements.1.id"),
    ({"movements": [{"id": "x" * 121, "store_id": 1, "product_id": 1, "type": "sale",
                     "quantity": 1}]}, 422, "movements.0.id"),
])
def test_a_malformed_batch_is_refused_whole(app, body, status, field):
    response = api_as(app, "admin").post("/api/v1/sync", json=body)
    assert response.status_code == status
    assert field in response.json["error"]["fields"]
    assert movements() == 0


def test_more_than_1000_movements_is_413(app, shop):
    response = submit(api_as(app, "admin"), *[item(shop, str(i)) for i in range(1001)])
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_many_items"


def test_an_idempotent_resubmission_returns_the_same_job(app, shop):
    api = api_as(app, "admin")
    headers = {"Idempotency-Key": "batch-1"}
    first = submit(api, item(shop, "a"), headers=headers)
    second = submit(api, item(shop, "a"), headers=headers)
    assert second.json["job_id"] == first.json["job_id"]
    assert second.headers.get("Idempotent-Replayed") == "true"
