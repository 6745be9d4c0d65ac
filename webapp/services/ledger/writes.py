"""The general path: each step of a movement as its own statement, on any database.

Load the store and product rows (one round trip), move the level with a guarded UPDATE …
RETURNING (the row lock serialises writers of one store × product: no lost update, and each
movement's balance_after is the level right after it), append the movement, bump the daily
summary. SQLite and every case the fast path leaves (a level not made yet, not enough stock,
counts, transfers, receipts, reversals) take this path; fastpath.py does the same in one
statement on PostgreSQL.
"""
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select

from webapp.models import Supplier
from webapp.models.types import MONEY_PLACES
from webapp.services.errors import N_, DomainError, InsufficientStock, NotFound
from webapp.services.ledger.rules import within_level_bound
from webapp.services.ledger.serialise import movement_dict
from webapp.services.ledger.statements import LEVELS, MOVEMENT_COLUMNS, send, statement
from webapp.services.sql import insert_ignore, lock_clause
from webapp.services.validation import MAX_LEVEL, check_value, pakistan_day


@dataclass
class Context:
    """The store and product rows one movement is about (as Row: plain attributes)."""

    store: object
    product: object


class Row:
    """A row's values as attributes, with nothing else (no ORM object to load or expire)."""

    def __init__(self, **values):
        self.__dict__.update(values)


def load_one(conn, store_id, product_id=None, sku=None, store_field="store_id"):
    """The store and product rows a movement needs, in one round trip."""
    by_id = product_id is not None
    row = send(conn, "load_by_id" if by_id else "load_by_sku",
               {"b_store": store_id, "b_product": product_id if by_id else sku.lower()})
    if row is None or not row.active:
        raise NotFound("Store", field=store_field)
    if row.product_id is None:
        raise NotFound("Product", field="product_id" if by_id else "sku")
    return Context(store_of(row), product_of(row))


def store_of(row):
    """The store part of a load_* row."""
    return Row(id=row.store_id, allow_negative_stock=row.allow_negative_stock)


def product_of(row):
    """The product part of a load_* row."""
    return Row(id=row.product_id, archived=row.archived, unit=row.unit,
               sale_price=row.sale_price, cost=row.cost, reorder_level=row.reorder_level,
               tracks_expiry=row.tracks_expiry)


def check_supplier(conn, supplier_id):
    """NotFound on supplier_id unless that supplier exists."""
    table = Supplier.__table__
    if conn.execute(select(table.c.id).where(table.c.id == supplier_id)).first() is None:
        raise NotFound("Supplier", field="supplier_id")


def lock_level(conn, ctx, now):
    """The current level, row-locked for the rest of the transaction (created at 0 if new)."""
    match = (LEVELS.c.store_id == ctx.store.id) & (LEVELS.c.product_id == ctx.product.id)
    stmt = lock_clause(conn, select(LEVELS.c.quantity).where(match))
    current = conn.execute(stmt).scalar()
    if current is None:
        conn.execute(insert_ignore(conn, LEVELS).values(
            store_id=ctx.store.id, product_id=ctx.product.id, quantity=0, updated_at=now))
        current = conn.execute(stmt).scalar()
    return current


def move_level(conn, ctx, delta, now):
    """Add delta to the level with one guarded UPDATE … RETURNING; refuse to go below zero."""
    guarded = delta < 0 and not ctx.store.allow_negative_stock
    stmt = statement(conn, "move_guarded" if guarded else "move")
    params = {"b_store": ctx.store.id, "b_product": ctx.product.id, "b_delta": delta,
              "b_now": now}
    row = conn.execute(stmt, params).first()
    if row is not None:
        return row
    match = (LEVELS.c.store_id == ctx.store.id) & (LEVELS.c.product_id == ctx.product.id)
    current = conn.execute(select(LEVELS.c.quantity).where(match)).scalar()
    if current is None:  # first movement of this product in this store
        conn.execute(insert_ignore(conn, LEVELS).values(
            store_id=ctx.store.id, product_id=ctx.product.id, quantity=0, updated_at=now))
        row = conn.execute(stmt, params).first()
        if row is not None:
            return row
        current = Decimal("0")
    if not within_level_bound(current, delta):
        raise DomainError("out_of_range", N_(
            "This would take the stock level to %(level)s: a level stays within %(max)s either "
            "side of zero.", level=f"{(current + delta).normalize():f}",
            max=f"{MAX_LEVEL.normalize():f}"), field="quantity", max=str(MAX_LEVEL))
    raise InsufficientStock(current, -delta, product_id=ctx.product.id, store_id=ctx.store.id)


def insert_movement(conn, actor, ctx, now, *, type, quantity, delta, balance_after,
                    reason=None, note="", unit_price=None, unit_cost=None, supplier_id=None,
                    transfer_id=None, expected_quantity=None, counted_quantity=None,
                    occurred_at=None, idempotency_key=None, sale_value=None):
    """Append one movement (its MOVEMENT_COLUMNS) and add it to the daily summary → the
    movement as movement_dict gives it."""
    values = dict(
        store_id=ctx.store.id, product_id=ctx.product.id, type=type, quantity=quantity,
        delta=delta, balance_after=balance_after, reason=reason, note=note or "",
        unit_price=unit_price, unit_cost=unit_cost, supplier_id=supplier_id,
        transfer_id=transfer_id, expected_quantity=expected_quantity,
        counted_quantity=counted_quantity, user_id=actor.user_id, source=actor.source,
        idempotency_key=idempotency_key, occurred_at=occurred_at, created_at=now)
    values["id"] = conn.execute(statement(conn, "insert_movement"),
                                {name: values[name] for name in MOVEMENT_COLUMNS}).scalar()
    bump_summary(conn, values, sale_value)
    return movement_dict(values)


def money(quantity, price):
    """quantity × price to the paisa, or 0 without a price."""
    # Half up, as a basket's line total (services/basket.py) and SQL's round() do: the report's
    # amount for a line is then the receipt's.
    return (quantity * price).quantize(MONEY_PLACES, ROUND_HALF_UP) if price is not None \
        else Decimal(0)


def summary_figures(m, sale_value=None):
    """A movement's amount (a sale at its price, the rest at cost) and cost, for the summary.

    A basket line's sale value is its total on the receipt (`sale_value`), so the report adds
    up what the receipts show. The cost is the unit cost recorded on the movement: for a sale,
    the product's cost when it was sold. That is what the sales report's profit subtracts."""
    price = m["unit_price"] if m["type"] == "sale" else m["unit_cost"]
    # The bound on one movement's value (validation.MAX_MONEY), here for values worked out
    # from the product's own price or cost, which no door saw.
    amount = sale_value if sale_value is not None else \
        check_value(m["quantity"], price, "quantity", N_("Quantity × price"))
    return {"amount": amount,
            "cost": check_value(m["quantity"], m["unit_cost"], "quantity",
                                N_("Quantity × unit cost")),
            "without_cost": int(m["unit_cost"] is None)}


def bump_summary(conn, m, sale_value=None):
    """Add one movement to daily_stock_summary (the day is Pakistan's, of when it happened)."""
    conn.execute(statement(conn, "bump_summary"), {
        "day": pakistan_day(m["occurred_at"] or m["created_at"]), "store_id": m["store_id"],
        "product_id": m["product_id"], "type": m["type"], "quantity": m["quantity"],
        "delta": m["delta"], "movements": 1, **summary_figures(m, sale_value)})
