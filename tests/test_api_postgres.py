"""The API's hot path on PostgreSQL under concurrency: no lost update, invariant 1, one write
per Idempotency-Key (the ledger's statements are built once per dialect; this runs them on PG)."""
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from tests import services
from tests.api_client import ApiClient, token_for
from tests.conftest import _clean, _config
from tests.factories import ADMIN, make_product, make_store, make_user
from webapp import create_app
from webapp.extensions import db
from webapp.services import commands, ledger
from webapp.services.ledger.batches import batch_violations

pytestmark = pytest.mark.postgres
THREADS = 16


@pytest.fixture(scope="module")
def pg_api_app():
    if not services.postgres_available():
        services.missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = services.create_database()
    app = create_app(_config(url.replace("postgresql://", "postgresql+psycopg2://", 1),
                             SQLALCHEMY_ENGINE_OPTIONS={"pool_size": THREADS + 4}))
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    services.drop_database(url)


@pytest.fixture
def shop(pg_api_app):
    _clean(pg_api_app)
    with pg_api_app.app_context():
        store, product = make_store(), make_product(unit="piece")
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                              product_id=product.id,
                                                              type="stock_in", quantity=100))
        token = token_for(make_user(role="manager"))
        yield pg_api_app, store.id, product.id, token
        db.session.remove()


def _sell(app, token, store_id, product_id, key=None):
    headers = {"Idempotency-Key": key} if key else None
    return ApiClient(app, token).post("/api/v1/movements", headers=headers, json={
        "store_id": store_id, "product_id": product_id, "type": "sale", "quantity": "1"})


def _invariant_violations():
    return db.session.execute(text("""
        SELECT count(*) FROM (
            SELECT balance_after, sum(delta) OVER (PARTITION BY store_id, product_id
                                                   ORDER BY id) AS running
            FROM stock_movements) chain WHERE balance_after <> running
        UNION ALL
        SELECT count(*) FROM stock_levels l JOIN (
            SELECT store_id, product_id, sum(delta) AS total FROM stock_movements
            GROUP BY store_id, product_id) t USING (store_id, product_id)
        WHERE l.quantity <> t.total""")).scalars().all() + [
        # invariant 9: a tracked product's batches add up to its level (when not negative)
        sum(map(len, batch_violations(db.session.connection()).values()))]


def test_concurrent_sales_on_one_row_lose_nothing_and_stop_at_zero(shop):
    app, store_id, product_id, token = shop
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(lambda _: _sell(app, token, store_id, product_id).status_code,
                                 range(120)))
    assert statuses.count(201) == 100 and statuses.count(409) == 20
    level = db.session.execute(text("SELECT quantity FROM stock_levels")).scalar()
    assert level == Decimal("0")
    assert _invariant_violations() == [0, 0, 0]


def test_concurrent_retries_with_one_key_write_once(shop):
    app, store_id, product_id, token = shop
    with ThreadPoolExecutor(THREADS) as pool:
        responses = list(pool.map(
            lambda _: _sell(app, token, store_id, product_id, key="till-7-sale-1"), range(16)))
    assert [r.status_code for r in responses] == [201] * 16
    assert all(r.json == responses[0].json for r in responses)
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 15
    level = db.session.execute(text("SELECT quantity FROM stock_levels")).scalar()
    assert level == Decimal("99")
    assert _invariant_violations() == [0, 0, 0]


def test_one_statement_sale_writes_what_the_general_path_writes(shop):
    app, store_id, product_id, token = shop
    response = ApiClient(app, token).post("/api/v1/movements", json={
        "store_id": store_id, "product_id": product_id, "type": "sale", "quantity": "3",
        "unit_price": "95.50", "note": "till 2", "occurred_at": "2026-11-20T23:30:00+00:00"})
    assert response.status_code == 201
    movement = response.json["movement"]
    assert (movement["balance_after"], movement["unit_price"], movement["source"]) == \
        ("97.000", "95.50", "api")
    # Without Redis the request drains the outbox in-process: the event is in one of the two.
    event = db.session.execute(text(
        "SELECT after, actor_id FROM (SELECT id, after, actor_id, entity_type FROM audit_outbox "
        "UNION ALL SELECT outbox_id, after, actor_id, entity_type FROM audit_log) events "
        "WHERE entity_type = 'stock_movement' ORDER BY id DESC LIMIT 1")).one()
    assert event.after == movement and event.actor_id == movement["user_id"]
    row = db.session.execute(text(
        "SELECT type, quantity, delta, balance_after, note, unit_price, unit_cost, user_id, "
        "source FROM stock_movements WHERE id = :id"), {"id": movement["id"]}).one()
    assert tuple(str(v) for v in row) == ("sale", "3.000", "-3.000", "97.000", "till 2",
                                          "95.50", "80.00", str(movement["user_id"]), "api")
    summary = db.session.execute(text(
        "SELECT day, quantity, delta, amount, movements FROM daily_stock_summary "
        "WHERE type = 'sale'")).one()
    assert (str(summary.day), summary.amount, summary.movements) == \
        ("2026-11-21", Decimal("286.50"), 1)


def test_one_statement_path_honours_negative_stock_stores_and_refusals(shop):
    app, store_id, product_id, token = shop
    api = ApiClient(app, token)
    patched = api.patch(f"/api/v1/stores/{store_id}", json={"allow_negative_stock": True})
    assert patched.status_code == 200
    sale = api.post("/api/v1/movements", json={"store_id": store_id, "product_id": product_id,
                                               "type": "sale", "quantity": "101"})
    assert sale.status_code == 201 and sale.json["level"]["negative"] is True
    assert sale.json["movement"]["balance_after"] == "-1.000"
    api.patch(f"/api/v1/stores/{store_id}", json={"allow_negative_stock": False})
    refused = api.post("/api/v1/movements", json={
        "store_id": store_id, "product_id": product_id, "type": "removal", "reason": "expired",
        "quantity": "1"})
    assert refused.status_code == 409
    assert _invariant_violations() == [0, 0, 0]
