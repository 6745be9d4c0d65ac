"""The stock ledger: the only code that changes stock.

Each operation is one transaction that claims the idempotency key, moves the level with a
guarded UPDATE (the row lock serialises writers of one store × product, so there is no lost
update and each movement's balance_after is the level right after it), appends the movement,
bumps the daily summary and writes the audit event. The hot path is SQLAlchemy Core: no ORM
objects are loaded or refreshed.
"""
import json
import uuid
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from blinker import Namespace
from sqlalchemy import bindparam, insert, select, text, update

from webapp.extensions import db
from webapp.infra import dbretry, pinned, replica
from webapp.models import (
    ADJUSTMENT_REASONS,
    REMOVAL_REASONS,
    SALE_REVERSAL_TYPES,
    WHOLE_UNITS,
    DailyStockSummary,
    Product,
    StockLevel,
    StockMovement,
    Store,
    Supplier,
)
from webapp.models.types import MONEY_PLACES, utcnow
from webapp.services import audit, commands, idempotency, pricing
from webapp.services.commands import MAX_COUNT_LINES, RECORDABLE_TYPES  # noqa: F401
from webapp.services.handlers import handles
from webapp.services.errors import N_, Conflict, DomainError, InsufficientStock, NotFound
from webapp.services.sql import (
    exact_sum,
    insert_ignore,
    is_postgresql,
    lock_clause,
    upsert,
)
from webapp.services.validation import (
    MAX_LEVEL,
    check_value,
    iso_time,
    pakistan_day,
    parse_id,
    parse_quantity,
)

LEVELS = StockLevel.__table__
MOVEMENTS = StockMovement.__table__
SUMMARY = DailyStockSummary.__table__
PRODUCTS = Product.__table__
STORES = Store.__table__


# Sent after commit with the (store_id, product_id) pairs whose level changed (and the write's
# result as `data`); the stock cache, live updates and metrics listen. Receivers must not
# raise: the write has already happened.
signals = Namespace()
stock_changed = signals.signal("stock-changed")


@dataclass
class LedgerResult:
    data: dict
    replayed: bool = False
    status_code: int = 201


@dataclass
class _Context:
    store: object
    product: object


# ---------------------------------------------------------------------------------------------
# Public operations


@handles(commands.Movement)
def record_movement(actor, command, idempotency_key=None):
    """Record a commands.Movement (stock_in, sale, removal or adjustment) → {"movement", "level"}.

    An adjustment's difference (shelf count minus `expected`, or minus the level now when
    there is no `expected`) is applied to the level now.
    """
    m = _check_movement(command)
    key = idempotency.check_key(idempotency_key)
    request = {"op": "movement", **vars(m)}
    is_count = m.type == "adjustment"

    def write(conn, now):
        ctx = _load(conn, m.store_id, product_id=m.product_id, sku=m.sku)
        _check_product(ctx.product, m.quantity)
        price = pricing.check_override(conn, actor, ctx.store.id, ctx.product.id,
                                       ctx.product.sale_price, m.unit_price, "unit_price") \
            if m.unit_price is not None else None
        if m.supplier_id is not None:
            _check_supplier(conn, m.supplier_id)
        if is_count:
            current = _lock_level(conn, ctx, now)
            base = current if m.expected is None else m.expected
            delta = m.quantity - base
            if delta == 0:
                level = _level_dict(ctx, current, now)
                return {"movement": None, "level": level}, [], 200
            level_row = _move_level(conn, ctx, delta, now)
            movement = _insert_movement(
                conn, actor, ctx, now, type="adjustment", quantity=abs(delta), delta=delta,
                balance_after=level_row.quantity, reason=m.reason, note=m.note,
                unit_cost=ctx.product.cost, expected_quantity=base, counted_quantity=m.quantity,
                occurred_at=m.occurred_at, idempotency_key=key)
        else:
            delta = m.quantity if m.type == "stock_in" else -m.quantity
            fields = dict(
                type=m.type, quantity=m.quantity, delta=delta, reason=m.reason, note=m.note,
                unit_price=(price if price is not None else ctx.product.sale_price)
                if m.type == "sale" else None,
                unit_cost=m.unit_cost if m.unit_cost is not None else ctx.product.cost,
                supplier_id=m.supplier_id, occurred_at=m.occurred_at, idempotency_key=key)
            appended = _append_in_one_statement(conn, actor, ctx, now, **fields) \
                if is_postgresql(conn) else None
            if appended is not None:
                movement, level_row = appended
                level = _level_dict(ctx, level_row.quantity, now, level_row.reorder_level)
                return {"movement": movement, "level": level}, [(ctx.store.id, ctx.product.id)], 201
            level_row = _move_level(conn, ctx, delta, now)
            movement = _insert_movement(conn, actor, ctx, now, balance_after=level_row.quantity,
                                        **fields)
        audit.record(conn, actor, "movement.create", "stock_movement", movement["id"],
                     after=movement)
        level = _level_dict(ctx, level_row.quantity, now, level_row.reorder_level)
        return {"movement": movement, "level": level}, [(ctx.store.id, ctx.product.id)], 201

    return _run(actor, key, request, write, standalone=True)


@handles(commands.Transfer)
def transfer(actor, command, idempotency_key=None):
    """Carry out a commands.Transfer: a linked transfer_out + transfer_in, atomically."""
    t = command
    key = idempotency.check_key(idempotency_key)
    request = {"op": "transfer", "from": t.from_store_id, "to": t.to_store_id,
               "product_id": t.product_id, "quantity": t.quantity, "note": t.note}

    def write(conn, now):
        source = _load(conn, t.from_store_id, product_id=t.product_id, store_field="from_store_id")
        target = _load(conn, t.to_store_id, product_id=t.product_id, store_field="to_store_id")
        _check_product(source.product, t.quantity)
        transfer_id = str(uuid.uuid4())
        # Lock the two levels in store-id order so that A→B and B→A cannot deadlock.
        legs = sorted([(source, -t.quantity), (target, t.quantity)],
                      key=lambda leg: leg[0].store.id)
        rows = {ctx.store.id: _move_level(conn, ctx, delta, now) for ctx, delta in legs}
        movements = {}
        for ctx, delta, kind in ((source, -t.quantity, "transfer_out"),
                                 (target, t.quantity, "transfer_in")):
            movements[kind] = _insert_movement(
                conn, actor, ctx, now, type=kind, quantity=t.quantity, delta=delta,
                balance_after=rows[ctx.store.id].quantity, note=t.note,
                unit_cost=ctx.product.cost, transfer_id=transfer_id, idempotency_key=key)
        audit.record(conn, actor, "transfer.create", "transfer", transfer_id, after={
            "from_store_id": t.from_store_id, "to_store_id": t.to_store_id,
            "product_id": t.product_id, "quantity": str(t.quantity)})
        data = {
            "transfer_id": transfer_id,
            "transfer_out": movements["transfer_out"],
            "transfer_in": movements["transfer_in"],
            "from_level": _level_dict(source, rows[t.from_store_id].quantity, now,
                                      rows[t.from_store_id].reorder_level),
            "to_level": _level_dict(target, rows[t.to_store_id].quantity, now,
                                    rows[t.to_store_id].reorder_level),
        }
        changed = [(t.from_store_id, t.product_id), (t.to_store_id, t.product_id)]
        return data, changed, 201

    return _run(actor, key, request, write)


def count_difference(line, current):
    """(base, difference) of one counted line: the count is compared with what the page
    expected (or, without that, the level now); the difference is applied to the level now."""
    base = current if line.expected is None else line.expected
    return base, line.quantity - base


def _apply_count(actor, command, idempotency_key=None):
    """Apply a commands.Count (or an import's OpeningStock) → one adjustment per product whose
    count differs.

    Sales recorded while the shelf was being counted stay recorded, because each difference
    is applied to the level now.
    """
    key = idempotency.check_key(idempotency_key)
    request = {"op": "count", "store_id": command.store_id, "note": command.note,
               "lines": [[line.product_id, line.quantity, line.expected]
                         for line in command.lines]}

    def write(conn, now):
        data, changed = write_count(conn, actor, command, now, key)
        return data, changed, 201

    return _run(actor, key, request, write)


apply_count = handles(commands.Count)(_apply_count)
apply_opening_stock = handles(commands.OpeningStock)(_apply_count)


def check_countable(product, quantity):
    """The product rules a count line meets wherever it is typed: not archived, and whole
    units counted whole. `product` has .archived and .unit."""
    _check_product(product, quantity, allow_zero=True)


def write_count(conn, actor, command, now, idempotency_key=None):
    """A count's adjustments inside the caller's transaction (see run_in_transaction), for a
    service that keeps rows of its own beside them (services/count_drafts.py) → (data, changed)."""
    store_id, note = command.store_id, command.note
    adjustments, unchanged, changed_during_count, changed = [], [], [], []
    for line in command.lines:  # by product id: one lock order for every writer
        ctx = _load(conn, store_id, product_id=line.product_id)
        _check_product(ctx.product, line.quantity, allow_zero=True)
        current = _lock_level(conn, ctx, now)
        base, delta = count_difference(line, current)
        if current != base:
            changed_during_count.append(line.product_id)
        if delta == 0:
            unchanged.append(_level_dict(ctx, current, now))
            continue
        row = _move_level(conn, ctx, delta, now)
        adjustments.append(_insert_movement(
            conn, actor, ctx, now, type="adjustment", quantity=abs(delta), delta=delta,
            balance_after=row.quantity, reason="count", note=note,
            unit_cost=ctx.product.cost, expected_quantity=base,
            counted_quantity=line.quantity, idempotency_key=idempotency_key))
        changed.append((store_id, line.product_id))
    audit.record(conn, actor, "count.apply", "store", store_id, after={
        "lines": len(command.lines), "adjustments": [m["id"] for m in adjustments]})
    data = {"store_id": store_id, "adjustments": adjustments, "unchanged": unchanged,
            "changed_during_count": changed_during_count}
    return data, changed


# ---------------------------------------------------------------------------------------------
# Many lines in one transaction, for services that keep rows of their own beside the movements
# (services/sales.py: a basket's sale movements, a void's or return's reversing movements).
# They run inside `run_in_transaction`'s write(conn, now) and lock levels in product-id order,
# so two baskets sharing products can never deadlock.


@dataclass
class Line:
    """One line of a multi-line write: which product, how much, at what unit price."""

    index: int
    product_id: int
    quantity: Decimal
    unit_price: Decimal | None = None
    # A basket line: its total as the receipt shows it (services/basket.py), which the daily
    # summary counts as the sale's value instead of quantity × unit_price.
    amount: Decimal | None = None
    # A void or return line: the sale movement it puts back, and the sale value it refunds.
    reverses: int | None = None
    refund: Decimal | None = None


REVERSAL_REASONS = ("void", "return")


def load_lines(conn, store_id, lines):
    """The store and product rows of every line in one round trip (NotFound names the line's
    field)."""
    rows = conn.execute(_statement(conn, "load_many"), {
        "b_store": store_id, "b_products": sorted({line.product_id for line in lines})}).all()
    if not rows or not rows[0].active:
        raise NotFound("Store", field="store_id")
    store = _store_of(rows[0])
    products = {row.product_id: _product_of(row) for row in rows if row.product_id is not None}
    contexts = {}
    for line in lines:
        if line.product_id not in products:
            raise NotFound("Product", field=f"lines.{line.index}.product_id")
        contexts[line.index] = _Context(store, products[line.product_id])
    return contexts


def take_lines(conn, actor, contexts, lines, now, *, note="", occurred_at=None,
               idempotency_key=None):
    """Write one `sale` movement per line, all or nothing.

    Every short line is reported (InsufficientStock with a field `lines.<i>.quantity` each);
    the caller's transaction is then rolled back, so nothing is written. Returns
    {index: (movement, level)}.
    """
    written, short = {}, []
    one_statement = is_postgresql(conn)
    for line in sorted(lines, key=lambda line: (line.product_id, line.index)):
        ctx = contexts[line.index]
        fields = dict(type="sale", quantity=line.quantity, delta=-line.quantity, reason=None,
                      note=note, unit_price=line.unit_price, unit_cost=ctx.product.cost,
                      supplier_id=None, occurred_at=occurred_at, idempotency_key=idempotency_key)
        appended = _append_in_one_statement(conn, actor, ctx, now, audited=False,
                                            sale_value=line.amount, **fields) \
            if one_statement and not short else None
        if appended is not None:
            movement, row = appended
            written[line.index] = (movement,
                                   _level_dict(ctx, row.quantity, now, row.reorder_level))
            continue
        try:
            row = _move_level(conn, ctx, -line.quantity, now)
        except InsufficientStock as error:
            short.append((line, Decimal(error.details["available"])))
            continue
        if short:
            continue  # nothing will be kept; only the remaining checks matter
        movement = _insert_movement(conn, actor, ctx, now, balance_after=row.quantity,
                                    sale_value=line.amount, **fields)
        written[line.index] = (movement, _level_dict(ctx, row.quantity, now, row.reorder_level))
    if short:
        raise ShortLines([(line.index, line.product_id, available, line.quantity)
                          for line, available in sorted(short, key=lambda s: s[0].index)])
    return written


def put_back_lines(conn, actor, contexts, lines, now, *, reason, note=""):
    """Add lines back to stock as `adjustment` movements (reason `void` or `return`).

    Goods come back at the unit cost their sale movement recorded (`Line.reverses`), so a void
    takes back exactly the cost the sale counted. The sale side of each line (quantity, the
    sale value refunded, that cost) is added to the daily summary as a `sale_void` or
    `sale_return` row, which the sales reports subtract. Returns {index: (movement, level)};
    locks in product-id order like take_lines.
    """
    if reason not in REVERSAL_REASONS:
        raise ValueError(reason)
    sold_at = _unit_costs(conn, [line.reverses for line in lines if line.reverses is not None])
    written = {}
    for line in sorted(lines, key=lambda line: (line.product_id, line.index)):
        ctx = contexts[line.index]
        unit_cost = sold_at[line.reverses] if line.reverses in sold_at else ctx.product.cost
        row = _move_level(conn, ctx, line.quantity, now)
        movement = _insert_movement(
            conn, actor, ctx, now, type="adjustment", quantity=line.quantity,
            delta=line.quantity, balance_after=row.quantity, reason=reason, note=note,
            unit_price=None, unit_cost=unit_cost)
        conn.execute(_statement(conn, "bump_summary"), {
            "day": pakistan_day(now), "store_id": ctx.store.id, "product_id": ctx.product.id,
            "type": SALE_REVERSAL_TYPES[reason], "quantity": line.quantity, "delta": 0,
            "amount": line.refund or Decimal(0), "movements": 1,
            "cost": _money(line.quantity, unit_cost), "without_cost": int(unit_cost is None)})
        written[line.index] = (movement, _level_dict(ctx, row.quantity, now, row.reorder_level))
    return written


def _unit_costs(conn, movement_ids):
    """{movement id: its unit cost} of the sale movements a void or return puts back."""
    if not movement_ids:
        return {}
    return dict(conn.execute(select(MOVEMENTS.c.id, MOVEMENTS.c.unit_cost)
                             .where(MOVEMENTS.c.id.in_(sorted(set(movement_ids))))).all())


def run_in_transaction(actor, key, request, write, standalone=False):
    """Run write(conn, now) -> (data, changed pairs, status) as one idempotent transaction
    (`standalone`: write() uses nothing but conn; see _run)."""
    return _run(actor, key, request, write, standalone)


class ShortLines(InsufficientStock):
    """Some lines of a multi-line write are short: one field per line, `lines.<i>.quantity`."""

    def __init__(self, shortfalls):
        fields, lines = {}, []
        for index, product_id, available, requested in shortfalls:
            fields[f"lines.{index}.quantity"] = N_(
                "Only %(available)s in stock; cannot take %(requested)s.",
                available=f"{available.normalize():f}", requested=f"{requested.normalize():f}")
            lines.append({"index": index, "product_id": product_id,
                          "available": str(available), "requested": str(requested)})
        Conflict.__init__(self, "insufficient_stock",
                          N_("Not enough stock for some lines; nothing was recorded."),
                          fields=fields, lines=lines)


# ---------------------------------------------------------------------------------------------
# The transaction


def _run(actor, key, request, write, standalone=False):
    """Run write(conn, now) in one transaction with idempotency; signal the change after commit.

    A `standalone` write (its write() touches nothing but `conn`: no ORM objects) runs on a Core
    connection of its own, unless the request's ORM session already has a transaction open,
    which it then joins (one transaction and one connection per request, as for every other
    write). Opening, committing and tearing down a session for nothing else cost 11 % of a
    random-row sale's CPU in-process; the Core connection is the thread's own (infra/pinned).
    """
    session = db.session
    if standalone and not (session.registry.has() and session().in_transaction()):
        conn = pinned.connection()
        try:
            result, changed = _transaction(conn, conn, actor, key, request, write)
        except DomainError:
            raise  # refused and rolled back: the connection is fine
        except Exception:
            pinned.discard()
            raise
    else:
        result, changed = _transaction(session.connection(), session, actor, key, request,
                                       write)
    if changed:
        stock_changed.send(None, changes=changed, data=result.data)
    return result


def _transaction(conn, owner, actor, key, request, write):
    """(LedgerResult, changed pairs) of write(conn, now), committed or rolled back by `owner`
    (the session, or the connection itself)."""
    try:
        if key:
            replay = idempotency.claim(conn, actor.scope, key, idempotency.fingerprint(request))
            if replay:
                owner.rollback()
                return LedgerResult(replay.response, replayed=True,
                                    status_code=replay.status_code), None
        data, changed, status = write(conn, utcnow())
        if key:
            idempotency.complete(conn, actor.scope, key, status, data)
        owner.commit()
    except Exception:
        owner.rollback()
        raise
    return LedgerResult(data, status_code=status), changed


def _load(conn, store_id, product_id=None, sku=None, store_field="store_id"):
    """The store and product rows a movement needs, in one round trip."""
    by_id = product_id is not None
    row = _send(conn, "load_by_id" if by_id else "load_by_sku",
                {"b_store": store_id, "b_product": product_id if by_id else sku.lower()})
    if row is None or not row.active:
        raise NotFound("Store", field=store_field)
    if row.product_id is None:
        raise NotFound("Product", field="product_id" if by_id else "sku")
    return _Context(_store_of(row), _product_of(row))


def _store_of(row):
    return _Row(id=row.store_id, allow_negative_stock=row.allow_negative_stock)


def _product_of(row):
    return _Row(id=row.product_id, archived=row.archived, unit=row.unit,
                sale_price=row.sale_price, cost=row.cost, reorder_level=row.reorder_level)


class _Row:
    def __init__(self, **values):
        self.__dict__.update(values)


def _check_movement(m):
    """The rules of a movement that depend on its type; the command with its reason filled in."""
    reason = m.reason
    if m.type == "removal":
        if reason not in REMOVAL_REASONS:
            raise DomainError("invalid", N_("Reason must be one of: %(reasons)s.",
                                            reasons=", ".join(REMOVAL_REASONS)),
                              field="reason")
    elif m.type == "adjustment":
        reason = reason or "count"
        if reason not in ADJUSTMENT_REASONS:
            raise DomainError("invalid",
                              N_("Reason must be one of: %(reasons)s.",
                                 reasons=", ".join(ADJUSTMENT_REASONS)),
                              field="reason")
    elif reason is not None:
        raise DomainError("invalid", N_("A reason applies to removals and adjustments only."),
                          field="reason")
    if m.unit_price is not None and m.type != "sale":
        raise DomainError("invalid", "Unit price applies to sales only.", field="unit_price")
    if m.supplier_id is not None and m.type != "stock_in":
        raise DomainError("invalid", "A supplier applies to stock-in only.", field="supplier_id")
    return m if reason == m.reason else replace(m, reason=reason)


def _check_product(product, quantity, allow_zero=False):
    if product.archived:
        raise DomainError("product_archived", N_("This product is archived; restore it first."),
                          field="product_id")
    if product.unit in WHOLE_UNITS and quantity != quantity.to_integral_value():
        raise DomainError("invalid", N_("This product is counted in whole pieces.")
                          if product.unit == "piece" else
                          N_("This product is counted in whole %(unit)ss.", unit=product.unit),
                          field="quantity")


def _check_supplier(conn, supplier_id):
    table = Supplier.__table__
    if conn.execute(select(table.c.id).where(table.c.id == supplier_id)).first() is None:
        raise NotFound("Supplier", field="supplier_id")


def _lock_level(conn, ctx, now):
    """The current level, row-locked for the rest of the transaction (created at 0 if new)."""
    match = (LEVELS.c.store_id == ctx.store.id) & (LEVELS.c.product_id == ctx.product.id)
    stmt = lock_clause(conn, select(LEVELS.c.quantity).where(match))
    current = conn.execute(stmt).scalar()
    if current is None:
        conn.execute(insert_ignore(conn, LEVELS).values(
            store_id=ctx.store.id, product_id=ctx.product.id, quantity=0, updated_at=now))
        current = conn.execute(stmt).scalar()
    return current


def _move_level(conn, ctx, delta, now):
    """Add delta to the level with one guarded UPDATE … RETURNING; refuse to go below zero."""
    guarded = delta < 0 and not ctx.store.allow_negative_stock
    stmt = _statement(conn, "move_guarded" if guarded else "move")
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
    if not _within_level_bound(current, delta):
        raise DomainError("out_of_range", N_(
            "This would take the stock level to %(level)s: a level stays within %(max)s either "
            "side of zero.", level=f"{(current + delta).normalize():f}",
            max=f"{MAX_LEVEL.normalize():f}"), field="quantity", max=str(MAX_LEVEL))
    raise InsufficientStock(current, -delta, product_id=ctx.product.id, store_id=ctx.store.id)


def _within_level_bound(current, delta):
    """A level stays within MAX_LEVEL of zero; a movement towards zero is always allowed (the
    statements say the same in SQL: _LEVEL_BOUND)."""
    after = abs(current + delta)
    return after <= MAX_LEVEL or after <= abs(current)


def _insert_movement(conn, actor, ctx, now, *, type, quantity, delta, balance_after,
                     reason=None, note="", unit_price=None, unit_cost=None, supplier_id=None,
                     transfer_id=None, expected_quantity=None, counted_quantity=None,
                     occurred_at=None, idempotency_key=None, sale_value=None):
    values = dict(
        store_id=ctx.store.id, product_id=ctx.product.id, type=type, quantity=quantity,
        delta=delta, balance_after=balance_after, reason=reason, note=note or "",
        unit_price=unit_price, unit_cost=unit_cost, supplier_id=supplier_id,
        transfer_id=transfer_id, expected_quantity=expected_quantity,
        counted_quantity=counted_quantity, user_id=actor.user_id, source=actor.source,
        idempotency_key=idempotency_key, occurred_at=occurred_at, created_at=now)
    values["id"] = conn.execute(_statement(conn, "insert_movement"), values).scalar()
    _bump_summary(conn, values, sale_value)
    return movement_dict(values)


# PostgreSQL: the level update, the movement, the daily summary and the audit event as one
# statement (one round trip instead of four). It writes nothing when the guarded update
# matches no row (not enough stock, or no level yet); the caller then takes the general path,
# which tells those two apart. The audit event is the movement as movement_dict() gives it;
# a basket's sale movements go without one (the sale's own event lists them).
_LEVEL_BOUND = (f"(abs(quantity + :delta) <= {MAX_LEVEL:f} "
                "OR abs(quantity + :delta) <= abs(quantity))")
_APPEND_WRITES = f"""
WITH level AS (
    UPDATE stock_levels SET quantity = quantity + :delta, updated_at = :now
    WHERE store_id = :store_id AND product_id = :product_id
      AND (NOT :guarded OR quantity + :delta >= 0) AND {_LEVEL_BOUND}
    RETURNING quantity, reorder_level
), movement AS (
    INSERT INTO stock_movements (store_id, product_id, type, quantity, delta, balance_after,
        reason, note, unit_price, unit_cost, supplier_id, user_id, source, idempotency_key,
        occurred_at, created_at)
    SELECT :store_id, :product_id, :type, :quantity, :delta, level.quantity, :reason, :note,
        :unit_price, :unit_cost, :supplier_id, :user_id, :source, :idempotency_key,
        :occurred_at, :now
    FROM level
    RETURNING id, balance_after
), summary AS (
    INSERT INTO daily_stock_summary AS d (day, store_id, product_id, type, quantity, delta,
        amount, movements, cost, without_cost)
    SELECT :day, :store_id, :product_id, :type, :quantity, :delta, :amount, 1, :cost,
        :without_cost FROM level
    ON CONFLICT (day, store_id, product_id, type) DO UPDATE SET
        quantity = d.quantity + excluded.quantity, delta = d.delta + excluded.delta,
        amount = d.amount + excluded.amount, movements = d.movements + 1,
        cost = d.cost + excluded.cost, without_cost = d.without_cost + excluded.without_cost
)"""
_APPEND_EVENT = """, event AS (
    INSERT INTO audit_outbox (actor_id, action, entity_type, entity_id, after, ip, created_at)
    SELECT :user_id, 'movement.create', 'stock_movement', movement.id::text,
        CAST(:after AS jsonb) || jsonb_build_object('id', movement.id,
                                                    'balance_after', movement.balance_after::text),
        :ip, :now
    FROM movement
)"""
_APPEND_RESULT = """
SELECT movement.id, level.quantity, level.reorder_level FROM level, movement
"""
_APPEND_MOVEMENT = text(_APPEND_WRITES + _APPEND_EVENT + _APPEND_RESULT)
_APPEND_UNAUDITED = text(_APPEND_WRITES + _APPEND_RESULT)


def _append_in_one_statement(conn, actor, ctx, now, audited=True, sale_value=None, **m):
    """(movement, level row) written by _APPEND_MOVEMENT (_APPEND_UNAUDITED), or None when it
    wrote nothing."""
    values = dict(store_id=ctx.store.id, product_id=ctx.product.id, transfer_id=None,
                  expected_quantity=None, counted_quantity=None, user_id=actor.user_id,
                  source=actor.source, created_at=now, **m)
    values["note"] = values["note"] or ""
    params = {**values, "now": now, **_summary_figures(values, sale_value),
              "guarded": values["delta"] < 0 and not ctx.store.allow_negative_stock,
              "day": pakistan_day(values["occurred_at"] or now)}
    if audited:
        params.update(ip=actor.ip, after=json.dumps(
            movement_dict({**values, "id": None, "balance_after": None})))
    row = _send(conn, "append" if audited else "append_unaudited", params)
    if row is None:
        return None
    values.update(id=row.id, balance_after=row.quantity)
    return movement_dict(values), row


def _money(quantity, price):
    # Half up, as a basket's line total (services/basket.py) and SQL's round() do: the report's
    # amount for a line is then the receipt's.
    return (quantity * price).quantize(MONEY_PLACES, ROUND_HALF_UP) if price is not None \
        else Decimal(0)


def _summary_figures(m, sale_value=None):
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


def _bump_summary(conn, m, sale_value=None):
    """Add one movement to daily_stock_summary (the day is Pakistan's, of when it happened)."""
    conn.execute(_statement(conn, "bump_summary"), {
        "day": pakistan_day(m["occurred_at"] or m["created_at"]), "store_id": m["store_id"],
        "product_id": m["product_id"], "type": m["type"], "quantity": m["quantity"],
        "delta": m["delta"], "movements": 1, **_summary_figures(m, sale_value)})


# ---------------------------------------------------------------------------------------------
# The hot path's statements, built once per dialect: building and cache-keying a Core
# statement on every call cost more CPU than the database round trip (bench/profile.py).

_STATEMENTS = {}


def _statement(conn, name):
    key = (conn.dialect.name, name)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        stmt = _STATEMENTS[key] = _BUILDERS[name](conn)
    return stmt


# The sale's two statements, on PostgreSQL: sent on the DBAPI cursor as the text they compile
# to (infra/dbretry.send), which skips SQLAlchemy's compiled-cache lookup, its per-parameter
# and per-column processing and its execution context and result objects: about 80 + 60 µs a
# statement. Only statements whose parameters and columns need no processing go this way
# (untyped parameters; ints, Decimals, strings and booleans, which psycopg2 adapts and returns
# itself); the dropped-connection retry and the replica's write marking are kept.
_DRIVER_SQL = {}
_WRITES = frozenset(("append", "append_unaudited"))


def _send(conn, name, params):
    """The first row of one of the sale's statements (the loads, the appends), or None."""
    if not is_postgresql(conn):
        return conn.execute(_statement(conn, name), params).first()
    sql = _DRIVER_SQL.get(name)
    if sql is None:
        sql = _DRIVER_SQL[name] = str(_statement(conn, name).compile(dialect=conn.dialect))
    if name in _WRITES:
        replica.note_write()
    return dbretry.send(conn, sql, params)


def _build_load(match_product):
    def build(conn):
        return (select(STORES.c.id.label("store_id"), STORES.c.active,
                       STORES.c.allow_negative_stock, PRODUCTS.c.id.label("product_id"),
                       PRODUCTS.c.archived, PRODUCTS.c.unit, PRODUCTS.c.sale_price,
                       PRODUCTS.c.cost, PRODUCTS.c.reorder_level)
                .select_from(STORES.outerjoin(PRODUCTS, match_product()))
                .where(STORES.c.id == bindparam("b_store")))
    return build


def _build_move(guarded):
    def build(conn):
        new_quantity = exact_sum(conn, LEVELS.c.quantity,
                                 bindparam("b_delta", type_=LEVELS.c.quantity.type))
        stmt = (update(LEVELS)
                .where(LEVELS.c.store_id == bindparam("b_store"),
                       LEVELS.c.product_id == bindparam("b_product"))
                .values(quantity=new_quantity, updated_at=bindparam("b_now",
                                                                    type_=LEVELS.c.updated_at.type))
                .returning(LEVELS.c.quantity, LEVELS.c.reorder_level))
        after = db.func.abs(new_quantity)
        stmt = stmt.where((after <= MAX_LEVEL) | (after <= db.func.abs(LEVELS.c.quantity)))
        return stmt.where(new_quantity >= 0) if guarded else stmt
    return build


def _build_bump_summary(conn):
    stmt = upsert(conn, SUMMARY)
    return stmt.on_conflict_do_update(
        index_elements=[SUMMARY.c.day, SUMMARY.c.store_id, SUMMARY.c.product_id, SUMMARY.c.type],
        set_={"quantity": exact_sum(conn, SUMMARY.c.quantity, stmt.excluded.quantity),
              "delta": exact_sum(conn, SUMMARY.c.delta, stmt.excluded.delta),
              "amount": exact_sum(conn, SUMMARY.c.amount, stmt.excluded.amount, 2),
              "movements": SUMMARY.c.movements + 1,
              "cost": exact_sum(conn, SUMMARY.c.cost, stmt.excluded.cost, 2),
              "without_cost": SUMMARY.c.without_cost + stmt.excluded.without_cost})


_BUILDERS = {
    "load_by_id": _build_load(lambda: PRODUCTS.c.id == bindparam("b_product")),
    "load_by_sku": _build_load(lambda: db.func.lower(PRODUCTS.c.sku) == bindparam("b_product")),
    "load_many": _build_load(lambda: PRODUCTS.c.id.in_(bindparam("b_products", expanding=True))),
    "move": _build_move(guarded=False),
    "move_guarded": _build_move(guarded=True),
    "insert_movement": lambda conn: insert(MOVEMENTS).returning(MOVEMENTS.c.id),
    "bump_summary": _build_bump_summary,
    "append": lambda conn: _APPEND_MOVEMENT,
    "append_unaudited": lambda conn: _APPEND_UNAUDITED,
}


# ---------------------------------------------------------------------------------------------
# Serialisation shared by every door


def _text(value):
    return None if value is None else str(value)


def movement_dict(m):
    """A movement as JSON-ready data (decimals as exact strings, times in ISO 8601 UTC)."""
    return {
        "id": m["id"], "store_id": m["store_id"], "product_id": m["product_id"],
        "type": m["type"], "quantity": _text(m["quantity"]), "delta": _text(m["delta"]),
        "balance_after": _text(m["balance_after"]), "reason": m["reason"], "note": m["note"],
        "unit_price": _text(m["unit_price"]), "unit_cost": _text(m["unit_cost"]),
        "supplier_id": m["supplier_id"], "transfer_id": m["transfer_id"],
        "expected_quantity": _text(m["expected_quantity"]),
        "counted_quantity": _text(m["counted_quantity"]),
        "user_id": m["user_id"], "source": m["source"],
        "idempotency_key": m["idempotency_key"],
        "occurred_at": iso_time(m["occurred_at"]), "created_at": iso_time(m["created_at"]),
    }


def level_dict(store_id, product_id, quantity, reorder_level, updated_at):
    """A stock level as JSON-ready data, with its low and negative flags."""
    quantity = Decimal(quantity).quantize(Decimal("0.001"))
    reorder_level = Decimal(reorder_level or 0).quantize(Decimal("0.001"))
    return {"store_id": store_id, "product_id": product_id, "quantity": str(quantity),
            "reorder_level": str(reorder_level), "low": quantity <= reorder_level,
            "negative": quantity < 0, "updated_at": iso_time(updated_at)}


def _level_dict(ctx, quantity, now, store_reorder_level=None):
    reorder = store_reorder_level if store_reorder_level is not None else ctx.product.reorder_level
    return level_dict(ctx.store.id, ctx.product.id, quantity, reorder, now)


# ---------------------------------------------------------------------------------------------
# Deliveries (purchasing): several stock-ins and the caller's bookkeeping in one transaction


def receive_delivery(actor, *, store_id, supplier_id, request, work, idempotency_key=None):
    """Record a supplier's delivery: work(conn, now, stock_in) runs inside one transaction and
    returns the response data; stock_in(product_id, quantity, unit_cost=None, note="") writes
    one stock-in from `supplier_id` and returns (movement, level). The caller locks what it
    needs first and calls stock_in in product-id order (one lock order for every writer);
    `request` is the delivery's meaning, which the Idempotency-Key is checked against.
    """
    store_id = parse_id(store_id, "store_id", "Store")
    key = idempotency.check_key(idempotency_key)

    def write(conn, now):
        changed = []

        def stock_in(product_id, quantity, unit_cost=None, note=""):
            ctx = _load(conn, store_id, product_id=product_id)
            quantity = parse_quantity(quantity)
            _check_product(ctx.product, quantity)
            row = _move_level(conn, ctx, quantity, now)
            movement = _insert_movement(
                conn, actor, ctx, now, type="stock_in", quantity=quantity, delta=quantity,
                balance_after=row.quantity, note=note,
                unit_cost=unit_cost if unit_cost is not None else ctx.product.cost,
                supplier_id=supplier_id, idempotency_key=key)
            audit.record(conn, actor, "movement.create", "stock_movement", movement["id"],
                         after=movement)
            changed.append((store_id, ctx.product.id))
            return movement, _level_dict(ctx, row.quantity, now, row.reorder_level)

        data = work(conn, now, stock_in)
        return data, changed, 201

    return _run(actor, key, {"op": "delivery", "store_id": store_id, **request}, write)
