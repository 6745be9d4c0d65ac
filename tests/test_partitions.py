"""Monthly partitions of stock_movements on PostgreSQL: made ahead, the right month for a
movement at a month boundary (UTC, not Pakistan time), rows caught by the default partition
moved out, and the migration of an existing unpartitioned ledger."""
from datetime import datetime, timedelta, timezone

import pytest
from flask_migrate import upgrade
from sqlalchemy import event, select, text

from tests import services
from tests.conftest import _config
from tests.factories import ADMIN, make_product, make_store
from webapp import create_app
from webapp.extensions import db
from webapp.jobs import sweep
from webapp.models import DailyStockSummary
from webapp.services import commands, history, ledger, partitions
from webapp.services.integrity import ledger_violations

pytestmark = pytest.mark.postgres
UTC = timezone.utc
NOVEMBER = datetime(2026, 11, 15, tzinfo=UTC)


def _sell_at(monkeypatch, moment, store, product, type="sale", quantity=1):
    monkeypatch.setattr(ledger.runner, "utcnow", lambda: moment)
    command = commands.Movement.parse(store_id=store.id, product_id=product.id, type=type,
                                      quantity=quantity)
    return ledger.record_movement(ADMIN, command).data["movement"]


def _partition(movement):
    return partitions.partition_of(db.session.connection(), movement["id"])


def test_migration_makes_this_month_and_three_ahead(pg_app):
    conn = db.session.connection()
    assert partitions.is_partitioned(conn)
    names = partitions.existing(conn)
    this_month = partitions.month_start(datetime.now(UTC))
    for n in range(4):
        assert partitions.partition_name(partitions.add_months(this_month, n)) in names
    assert partitions.DEFAULT in names


def test_sweep_makes_partitions_ahead_and_is_idempotent(pg_app):
    far = datetime(2031, 3, 10, tzinfo=UTC)
    conn = db.session.connection()
    made = partitions.ensure_ahead(conn, 2, today=far)
    db.session.commit()
    assert made == ["stock_movements_2031_03", "stock_movements_2031_04",
                    "stock_movements_2031_05"]
    assert partitions.ensure_ahead(db.session.connection(), 2, today=far) == []
    # The real sweep (this month + PARTITIONS_MONTHS_AHEAD) finds nothing missing.
    sweep.sweep_once(pg_app)
    this_month = partitions.month_start(datetime.now(UTC))
    ahead = partitions.add_months(this_month, pg_app.config["PARTITIONS_MONTHS_AHEAD"])
    assert partitions.partition_name(ahead) in partitions.existing(db.session.connection())


def test_a_movement_at_a_month_boundary_lands_by_utc_month(pg_app, monkeypatch):
    partitions.ensure_ahead(db.session.connection(), 3, today=NOVEMBER)
    db.session.commit()
    store, product = make_store(), make_product(unit="piece")
    _sell_at(monkeypatch, datetime(2026, 11, 1, tzinfo=UTC), store, product, "stock_in", 10)
    # 19:30 UTC on 30 November is 00:30 on 1 December in Karachi: November's partition,
    # December's daily summary.
    late_november = _sell_at(monkeypatch, datetime(2026, 11, 30, 19, 30, tzinfo=UTC),
                             store, product)
    last_instant = _sell_at(monkeypatch, datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC),
                            store, product)
    first_instant = _sell_at(monkeypatch, datetime(2026, 12, 1, tzinfo=UTC), store, product)
    assert _partition(late_november) == "stock_movements_2026_11"
    assert _partition(last_instant) == "stock_movements_2026_11"
    assert _partition(first_instant) == "stock_movements_2026_12"
    days = db.session.scalars(select(DailyStockSummary.day)
                              .where(DailyStockSummary.type == "sale")).all()
    assert [str(d) for d in days] == ["2026-12-01"]
    assert ledger_violations(db.session.connection()) == {"levels": [], "chain": [],
                                                          "orphans": []}


def test_a_stores_movements_are_listed_by_when_they_were_recorded_through_its_index(
        pg_app, monkeypatch):
    """Newest first is by created_at, the partition key (then id): each month's
    (store_id, created_at) index yields the store's rows in order. By id alone, every
    partition's primary key was walked backwards past other stores' rows."""
    partitions.ensure_ahead(db.session.connection(), 1, today=datetime(2026, 10, 1, tzinfo=UTC))
    db.session.commit()
    store, other, product = make_store(), make_store(), make_product(unit="piece")
    # Recorded out of id order: the November row gets the smaller id.
    november = _sell_at(monkeypatch, NOVEMBER, store, product, "stock_in", 5)
    october = _sell_at(monkeypatch, datetime(2026, 10, 20, tzinfo=UTC), store, product,
                       "stock_in", 5)
    for day in (2, 3, 4):
        _sell_at(monkeypatch, datetime(2026, 11, day, tzinfo=UTC), other, product, "stock_in", 1)
    sent = []
    listen = lambda *args: sent.append(args[2:4])  # noqa: E731 (statement, parameters)
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        page = history.movements(history.MovementFilter(store_id=store.id), count=False)
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert [m["id"] for m in page.items] == [november["id"], october["id"]]
    # Planned as at scale (a handful of rows would be read by a sequential scan anyway).
    cursor = db.session.connection().connection.driver_connection.cursor()
    cursor.execute("SET LOCAL enable_seqscan = off")
    cursor.execute("EXPLAIN " + sent[-1][0], sent[-1][1])
    plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "store_id_created_at" in plan
    assert "_pkey" not in plan


def test_rows_in_the_default_partition_move_into_their_month_when_it_is_made(pg_app, monkeypatch):
    store, product = make_store(), make_product(unit="piece")
    stray = _sell_at(monkeypatch, datetime(2033, 7, 4, tzinfo=UTC), store, product,
                     "stock_in", 5)
    assert _partition(stray) == partitions.DEFAULT
    made = partitions.ensure_ahead(db.session.connection(), 0,
                                   today=datetime(2033, 7, 20, tzinfo=UTC))
    db.session.commit()
    assert made == ["stock_movements_2033_07"]
    assert _partition(stray) == "stock_movements_2033_07"
    count = db.session.execute(text(f"SELECT count(*) FROM {partitions.DEFAULT}")).scalar()
    assert count == 0
    # The moved table got the parent's indexes.
    indexes = db.session.execute(text(
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'stock_movements_2033_07'")).scalar()
    assert indexes >= 8


def _legacy_store_and_product():
    """A store and a product as that revision's tables hold them (raw SQL: today's models
    carry columns later migrations add, such as stores.opening_float and products.pack_price)."""
    conn, now = db.session.connection(), datetime.now(UTC)
    store_id = conn.execute(text(
        "INSERT INTO stores (code, name, city, address, phone, active, allow_negative_stock, "
        "created_at, updated_at) VALUES ('OLD-0001', 'Old Store', 'Karachi', '', '', true, "
        "false, :now, :now) RETURNING id"), {"now": now}).scalar()
    product_id = conn.execute(text(
        "INSERT INTO products (sku, name, category, unit, sale_price, reorder_level, archived, "
        "created_at, updated_at) VALUES ('OLD-1', 'Old product', 'Grocery', 'piece', 10, 0, "
        "false, :now, :now) RETURNING id"), {"now": now}).scalar()
    db.session.commit()
    return store_id, product_id


def _legacy_stock_ins(store_id, product_id, count):
    """`count` stock-ins of 3 written as that revision's ledger wrote them (raw SQL: today's
    ledger writes columns a later migration adds)."""
    conn, now, old = db.session.connection(), datetime.now(UTC), []
    for balance in range(3, 3 * count + 1, 3):
        old.append({"id": conn.execute(text(
            "INSERT INTO stock_movements (store_id, product_id, type, quantity, delta, "
            "balance_after, note, source, created_at) VALUES (:store, :product, 'stock_in', 3, "
            "3, :balance, '', 'web', :now) RETURNING id"),
            {"store": store_id, "product": product_id, "balance": balance, "now": now}).scalar()})
    conn.execute(text("INSERT INTO stock_levels (store_id, product_id, quantity, updated_at) "
                      "VALUES (:store, :product, :quantity, :now)"),
                 {"store": store_id, "product": product_id, "quantity": 3 * count, "now": now})
    db.session.commit()
    return old


def test_migration_keeps_an_existing_ledger_as_one_partition():
    if not services.postgres_available():
        services.missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = services.create_database()
    try:
        app = create_app(_config(url))
        with app.app_context():
            upgrade(revision="purchasing_1")  # the revision just before perf_1
            store_id, product_id = _legacy_store_and_product()
            old = _legacy_stock_ins(store_id, product_id, 3)
            db.session.remove()
            upgrade()
            conn = db.session.connection()
            assert partitions.is_partitioned(conn)
            after = partitions.add_months(partitions.month_start(datetime.now(UTC)), 1)
            legacy = partitions.LEGACY_PREFIX + after.strftime("%Y_%m")
            assert {partitions.partition_of(conn, m["id"]) for m in old} == {legacy}
            # The first monthly partition starts where the old table ends; the sequence goes on.
            assert partitions.partition_name(after) in partitions.existing(conn)
            sale = commands.Movement.parse(store_id=store_id, product_id=product_id,
                                           type="sale", quantity=2)
            new = ledger.record_movement(ADMIN, sale).data["movement"]
            assert new["id"] > max(m["id"] for m in old)
            assert new["balance_after"] == "7.000"
            assert partitions.ensure_ahead(db.session.connection(), 3) == []
            assert ledger_violations(db.session.connection()) == {
                "levels": [], "chain": [], "orphans": []}
            db.session.remove()
            db.engine.dispose()
    finally:
        services.drop_database(url)


def test_month_arithmetic():
    start = partitions.month_start(datetime(2026, 12, 31, 23, 0, tzinfo=timezone(
        timedelta(hours=-5))))
    assert start == datetime(2027, 1, 1, tzinfo=UTC)
    assert partitions.add_months(start, -1) == datetime(2026, 12, 1, tzinfo=UTC)
    assert partitions.add_months(start, 13) == datetime(2028, 2, 1, tzinfo=UTC)


@pytest.mark.redis
def test_a_total_keeps_the_closed_months_count_and_counts_the_open_month(redis_pg_app,
                                                                          monkeypatch):
    """What a filter counts in months no insert can reach is kept in Redis; the open month is
    counted every time, so a new movement shows at once and the total stays exact."""
    store, other, product = make_store(), make_store(), make_product()
    now = datetime.now(UTC)
    last_month = partitions.add_months(partitions.month_start(now), -1) + timedelta(days=3)
    earlier = partitions.add_months(last_month, -1)
    _sell_at(monkeypatch, earlier, store, product, type="stock_in", quantity=5)
    _sell_at(monkeypatch, earlier, other, product, type="stock_in", quantity=5)
    _sell_at(monkeypatch, last_month, store, product)
    _sell_at(monkeypatch, now, store, product)
    cases = [(history.MovementFilter(), 4), (history.MovementFilter(store_id=store.id), 3),
             (history.MovementFilter(type="stock_in"), 2),
             (history.MovementFilter(store_ids=[other.id, store.id], type="sale"), 2),
             (history.MovementFilter(store_ids=[other.id]), 1)]
    for flt, total in cases:
        assert history.movements(flt).total == total

    counts = []
    listen = lambda *args: counts.append(args[2]) if "count(" in args[2] else None  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        assert history.movements(cases[1][0]).total == 3
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert len(counts) == 1 and "created_at >=" in counts[0]  # the open month only

    _sell_at(monkeypatch, now, store, product)
    assert history.movements(cases[1][0]).total == 4
    assert history.closed_before(datetime(2026, 12, 1, 0, 30, tzinfo=UTC)) == \
        datetime(2026, 11, 1, tzinfo=UTC)  # an hour's grace after a month turns
