"""The ledger's operations: a movement, a transfer, a count, a basket's lines, their reversals
and a delivery, each a write(conn, now) run by the runner (runner.py).

Reached through services/handlers.handle (the decorated names here go through it too), which
has asked services/policy.py who may before any of this runs.
"""
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from webapp.models import SALE_REVERSAL_TYPES
from webapp.services import audit, commands, idempotency, pricing
from webapp.services.errors import N_, DomainError, InsufficientStock, NotFound
from webapp.services.handlers import handles
from webapp.services.ledger import batches, fastpath
from webapp.services.ledger.rules import (
    ShortLines,
    check_movement,
    check_named_batch,
    check_product,
    count_difference,
)
from webapp.services.ledger.runner import run
from webapp.services.ledger.serialise import level_of
from webapp.services.ledger.statements import MOVEMENTS, statement
from webapp.services.ledger.writes import (
    Context,
    check_supplier,
    insert_movement,
    load_one,
    lock_level,
    money,
    move_level,
    product_of,
    store_of,
)
from webapp.services.validation import pakistan_day, parse_id, parse_quantity


def _record_movement(actor, command, idempotency_key=None):
    """Record a commands.Movement (stock_in, sale, removal or adjustment) → {"movement", "level"}.

    An adjustment's difference (shelf count minus `expected`, or minus the level now when
    there is no `expected`) is applied to the level now.
    """
    m = check_movement(command)
    key = idempotency.check_key(idempotency_key)
    request = {"op": "movement", **vars(m)}
    is_count = m.type == "adjustment"

    def write(conn, now):
        ctx = load_one(conn, m.store_id, product_id=m.product_id, sku=m.sku)
        check_product(ctx.product, m.quantity)
        price = pricing.check_override(conn, actor, ctx.store.id, ctx.product.id,
                                       ctx.product.sale_price, m.unit_price, "unit_price") \
            if m.unit_price is not None else None
        if m.supplier_id is not None:
            check_supplier(conn, m.supplier_id)
        tracked = ctx.product.tracks_expiry
        if tracked:  # (an untracked product's date is not kept: it has no batches)
            if m.expires_on is not None or m.batch_code is not None:
                check_named_batch(m.type, m.reason, m.expires_on)
            elif m.type == "stock_in":
                raise _expiry_needed()
        if is_count:
            current = lock_level(conn, ctx, now)
            base = current if m.expected is None else m.expected
            delta = m.quantity - base
            if delta == 0:
                level = level_of(ctx, current, now)
                return {"movement": None, "level": level}, [], 200
            level_row = move_level(conn, ctx, delta, now)
            movement = insert_movement(
                conn, actor, ctx, now, type="adjustment", quantity=abs(delta), delta=delta,
                balance_after=level_row.quantity, reason=m.reason, note=m.note,
                unit_cost=ctx.product.cost, expected_quantity=base, counted_quantity=m.quantity,
                occurred_at=m.occurred_at, idempotency_key=key)
            if tracked:
                movement["batches"] = _count_batches(conn, ctx, movement["id"], delta,
                                                     level_row.quantity, now, m)
        else:
            delta = m.quantity if m.type == "stock_in" else -m.quantity
            fields = dict(
                type=m.type, quantity=m.quantity, delta=delta, reason=m.reason, note=m.note,
                unit_price=(price if price is not None else ctx.product.sale_price)
                if m.type == "sale" else None,
                unit_cost=m.unit_cost if m.unit_cost is not None else ctx.product.cost,
                supplier_id=m.supplier_id, occurred_at=m.occurred_at, idempotency_key=key)
            appended = fastpath.append_in_one_statement(conn, actor, ctx, now, **fields) \
                if fastpath.applies(conn) else None
            if appended is not None:
                movement, level_row = appended
                if tracked:
                    movement["batches"] = _movement_batches(conn, ctx, movement["id"], m,
                                                            level_row.quantity, now)
                level = level_of(ctx, level_row.quantity, now, level_row.reorder_level)
                return {"movement": movement, "level": level}, [(ctx.store.id, ctx.product.id)], 201
            level_row = move_level(conn, ctx, delta, now)
            movement = insert_movement(conn, actor, ctx, now, balance_after=level_row.quantity,
                                       **fields)
            if tracked:
                movement["batches"] = _movement_batches(conn, ctx, movement["id"], m,
                                                        level_row.quantity, now)
        audit.record(conn, actor, "movement.create", "stock_movement", movement["id"],
                     after=movement)
        level = level_of(ctx, level_row.quantity, now, level_row.reorder_level)
        return {"movement": movement, "level": level}, [(ctx.store.id, ctx.product.id)], 201

    return run(actor, key, request, write, standalone=True)


record_movement = handles(commands.Movement)(_record_movement)
# The same operation for a movement that names a batch (a stock-in's date, a removal's batch)
handles(commands.DatedMovement)(_record_movement)


def _expiry_needed(field="expires_on"):
    return DomainError("invalid", N_("This product tracks expiry: give the expiry date of what "
                                     "arrived."), field=field)


def _movement_batches(conn, ctx, movement_id, m, level_after, now):
    """The batches of a tracked product's stock-in, sale or removal (services/ledger/batches)."""
    if m.type == "stock_in":
        return batches.add(conn, ctx, movement_id, m.quantity, level_after, now,
                           [(m.expires_on, m.batch_code, m.quantity)])
    return batches.take(conn, ctx, movement_id, m.quantity, now,
                        named=(m.expires_on, m.batch_code) if m.expires_on else None)


def _count_batches(conn, ctx, movement_id, delta, level_after, now, line):
    """A count's difference in batches: down, from the batch expiring first (or the counted
    date's); up, into the counted date's batch, or without a date into the batch that expires
    last (no batch in the store yet: the date is asked for)."""
    if getattr(line, "batches", None) is not None:  # counted date by date
        return batches.recount(conn, ctx, movement_id, line.batches, delta, level_after, now)
    if delta < 0:
        return batches.take(conn, ctx, movement_id, -delta, now,
                            named=(line.expires_on, line.batch_code) if line.expires_on else None)
    into = [(line.expires_on, line.batch_code, delta)] if line.expires_on else []
    return batches.add(conn, ctx, movement_id, delta, level_after, now, into)


@handles(commands.Transfer)
def transfer(actor, command, idempotency_key=None):
    """Carry out a commands.Transfer: a linked transfer_out + transfer_in, atomically."""
    t = command
    key = idempotency.check_key(idempotency_key)
    request = {"op": "transfer", "from": t.from_store_id, "to": t.to_store_id,
               "product_id": t.product_id, "quantity": t.quantity, "note": t.note}

    def write(conn, now):
        source = load_one(conn, t.from_store_id, product_id=t.product_id,
                          store_field="from_store_id")
        target = load_one(conn, t.to_store_id, product_id=t.product_id,
                          store_field="to_store_id")
        check_product(source.product, t.quantity)
        transfer_id = str(uuid.uuid4())
        # Lock the two levels in store-id order so that A→B and B→A cannot deadlock.
        legs = sorted([(source, -t.quantity), (target, t.quantity)],
                      key=lambda leg: leg[0].store.id)
        rows = {ctx.store.id: move_level(conn, ctx, delta, now) for ctx, delta in legs}
        movements = {}
        for ctx, delta, kind in ((source, -t.quantity, "transfer_out"),
                                 (target, t.quantity, "transfer_in")):
            movements[kind] = insert_movement(
                conn, actor, ctx, now, type=kind, quantity=t.quantity, delta=delta,
                balance_after=rows[ctx.store.id].quantity, note=t.note,
                unit_cost=ctx.product.cost, transfer_id=transfer_id, idempotency_key=key)
        if source.product.tracks_expiry:  # the dates travel with the goods
            out, into = movements["transfer_out"], movements["transfer_in"]
            out["batches"] = batches.take(conn, source, out["id"], t.quantity, now)
            into["batches"] = batches.carry(conn, target, into["id"], t.quantity,
                                            rows[t.to_store_id].quantity, now, out["batches"],
                                            out["id"])
        audit.record(conn, actor, "transfer.create", "transfer", transfer_id, after={
            "from_store_id": t.from_store_id, "to_store_id": t.to_store_id,
            "product_id": t.product_id, "quantity": str(t.quantity)})
        data = {
            "transfer_id": transfer_id,
            "transfer_out": movements["transfer_out"],
            "transfer_in": movements["transfer_in"],
            "from_level": level_of(source, rows[t.from_store_id].quantity, now,
                                   rows[t.from_store_id].reorder_level),
            "to_level": level_of(target, rows[t.to_store_id].quantity, now,
                                 rows[t.to_store_id].reorder_level),
        }
        changed = [(t.from_store_id, t.product_id), (t.to_store_id, t.product_id)]
        return data, changed, 201

    return run(actor, key, request, write)


def _apply_count(actor, command, idempotency_key=None):
    """Apply a commands.Count (or an import's OpeningStock) → one adjustment per product whose
    count differs.

    Sales recorded while the shelf was being counted stay recorded, because each difference
    is applied to the level now.
    """
    key = idempotency.check_key(idempotency_key)
    request = {"op": "count", "store_id": command.store_id, "note": command.note,
               "lines": [[line.product_id, line.quantity, line.expected]
                         + ([line.expires_on, line.batch_code] if line.expires_on else [])
                         + ([line.batches] if line.batches is not None else [])
                         for line in command.lines]}

    def write(conn, now):
        data, changed = write_count(conn, actor, command, now, key)
        return data, changed, 201

    return run(actor, key, request, write)


apply_count = handles(commands.Count)(_apply_count)
apply_opening_stock = handles(commands.OpeningStock)(_apply_count)


def write_count(conn, actor, command, now, idempotency_key=None):
    """A count's adjustments inside the caller's transaction (see run_in_transaction), for a
    service that keeps rows of its own beside them (services/count_drafts.py) → (data, changed)."""
    store_id, note = command.store_id, command.note
    adjustments, unchanged, changed_during_count, changed = [], [], [], []
    for line in command.lines:  # by product id: one lock order for every writer
        ctx = load_one(conn, store_id, product_id=line.product_id)
        check_product(ctx.product, line.quantity, allow_zero=True)
        current = lock_level(conn, ctx, now)
        base, delta = count_difference(line, current)
        if current != base:
            changed_during_count.append(line.product_id)
        if delta == 0:
            unchanged.append(level_of(ctx, current, now))
            continue
        row = move_level(conn, ctx, delta, now)
        adjustment = insert_movement(
            conn, actor, ctx, now, type="adjustment", quantity=abs(delta), delta=delta,
            balance_after=row.quantity, reason="count", note=note,
            unit_cost=ctx.product.cost, expected_quantity=base,
            counted_quantity=line.quantity, idempotency_key=idempotency_key)
        if ctx.product.tracks_expiry:
            adjustment["batches"] = _count_batches(conn, ctx, adjustment["id"], delta,
                                                   row.quantity, now, line)
        adjustments.append(adjustment)
        changed.append((store_id, line.product_id))
    audit.record(conn, actor, "count.apply", "store", store_id, after={
        "lines": len(command.lines), "adjustments": [m["id"] for m in adjustments]})
    data = {"store_id": store_id, "adjustments": adjustments, "unchanged": unchanged,
            "changed_during_count": changed_during_count}
    return data, changed


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


# ---------------------------------------------------------------------------------------------
# Many lines in one transaction, for services that keep rows of their own beside the movements
# (services/sales.py: a basket's sale movements, a void's or return's reversing movements).
# They run inside `run_in_transaction`'s write(conn, now) and lock levels in product-id order,
# so two baskets sharing products can never deadlock.

REVERSAL_REASONS = ("void", "return")


def load_lines(conn, store_id, lines):
    """The store and product rows of every line in one round trip (NotFound names the line's
    field)."""
    rows = conn.execute(statement(conn, "load_many"), {
        "b_store": store_id, "b_products": sorted({line.product_id for line in lines})}).all()
    if not rows or not rows[0].active:
        raise NotFound("Store", field="store_id")
    store = store_of(rows[0])
    products = {row.product_id: product_of(row) for row in rows if row.product_id is not None}
    contexts = {}
    for line in lines:
        if line.product_id not in products:
            raise NotFound("Product", field=f"lines.{line.index}.product_id")
        contexts[line.index] = Context(store, products[line.product_id])
    return contexts


def take_lines(conn, actor, contexts, lines, now, *, note="", occurred_at=None,
               idempotency_key=None):
    """Write one `sale` movement per line, all or nothing.

    Every short line is reported (InsufficientStock with a field `lines.<i>.quantity` each);
    the caller's transaction is then rolled back, so nothing is written. Returns
    {index: (movement, level)}.
    """
    written, short = {}, []
    one_statement = fastpath.applies(conn)
    for line in sorted(lines, key=lambda line: (line.product_id, line.index)):
        ctx = contexts[line.index]
        fields = dict(type="sale", quantity=line.quantity, delta=-line.quantity, reason=None,
                      note=note, unit_price=line.unit_price, unit_cost=ctx.product.cost,
                      supplier_id=None, occurred_at=occurred_at, idempotency_key=idempotency_key)
        appended = fastpath.append_in_one_statement(conn, actor, ctx, now, audited=False,
                                                    sale_value=line.amount, **fields) \
            if one_statement and not short else None
        if appended is not None:
            movement, row = appended
            if ctx.product.tracks_expiry:
                movement["batches"] = batches.take(conn, ctx, movement["id"], line.quantity, now)
            written[line.index] = (movement,
                                   level_of(ctx, row.quantity, now, row.reorder_level))
            continue
        try:
            row = move_level(conn, ctx, -line.quantity, now)
        except InsufficientStock as error:
            short.append((line, Decimal(error.details["available"])))
            continue
        if short:
            continue  # nothing will be kept; only the remaining checks matter
        movement = insert_movement(conn, actor, ctx, now, balance_after=row.quantity,
                                   sale_value=line.amount, **fields)
        if ctx.product.tracks_expiry:
            movement["batches"] = batches.take(conn, ctx, movement["id"], line.quantity, now)
        written[line.index] = (movement, level_of(ctx, row.quantity, now, row.reorder_level))
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
        row = move_level(conn, ctx, line.quantity, now)
        movement = insert_movement(
            conn, actor, ctx, now, type="adjustment", quantity=line.quantity,
            delta=line.quantity, balance_after=row.quantity, reason=reason, note=note,
            unit_price=None, unit_cost=unit_cost)
        if ctx.product.tracks_expiry:  # back into the batches its sale took from
            movement["batches"] = batches.put_back(conn, ctx, movement["id"], line.reverses,
                                                   line.quantity, row.quantity, now) \
                if line.reverses is not None else \
                batches.add(conn, ctx, movement["id"], line.quantity, row.quantity, now, [])
        conn.execute(statement(conn, "bump_summary"), {
            "day": pakistan_day(now), "store_id": ctx.store.id, "product_id": ctx.product.id,
            "type": SALE_REVERSAL_TYPES[reason], "quantity": line.quantity, "delta": 0,
            "amount": line.refund or Decimal(0), "movements": 1,
            "cost": money(line.quantity, unit_cost), "without_cost": int(unit_cost is None)})
        written[line.index] = (movement, level_of(ctx, row.quantity, now, row.reorder_level))
    return written


def _unit_costs(conn, movement_ids):
    """{movement id: its unit cost} of the sale movements a void or return puts back."""
    if not movement_ids:
        return {}
    return dict(conn.execute(select(MOVEMENTS.c.id, MOVEMENTS.c.unit_cost)
                             .where(MOVEMENTS.c.id.in_(sorted(set(movement_ids))))).all())


# ---------------------------------------------------------------------------------------------
# Deliveries (purchasing): several stock-ins and the caller's bookkeeping in one transaction


def receive_delivery(actor, *, store_id, supplier_id, request, work, idempotency_key=None):
    """Record a supplier's delivery: work(conn, now, stock_in) runs inside one transaction and
    returns the response data; stock_in(product_id, quantity, unit_cost=None, note="",
    expires_on=None, batch_code=None, field=…) writes one stock-in from `supplier_id` and
    returns (movement, level) (a product that tracks expiry needs `expires_on`: 422 on
    `field`). The caller locks what it
    needs first and calls stock_in in product-id order (one lock order for every writer);
    `request` is the delivery's meaning, which the Idempotency-Key is checked against.
    """
    store_id = parse_id(store_id, "store_id", "Store")
    key = idempotency.check_key(idempotency_key)

    def write(conn, now):
        changed = []

        def stock_in(product_id, quantity, unit_cost=None, note="", expires_on=None,
                     batch_code=None, field="expires_on"):
            ctx = load_one(conn, store_id, product_id=product_id)
            quantity = parse_quantity(quantity)
            check_product(ctx.product, quantity)
            if ctx.product.tracks_expiry and expires_on is None:
                raise _expiry_needed(field)
            row = move_level(conn, ctx, quantity, now)
            movement = insert_movement(
                conn, actor, ctx, now, type="stock_in", quantity=quantity, delta=quantity,
                balance_after=row.quantity, note=note,
                unit_cost=unit_cost if unit_cost is not None else ctx.product.cost,
                supplier_id=supplier_id, idempotency_key=key)
            if ctx.product.tracks_expiry:
                movement["batches"] = batches.add(conn, ctx, movement["id"], quantity,
                                                  row.quantity, now,
                                                  [(expires_on, batch_code, quantity)])
            audit.record(conn, actor, "movement.create", "stock_movement", movement["id"],
                         after=movement)
            changed.append((store_id, ctx.product.id))
            return movement, level_of(ctx, row.quantity, now, row.reorder_level)

        data = work(conn, now, stock_in)
        return data, changed, 201

    return run(actor, key, {"op": "delivery", "store_id": store_id, **request}, write)
