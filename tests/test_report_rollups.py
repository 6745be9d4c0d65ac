"""The summary and its roll-ups equal a recount of the ledger (and of the voids and returns of
counter sales) after a random mix of movements."""
import random
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import case, func, literal, select

from tests.factories import ADMIN, make_product, make_store
from webapp.extensions import db
from webapp.models import Sale, SaleLine, SaleReversal, StockMovement
from webapp.services import catalog, commands, ledger, sales, sql
from webapp.services import report_rollups as rollups
from webapp.services.errors import InsufficientStock

M = StockMovement.__table__
R, S, L = SaleReversal.__table__, Sale.__table__, SaleLine.__table__


def random_mix(seed, count=120):
    rng = random.Random(seed)
    stores = [make_store() for _ in range(3)]
    products = [make_product(unit=unit, cost=cost)
                for unit, cost in (("kg", "80.00"), ("piece", "12.50"), ("litre", None))]
    start = datetime(2026, 2, 27, 17, tzinfo=timezone.utc)
    baskets = []
    for _ in range(count):
        store, product = rng.choice(stores), rng.choice(products)
        quantity = str(rng.randint(1, 40)) if product.unit == "piece" \
            else f"{rng.randint(1, 4000) / 1000:.3f}"
        when = rng.choice([None, (start + timedelta(minutes=rng.randint(0, 60 * 72))).isoformat()])
        kind = rng.choice(["stock_in", "stock_in", "sale", "sale", "removal", "adjustment",
                           "transfer", "basket", "reversal"])
        try:
            if kind == "basket":
                baskets.append(sales.complete_sale(ADMIN, store_id=store.id, occurred_at=when,
                                                   lines=[{"product_id": product.id,
                                                           "quantity": quantity}]).data["sale"])
            elif kind == "reversal":
                if not baskets:
                    continue
                sale = baskets.pop(rng.randrange(len(baskets)))
                if rng.random() < 0.5:
                    sales.void_sale(ADMIN, sale["id"])
                else:
                    line = sale["lines"][0]
                    sales.return_lines(ADMIN, sale["id"], lines=[{
                        "product_id": line["product_id"],
                        "quantity": str((Decimal(line["quantity"]) / 2).quantize(
                            Decimal("0.001")) if line["unit"] != "piece" else 1)}])
            elif kind == "transfer":
                other = rng.choice([s for s in stores if s is not store])
                ledger.transfer(ADMIN, commands.Transfer.parse(from_store_id=store.id,
                                                               to_store_id=other.id,
                                                               product_id=product.id,
                                                               quantity=quantity))
            else:
                ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                      product_id=product.id,
                                                                      type=kind, quantity=quantity,
                                                                      occurred_at=when,
                                                                      reason=rng.choice(["damaged", "expired", "lost"]) if kind == "removal" else None,
                                                                      unit_price=rng.choice([None, "99.99"]) if kind == "sale" else None))
        except InsufficientStock:
            continue
        if kind != "reversal":
            # A product's cost price changes now and then: reversals keep the sale's cost.
            if rng.random() < 0.05:
                catalog.update_product(ADMIN, product.id, {"cost": rng.choice(["81.00", None])})


def figures(values):
    return tuple(Decimal(str(v)) for v in values)


TOTALS = ["quantity", "delta", "amount", "movements", "cost", "without_cost"]


def recount(conn, keys):
    """The roll-up at `keys` grain, from stock_movements and sale_reversals alone."""
    moment = func.coalesce(M.c.occurred_at, M.c.created_at)
    columns = [sql.day_of(conn, moment).label("day")] + [M.c[k] for k in keys] + [M.c.type]
    price = case((M.c.type == "sale", M.c.unit_price), else_=M.c.unit_cost)
    amount = func.coalesce(func.round(M.c.quantity * price, 2), 0)
    cost = func.coalesce(func.round(M.c.quantity * M.c.unit_cost, 2), 0)
    without_cost = case((M.c.unit_cost.is_(None), 1), else_=0)
    rows = conn.execute(select(*columns, sql.exact_total(conn, M.c.quantity, 3),
                               sql.exact_total(conn, M.c.delta, 3), sql.exact_total(conn, amount, 2),
                               func.count(), sql.exact_total(conn, cost, 2),
                               func.sum(without_cost)).group_by(*columns)).all()
    counted = {tuple(str(v) for v in r[:-6]): figures(r[-6:]) for r in rows}
    # The sale side of voids and returns: the refund at the sale's price, the sale's cost.
    sold = M.alias("sold")
    key_columns = {"store_id": S.c.store_id, "product_id": L.c.product_id}
    columns = [sql.day_of(conn, R.c.created_at).label("day")] + \
        [key_columns[k] for k in keys] + [literal("sale_") + R.c.kind]
    cost = func.coalesce(func.round(R.c.quantity * sold.c.unit_cost, 2), 0)
    rows = conn.execute(
        select(*columns, sql.exact_total(conn, R.c.quantity, 3), literal(0),
               sql.exact_total(conn, R.c.amount, 2), func.count(), sql.exact_total(conn, cost, 2),
               func.sum(case((sold.c.unit_cost.is_(None), 1), else_=0)))
        .select_from(R.join(S, S.c.id == R.c.sale_id).join(L, L.c.id == R.c.sale_line_id)
                     .join(sold, sold.c.id == R.c.original_movement_id))
        .group_by(*columns)).all()
    counted.update({tuple(str(v) for v in r[:-6]): figures(r[-6:]) for r in rows})
    return counted


def stored(conn, table, keys):
    rows = conn.execute(select(table.c.day, *[table.c[k] for k in keys], table.c.type,
                               *[table.c[t] for t in TOTALS])).all()
    return {tuple(str(v) for v in r[:-6]): figures(r[-6:]) for r in rows}


def check_everything():
    conn = db.session.connection()
    assert stored(conn, rollups.SUMMARY, ["store_id", "product_id"]) == \
        recount(conn, ["store_id", "product_id"])
    for table, keys in ((rollups.STORE_DAYS, ["store_id"]), (rollups.PRODUCT_DAYS, ["product_id"]),
                        (rollups.TYPE_DAYS, [])):
        assert stored(conn, table, keys) == recount(conn, keys)
    for table, daily, key in rollups.MONTHLY:
        months = {}
        for (day, key_value, kind), values in stored(conn, daily, [key]).items():
            month_key = (day[:8] + "01", key_value, kind)
            months[month_key] = tuple(a + b for a, b in zip(months.get(month_key, (0,) * 6),
                                                             values))
        rows = conn.execute(select(table.c.month, table.c[key], table.c.type,
                                   *[table.c[t] for t in TOTALS])).all()
        assert {tuple(str(v) for v in r[:3]): figures(r[3:]) for r in rows} == \
            {k: figures(v) for k, v in months.items()}
    live = {tuple(r[:2]): figures(r[2:]) for r in conn.execute(rollups.store_stock_totals(conn))}
    snapshot = {tuple(r[:2]): figures(r[2:])
                for r in conn.execute(select(rollups.STORE_STOCK))}
    assert live == snapshot


def mix_and_check(seed):
    random_mix(seed)
    assert rollups.refresh() is None  # the first refresh rebuilds everything
    check_everything()
    random_mix(seed + 1)  # new stores and products, movements back-dated into older days
    days = rollups.refresh()
    assert days, "an incremental refresh recomputes only the days touched"
    check_everything()
    assert rollups.refresh_if_stale(3600) is None


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_a_recount_on_sqlite(app, seed):
    mix_and_check(seed)


@pytest.mark.postgres
def test_rollups_equal_a_recount_on_postgresql(pg_app):
    mix_and_check(7)


def test_the_worker_sweep_refreshes_stale_rollups(app, monkeypatch):
    """No cron needed: a worker's periodic sweep brings the roll-ups up to date."""
    import worker

    store, product = make_store(), make_product()
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="stock_in", quantity=5))
    monkeypatch.setitem(app.config, "REPORTS_ROLLUP_MAX_AGE", 0)
    worker.sweep_once(app)
    refreshed = db.session.execute(select(rollups.STATE.c.refreshed_at)).scalar()
    assert refreshed is not None


def test_the_migration_fills_cost_and_reversals_from_the_ledger(own_database):
    """reports_1 on a database with sales, voids and returns computes the same summary rows
    (cost, without_cost, sale_void / sale_return) as the ledger writes as it goes."""
    from flask_migrate import downgrade, upgrade

    from tests.conftest import _config
    from webapp import create_app

    app = create_app(_config(own_database))
    with app.app_context():
        upgrade()
        random_mix(3, count=80)
        conn = db.session.connection()
        written = stored(conn, rollups.SUMMARY, ["store_id", "product_id"])
        assert any(key[-1].startswith("sale_") for key in written)
        db.session.commit()
        db.session.remove()
        downgrade(revision="-1")  # reports_1 alone
        upgrade()
        conn = db.session.connection()
        assert stored(conn, rollups.SUMMARY, ["store_id", "product_id"]) == written
        assert rollups.refresh() is None  # the migration asked for a full rebuild
        check_everything()
        db.session.remove()
        db.engine.dispose()
