"""Issue 23, invariant 10: no input within the documented bounds makes a later request fail.

The poisoning sequence found in production, on PostgreSQL: a sale at the largest price, a
stock-in of the largest quantity at an ordinary cost, a basket of two lines at the largest
price, the same through the offline doors; afterwards an ordinary sale, the sales report and
every step of the worker's sweep still work.
"""
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.api_client import api_as
from tests.factories import ADMIN, login, make_product, make_store, make_user
from webapp.extensions import db
from webapp.infra.metrics import SWEEP_FAILURES
from webapp.jobs import sweep
from webapp.services import commands, idempotency, ledger, partitions, report_rollups
from webapp.services.validation import MAX_LEVEL, MAX_MONEY, MAX_QUANTITY

pytestmark = pytest.mark.postgres
TOP = str(MAX_MONEY)  # 9999999999.99


def _sale(store, product, **fields):
    return {"store_id": store.id, "product_id": product.id, "type": "sale", "quantity": "1",
            **fields}


def _offline(client, user, store, kind, item):
    item = {"user_id": user.id, "key": str(uuid.uuid4()),
            "occurred_at": datetime.now(UTC).isoformat(), **item}
    return client.post(f"/offline/stores/{store.id}/{kind}", json=item)


@pytest.fixture
def shop(pg_app):
    store = make_store()
    tea, sugar = (make_product(unit="piece", sale_price="100.00", cost="80.00") for _ in "ab")
    for product in (tea, sugar):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="stock_in", quantity="100"))
    return store, tea, sugar


def test_the_poisoning_sequence_is_refused_or_harmless(pg_app, shop):
    store, tea, sugar = shop
    shopkeeper_user = make_user(role="shopkeeper", stores=[store])
    shopkeeper = api_as(pg_app, user=shopkeeper_user)
    manager_user = make_user(role="manager")
    manager = api_as(pg_app, user=manager_user)

    # A price above list needs a manager, like a price below it.
    above = shopkeeper.post("/api/v1/movements", json=_sale(store, tea, unit_price=TOP))
    assert above.status_code == 403, above.json
    assert above.json["error"]["code"] == "price_above_list"
    assert "unit_price" in above.json["error"]["fields"]
    # A manager may, and twice: the day's summary row has room for both.
    for _ in range(2):
        sold = manager.post("/api/v1/movements", json=_sale(store, tea, unit_price=TOP))
        assert sold.status_code == 201, sold.json
    # One movement worth more than the most one may carry: 422 naming the field.
    two = manager.post("/api/v1/movements", json=_sale(store, tea, quantity="2", unit_price=TOP))
    assert two.status_code == 422 and two.json["error"]["code"] == "out_of_range"
    assert "unit_price" in two.json["error"]["fields"]
    # The largest quantity at an ordinary cost: typed cost, then the product's own cost.
    big_in = {"store_id": store.id, "product_id": sugar.id, "type": "stock_in",
              "quantity": str(MAX_QUANTITY)}
    typed = manager.post("/api/v1/movements", json={**big_in, "unit_cost": "190"})
    assert typed.status_code == 422 and "unit_cost" in typed.json["error"]["fields"]
    default = manager.post("/api/v1/movements", json=big_in)
    assert default.status_code == 422 and "quantity" in default.json["error"]["fields"]
    # A basket of two lines at the largest price: each line fits, the total does not.
    basket = {"store_id": store.id, "lines": [
        {"product_id": tea.id, "quantity": "1", "unit_price": TOP},
        {"product_id": sugar.id, "quantity": "1", "unit_price": TOP}]}
    refused = manager.post("/api/v1/sales", json=basket)
    assert refused.status_code == 422 and "lines" in refused.json["error"]["fields"], refused.json
    # The offline doors (the shopkeeper's queued items, then a manager's).
    phone = pg_app.test_client()
    login(phone, shopkeeper_user)
    queued_in = _offline(phone, shopkeeper_user, store, "movements", {
        "type": "stock_in", "product_id": sugar.id, "quantity": str(MAX_QUANTITY),
        "unit_cost": "190"})
    assert queued_in.status_code == 422, queued_in.json
    assert _offline(phone, shopkeeper_user, store, "sales", basket).status_code == 403
    with pg_app.app_context():  # its own g, so Flask-Login does not keep the phone's user
        laptop = pg_app.test_client()
        login(laptop, manager_user)
        queued_basket = _offline(laptop, manager_user, store, "sales", basket)
        assert queued_basket.status_code == 422, queued_basket.json

    # Afterwards: an ordinary sale from the API and from the page, the report, the sweep.
    ordinary = shopkeeper.post("/api/v1/movements", json=_sale(store, tea))
    assert ordinary.status_code == 201, ordinary.json
    with pg_app.app_context():
        page = pg_app.test_client()
        login(page, shopkeeper_user)
        form = page.post(f"/stores/{store.id}/movements", data={
            "type": "sale", "product_id": tea.id, "quantity": "1"})
        assert form.status_code in (200, 201, 302, 303), form.data[:300]
    assert db.session.execute(text("SELECT count(*) FROM stock_movements WHERE type = 'sale'")
                              ).scalar() == 4
    assert sweep.sweep_once(pg_app) == []
    today = datetime.now(UTC).date()
    report = manager.get(f"/api/v1/reports/sales?from={today - timedelta(days=1)}"
                         f"&to={today + timedelta(days=1)}")
    assert report.status_code == 200, report.json
    assert db.session.execute(text("SELECT sum(amount) FROM daily_store_summary WHERE "
                                   "type = 'sale'")).scalar() == 2 * MAX_MONEY + 200


def test_a_level_stays_within_its_bound(pg_app, shop):
    store, tea, _ = shop
    manager = api_as(pg_app, role="manager")
    fill = {"store_id": store.id, "product_id": tea.id, "type": "stock_in",
            "quantity": str(MAX_QUANTITY), "unit_cost": "0"}
    for _ in range(int(MAX_LEVEL / MAX_QUANTITY) - 1):
        assert manager.post("/api/v1/movements", json=fill).status_code == 201
    over = manager.post("/api/v1/movements", json=fill)  # 100 + 10 × 10^9 > 10^10
    assert over.status_code == 422 and over.json["error"]["code"] == "out_of_range", over.json
    # The level is where it was, and it can still come down.
    sale = manager.post("/api/v1/movements", json=_sale(store, tea, quantity="10000000"))
    assert sale.status_code == 201, sale.json


def test_a_failing_sweep_step_does_not_stop_the_others(pg_app, monkeypatch):
    conn = db.session.connection()
    ahead = partitions.add_months(partitions.month_start(datetime.now(UTC)),
                                  pg_app.config["PARTITIONS_MONTHS_AHEAD"])
    name = partitions.partition_name(ahead)
    db.session.execute(text(f"DROP TABLE {name}"))
    db.session.execute(idempotency.T.insert().values(
        scope="test", key="old", request_hash="x", status_code=201, response="{}",
        created_at=datetime.now(UTC) - timedelta(days=400)))
    db.session.commit()

    def broken(max_age):
        raise RuntimeError("numeric field overflow")

    monkeypatch.setattr(report_rollups, "refresh_if_stale", broken)
    before = SWEEP_FAILURES.labels("rollups")._value.get()
    assert sweep.sweep_once(pg_app) == ["rollups"]
    assert SWEEP_FAILURES.labels("rollups")._value.get() == before + 1
    conn = db.session.connection()
    assert name in partitions.existing(conn)
    assert conn.execute(text("SELECT count(*) FROM idempotency_records")).scalar() == 0
