"""The ledger's two ways of writing a movement give the same rows.

On PostgreSQL a movement whose level exists is written by one statement (services/ledger/
fastpath.py); everywhere else, and on SQLite always, by a statement per step (writes.py). Both
are made from the same column lists (statements.py); this test runs the same inputs through
each and compares every row they leave: movements, levels, the daily summary, the sale and
the audit events. On SQLite the general path's rows are compared with PostgreSQL's too (the
same figures, written out below), so the three agree.
"""
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import ADMIN, make_product, make_store, make_supplier
from webapp.extensions import db
from webapp.models import (
    AuditOutbox,
    DailyStockSummary,
    Sale,
    StockLevel,
    StockMovement,
)
from webapp.models.types import utcnow
from webapp.services import commands, ledger, sales
from webapp.services.errors import InsufficientStock
from webapp.services.ledger import fastpath

MOVEMENT_FIELDS = ("product_id", "type", "quantity", "delta", "balance_after", "reason", "note",
                   "unit_price", "unit_cost", "supplier_id", "transfer_id", "expected_quantity",
                   "counted_quantity", "user_id", "source", "idempotency_key", "occurred_at")
SUMMARY_FIELDS = ("quantity", "delta", "amount", "movements", "cost", "without_cost")


def _text(value):
    if isinstance(value, Decimal):
        return str(value)
    return None if value is None else value.isoformat() if hasattr(value, "isoformat") else value


def _scenario(store, products, supplier, when):
    """The same inputs for any store: stock-ins, sales (one above the list price, one dated),
    a removal, a basket by amount and quantity, and a sale refused for want of stock."""
    sugar, soap = products

    def move(key=None, **fields):
        return ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                     **fields), key)
    move(product_id=sugar.id, type="stock_in", quantity="20", unit_cost="140.00",
         supplier_id=supplier.id)
    move(product_id=soap.id, type="stock_in", quantity="10")
    move(product_id=sugar.id, type="sale", quantity="1.5")
    move(product_id=sugar.id, type="sale", quantity="2", unit_price="160.00", note="rush")
    move(product_id=soap.id, type="removal", quantity="1", reason="damaged")
    move(product_id=soap.id, type="sale", quantity="3", occurred_at=when.isoformat())
    move(product_id=sugar.id, type="stock_in", quantity="0.250", key=f"in-{store.id}")
    sales.complete_sale(ADMIN, store_id=store.id, idempotency_key=f"basket-{store.id}",
                        lines=[{"product_id": sugar.id, "amount": "100"},
                               {"product_id": soap.id, "quantity": "2"}])
    with pytest.raises(InsufficientStock):
        move(product_id=soap.id, type="sale", quantity="100")
    db.session.rollback()


def _trace(store, first_event):
    """Every row the scenario left for this store, without ids, store ids or server times."""
    # A key is the store's own (the same key in the other store would replay).
    rows = db.session.scalars(select(StockMovement).where(StockMovement.store_id == store.id)
                              .order_by(StockMovement.id)).all()
    movements = [{k: _text(getattr(m, k)) if k != "idempotency_key" or m.idempotency_key is None
                  else m.idempotency_key.replace(str(store.id), "S")
                  for k in MOVEMENT_FIELDS} for m in rows]
    position = {m.id: i for i, m in enumerate(rows)}  # a movement by its place, not its id
    levels = [(level.product_id, str(level.quantity)) for level in db.session.scalars(
        select(StockLevel).where(StockLevel.store_id == store.id)
        .order_by(StockLevel.product_id))]
    summary = {}  # per product and type, whichever Pakistan day (the dated sale's may differ)
    for row in db.session.scalars(select(DailyStockSummary)
                                  .where(DailyStockSummary.store_id == store.id)):
        figures = [getattr(row, k) for k in SUMMARY_FIELDS]
        before = summary.get((row.product_id, row.type))
        summary[(row.product_id, row.type)] = figures if before is None else \
            [a + b for a, b in zip(before, figures)]
    summary = {key: tuple(_text(v) for v in figures) for key, figures in summary.items()}
    sale = db.session.scalars(select(Sale).where(Sale.store_id == store.id)).one()
    events = []
    for event in db.session.scalars(select(AuditOutbox).where(AuditOutbox.id >= first_event)
                                    .order_by(AuditOutbox.id)):
        after = event.after if isinstance(event.after, dict) else json.loads(event.after or "{}")
        after = {k: v for k, v in after.items()
                 if k not in ("id", "store_id", "created_at", "idempotency_key", "number")}
        for line in after.get("lines", ()):
            line["movement_id"] = position[line["movement_id"]]
        events.append((event.action, event.entity_type, after))
    return {"movements": movements, "levels": levels, "summary": summary,
            "sale": (sale.number, str(sale.total), sale.status), "events": events}


def _run(products, supplier, when):
    store = make_store()
    db.session.commit()
    first = (db.session.scalar(select(db.func.max(AuditOutbox.id))) or 0) + 1
    _scenario(store, products, supplier, when)
    return _trace(store, first)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def on_each_database(request):
    request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    products = (make_product(unit="kg", sale_price="150.00", cost="120.00", name="Cheeni"),
                make_product(unit="piece", sale_price="60.00", cost=None, name="Soap"))
    return request.param, products, make_supplier()


def test_the_fast_path_and_the_general_path_write_the_same_rows(on_each_database, monkeypatch):
    database, products, supplier = on_each_database
    when = utcnow() - timedelta(hours=3)
    taken = []
    real = fastpath.append_in_one_statement

    def counted(*args, **kwargs):
        result = real(*args, **kwargs)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(fastpath, "append_in_one_statement", counted)
    as_it_runs = _run(products, supplier, when)
    fast_writes = sum(taken)
    monkeypatch.setattr(fastpath, "applies", lambda conn: False)
    general = _run(products, supplier, when)
    assert sum(taken) == fast_writes  # the second run never took the fast path
    if database == "postgresql":  # the first did, for every movement whose level existed
        assert fast_writes == 7
    else:
        assert fast_writes == 0
    assert as_it_runs == general
    _check_figures(general, products, supplier)


def _check_figures(trace, products, supplier):
    """What both paths write, figure by figure, worked out by hand (the same on SQLite and
    PostgreSQL): a sale by amount counts its receipt's Rs 100.00, not 0.667 × 150."""
    sugar, soap = products[0].id, products[1].id
    assert [(m["type"], m["product_id"], m["quantity"], m["balance_after"], m["unit_price"],
             m["unit_cost"], m["supplier_id"]) for m in trace["movements"]] == [
        ("stock_in", sugar, "20.000", "20.000", None, "140.00", supplier.id),
        ("stock_in", soap, "10.000", "10.000", None, None, None),
        ("sale", sugar, "1.500", "18.500", "150.00", "120.00", None),
        ("sale", sugar, "2.000", "16.500", "160.00", "120.00", None),
        ("removal", soap, "1.000", "9.000", None, None, None),
        ("sale", soap, "3.000", "6.000", "60.00", None, None),
        ("stock_in", sugar, "0.250", "16.750", None, "120.00", None),
        ("sale", sugar, "0.667", "16.083", "150.00", "120.00", None),
        ("sale", soap, "2.000", "4.000", "60.00", None, None),
    ]
    assert trace["levels"] == [(sugar, "16.083"), (soap, "4.000")]
    # (quantity, delta, amount, movements, cost, movements without a cost)
    assert trace["summary"] == {
        (sugar, "stock_in"): ("20.250", "20.250", "2830.00", 2, "2830.00", 0),
        (sugar, "sale"): ("4.167", "-4.167", "645.00", 3, "500.04", 0),
        (soap, "stock_in"): ("10.000", "10.000", "0.00", 1, "0.00", 1),
        (soap, "removal"): ("1.000", "-1.000", "0.00", 1, "0.00", 1),
        (soap, "sale"): ("5.000", "-5.000", "300.00", 2, "0.00", 2),
    }
    assert trace["sale"] == (1, "220.00", "completed")
    assert [action for action, _type, _after in trace["events"]] == [
        "movement.create", "movement.create", "movement.create", "price.override",
        "movement.create", "movement.create", "movement.create", "movement.create",
        "sale.complete"]
