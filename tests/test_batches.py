"""Batches with expiry dates (issue 26 items 1, 2, 5; SPEC §2 "Batch", invariant 9)."""
import pytest
from sqlalchemy import text

from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store
from webapp.extensions import db
from webapp.services import catalog, commands, ledger
from webapp.services.errors import Conflict
from webapp.services.ledger import batches
from webapp.services.ledger.batches import NO_BATCH_VIOLATIONS, batch_violations


@pytest.fixture
def admin(app):
    return api_as(app, "admin")


def stock_in(store, product, quantity, **fields):
    return ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=quantity, **fields))


def test_tracks_expiry_is_off_by_default_and_set_through_the_api(admin):
    body = {"sku": "DOODH-1", "name": "Doodh 1 litre", "category": "Dairy", "unit": "piece",
            "sale_price": "220.00"}
    plain = admin.post("/api/v1/products", json=body)
    assert plain.status_code == 201 and plain.json["tracks_expiry"] is False
    tracked = admin.post("/api/v1/products", json={**body, "sku": "DAHI-1",
                                                   "tracks_expiry": True})
    assert tracked.json["tracks_expiry"] is True
    off = admin.patch(f"/api/v1/products/{tracked.json['id']}", json={"tracks_expiry": False})
    assert off.status_code == 200 and off.json["tracks_expiry"] is False
    bad = admin.patch(f"/api/v1/products/{tracked.json['id']}", json={"tracks_expiry": "yes"})
    assert bad.status_code == 422


def test_a_new_product_without_a_say_follows_its_category(app):
    make_product(category="Dairy", tracks_expiry=True)
    make_product(category="Dairy", tracks_expiry=True)
    make_product(category="Dairy", tracks_expiry=False)
    make_product(category="Masala", tracks_expiry=False)
    defaults = {"name": "x", "unit": "piece", "sale_price": "10"}
    assert catalog.create_product(ADMIN, {**defaults, "sku": "D-9", "category": "dairy"}) \
        .tracks_expiry is True
    assert catalog.create_product(ADMIN, {**defaults, "sku": "M-9", "category": "Masala"}) \
        .tracks_expiry is False
    assert catalog.create_product(ADMIN, {**defaults, "sku": "N-9"}).tracks_expiry is False


def test_turning_tracking_on_is_refused_while_a_store_holds_stock_without_dates(admin):
    store, product = make_store(), make_product(unit="piece")
    stock_in(store, product, 5)
    refused = admin.patch(f"/api/v1/products/{product.id}", json={"tracks_expiry": True})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "stock_without_dates"
    assert refused.json["error"]["store_ids"] == [store.id]
    assert "tracks_expiry" in refused.json["error"]["fields"]
    ledger.apply_count(ADMIN, commands.Count.parse(store_id=store.id, counts=[
        {"product_id": product.id, "quantity": 0}]))
    assert admin.patch(f"/api/v1/products/{product.id}",
                       json={"tracks_expiry": True}).json["tracks_expiry"] is True


def test_the_product_form_sets_tracks_expiry(app, client):
    from tests.factories import login, make_user
    login(client, make_user(role="manager"))
    product = make_product()
    page = client.get(f"/products/{product.id}/edit")
    assert b'name="tracks_expiry"' in page.data
    data = {"sku": product.sku, "name": product.name, "category": "Dairy", "unit": "kg",
            "sale_price": "100.00", "reorder_level": "5", "pack_size": "1",
            "tracks_expiry": "y"}
    assert client.post(f"/products/{product.id}/edit", data=data).status_code in (200, 302, 303)
    db.session.expire_all()
    assert catalog.get_product(product.id).tracks_expiry is True


def test_the_batch_check_finds_batches_that_do_not_add_up(app):
    store, product = make_store(), make_product(unit="piece", tracks_expiry=True)
    conn = db.session.connection()
    assert batch_violations(conn) == NO_BATCH_VIOLATIONS
    conn.execute(text("INSERT INTO stock_levels (store_id, product_id, quantity, updated_at) "
                      "VALUES (:s, :p, 4, CURRENT_TIMESTAMP)"), {"s": store.id, "p": product.id})
    found = batch_violations(conn)
    assert [(row["store_id"], row["product_id"]) for row in found["levels"]] == \
        [(store.id, product.id)]
    with pytest.raises(Conflict):
        batches.check_can_track(conn, product.id)
    db.session.rollback()
