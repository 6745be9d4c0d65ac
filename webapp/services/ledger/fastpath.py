"""PostgreSQL's fast path: a movement's level update, the movement, its daily summary and its
audit event as one statement (one round trip instead of four).

It writes nothing when the guarded update matches no row (not enough stock, a level's bound,
or no level yet); the caller then takes the general path (writes.py), which tells those apart.
The statement is made from the same column lists as the general path's (statements.py), and
tests/test_ledger_paths.py runs both on the same inputs and compares every row they write.
"""
import json

from sqlalchemy import text

from webapp.services import audit
from webapp.services.ledger.serialise import movement_dict
from webapp.services.ledger.statements import (
    BUILDERS,
    MOVEMENT_COLUMNS,
    SUMMARY_KEY,
    SUMMARY_SUMS,
    WRITES,
    send,
)
from webapp.services.ledger.writes import summary_figures
from webapp.services.sql import is_postgresql
from webapp.services.validation import MAX_LEVEL, pakistan_day

# A level stays within MAX_LEVEL of zero; a movement towards zero is always allowed (as
# rules.within_level_bound says in Python).
LEVEL_BOUND = (f"(abs(quantity + :delta) <= {MAX_LEVEL:f} "
               "OR abs(quantity + :delta) <= abs(quantity))")
# The movement's values: each column's parameter, except the balance, which is the level's.
_MOVEMENT_VALUES = ", ".join("level.quantity" if name == "balance_after" else f":{name}"
                             for name in MOVEMENT_COLUMNS)
_SUMMARY_COLUMNS = (*SUMMARY_KEY, *SUMMARY_SUMS, "movements")
_SUMMARY_VALUES = ", ".join("1" if name == "movements" else f":{name}"
                            for name in _SUMMARY_COLUMNS)
_SUMMARY_ADDED = ", ".join([f"{name} = d.{name} + excluded.{name}" for name in SUMMARY_SUMS]
                           + ["movements = d.movements + 1"])

WRITES_SQL = f"""
WITH level AS (
    UPDATE stock_levels SET quantity = quantity + :delta, updated_at = :created_at
    WHERE store_id = :store_id AND product_id = :product_id
      AND (NOT :guarded OR quantity + :delta >= 0) AND {LEVEL_BOUND}
    RETURNING quantity, reorder_level
), movement AS (
    INSERT INTO stock_movements ({", ".join(MOVEMENT_COLUMNS)})
    SELECT {_MOVEMENT_VALUES}
    FROM level
    RETURNING id, balance_after
), summary AS (
    INSERT INTO daily_stock_summary AS d ({", ".join(_SUMMARY_COLUMNS)})
    SELECT {_SUMMARY_VALUES} FROM level
    ON CONFLICT ({", ".join(SUMMARY_KEY)}) DO UPDATE SET {_SUMMARY_ADDED}
)"""
# The audit event is the movement as movement_dict() gives it, its id and balance filled in;
# a basket's sale movements go without one (the sale's own event lists them).
EVENT_SQL = """, event AS (
    INSERT INTO audit_outbox (actor_id, action, entity_type, entity_id, after, ip, created_at)
    SELECT :user_id, 'movement.create', 'stock_movement', movement.id::text,
        CAST(:after AS jsonb) || jsonb_build_object('id', movement.id,
                                                    'balance_after', movement.balance_after::text),
        :ip, :created_at
    FROM movement
)"""
RESULT_SQL = """
SELECT movement.id, level.quantity, level.reorder_level FROM level, movement
"""
APPEND_MOVEMENT = text(WRITES_SQL + EVENT_SQL + RESULT_SQL)
APPEND_UNAUDITED = text(WRITES_SQL + RESULT_SQL)
BUILDERS.update(append=lambda conn: APPEND_MOVEMENT,
                append_unaudited=lambda conn: APPEND_UNAUDITED)
WRITES.update(("append", "append_unaudited"))


def applies(conn):
    """Whether this connection takes the fast path (PostgreSQL's)."""
    return is_postgresql(conn)


def append_in_one_statement(conn, actor, ctx, now, audited=True, sale_value=None, **m):
    """(movement, level row) written by APPEND_MOVEMENT (APPEND_UNAUDITED), or None when it
    wrote nothing (the caller then takes the general path)."""
    values = dict(store_id=ctx.store.id, product_id=ctx.product.id, transfer_id=None,
                  expected_quantity=None, counted_quantity=None, user_id=actor.user_id,
                  source=actor.source, created_at=now, **m)
    values["note"] = values["note"] or ""
    params = {**values, **summary_figures(values, sale_value),
              "guarded": values["delta"] < 0 and not ctx.store.allow_negative_stock,
              "day": pakistan_day(values["occurred_at"] or now)}
    if audited:
        params.update(ip=actor.ip, after=json.dumps(
            movement_dict({**values, "id": None, "balance_after": None})))
    row = send(conn, "append" if audited else "append_unaudited", params)
    if row is None:
        return None
    if audited:  # its event is in the outbox: have it drained after the commit (no round trip)
        audit.mark_pending()
    values.update(id=row.id, balance_after=row.quantity)
    return movement_dict(values), row
