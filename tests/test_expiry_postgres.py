"""The expiry report's queries on PostgreSQL (issue 26 item 3): the same figures as on SQLite,
read through the partial index of batches with stock left, and the daily event raised once
when several workers sweep at the same moment."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

from tests.factories import make_store
from tests.test_expiry import shop  # noqa: F401 (the same shop, on PostgreSQL here)
from tests.test_ledger_concurrency import run_threads
from webapp.extensions import db
from webapp.models import AuditOutbox, ExpiryRound
from webapp.services import expiry

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app):
    """test_expiry's fixtures take `app`: here it is the PostgreSQL one."""
    return pg_app


def test_the_report_on_postgresql_is_soonest_first_and_adds_up(shop):  # noqa: F811
    items = expiry.expiring(None, within_days=30).items
    assert [(b["store_code"], b["sku"], b["days_left"]) for b in items] == [
        ("KHI-0001", "DAHI", -2), ("LHE-0001", "DOODH", -1), ("KHI-0001", "DAHI", 3),
        ("KHI-0001", "DBL-ROTI", 20)]
    totals = expiry.totals(None, within_days=30)
    assert totals["value_cost"] == sum(b["value_cost"] for b in items) == Decimal("3300.00")
    assert totals["expired_value"] == Decimal("2300.00")
    assert list(expiry.iter_expiring({shop["store"].id}, within_days=30)) == [
        b for b in items if b["store_code"] == "KHI-0001"]


def _plan(statement):
    sql = str(statement.compile(dialect=postgresql.dialect(),
                                compile_kwargs={"literal_binds": True}))
    return "\n".join(db.session.execute(text(f"EXPLAIN {sql}")).scalars())


def test_a_stores_expiring_batches_come_from_the_partial_index(shop):  # noqa: F811
    """200 stores × 300 emptied batches each (what time leaves behind) beside the live ones: a
    store's flags and its list walk the partial index of batches with stock left."""
    product_id = shop["yoghurt"].id
    stores = [make_store().id for _ in range(200)]
    db.session.execute(text("""
        INSERT INTO stock_batches (store_id, product_id, expires_on, batch_code, quantity,
                                   received_at, updated_at)
        SELECT s, :product, CURRENT_DATE - (n % 700), 'OLD-' || n, 0, now(), now()
        FROM unnest(CAST(:stores AS integer[])) AS s, generate_series(1, 300) AS n"""),
        {"product": product_id, "stores": stores})
    db.session.execute(text("ANALYZE stock_batches"))
    on = expiry.today()
    store_id = shop["store"].id
    flags = _plan(expiry.flags_query(store_id, on, on + timedelta(days=7)))
    assert "ix_stock_batches_expiring" in flags, flags
    listed = _plan(expiry.batch_query(None, store_id, on + timedelta(days=30))
                   .order_by(*expiry._ORDER).limit(51))
    assert "ix_stock_batches_expiring" in listed, listed
    # Still the same answers with 60,000 empty batches around.
    assert set(expiry.store_flags(shop["store"])) == {product_id}
    assert expiry.totals(None, within_days=30)["batches"] == 4


def test_eight_workers_sweeping_at_once_raise_the_days_events_once(shop, pg_app):  # noqa: F811
    results, errors = run_threads(pg_app, 8, lambda i: _raise())
    assert errors == []
    assert sorted(results, key=str) == [2] + [None] * 7
    assert db.session.scalar(select(ExpiryRound.stores)) == 2
    assert db.session.scalar(select(db.func.count()).select_from(AuditOutbox).where(
        AuditOutbox.action == "stock.expiring")) == 2


def _raise():
    told = expiry.raise_daily(db.session.connection())
    db.session.commit()
    return told
