"""Batches: where a tracked product's stock sits by expiry date, kept beside the ledger.

A product that `tracks_expiry` keeps each store's stock in batches (models/batch.py): a stock-in
adds to the batch of its date and code, and every movement that takes stock takes the batch
that expires first (FEFO), unless a removal names its batch. Each movement's batches are
written to `movement_batches`, so a void or a return puts back exactly what its sale took, and
a transfer carries its dates to the other store. Invariant 9: in a store, the batches of a
tracked product add up to its level whenever the level is not negative.

Locks: every function here runs after the ledger has locked (or moved) the level row of its
store and product, so writers of one store × product are already serialised by that lock
before any batch row is touched; batches are then locked in one order (expiry date, code, id).
A product that does not track expiry never reaches this module: its sale pays nothing for it.
"""
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, case, func, insert, select, text, update

from webapp.models import MovementBatch, Product, StockBatch, StockLevel
from webapp.services.errors import N_, Conflict, DomainError, InsufficientStock
from webapp.services.sql import exact_sum, is_postgresql, lock_clause, upsert

BATCHES = StockBatch.__table__
ROWS = MovementBatch.__table__
LEVELS = StockLevel.__table__
PRODUCTS = Product.__table__
ZERO = Decimal(0)
FEFO = (BATCHES.c.expires_on, BATCHES.c.batch_code, BATCHES.c.id)


def part(expires_on, batch_code, quantity):
    """One entry of a movement's `batches` as every door shows it: the date (None: the part
    that had no batch), the code (None when it has none), the quantity taken or added."""
    return {"expires_on": expires_on.isoformat() if expires_on is not None else None,
            "batch_code": batch_code or None,
            "quantity": str(Decimal(quantity).quantize(Decimal("0.001")))}


def _write_rows(conn, movement_id, rows, from_movement_id=None):
    """Append a movement's movement_batches rows: (batch id or None, signed delta)."""
    if rows:
        conn.execute(insert(ROWS), [{"movement_id": movement_id, "batch_id": batch_id,
                                     "delta": delta, "from_movement_id": from_movement_id}
                                    for batch_id, delta in rows])


def of_movements(conn, movement_ids):
    """{movement id: its `batches`} of the movements that have batch rows (one round trip)."""
    if not movement_ids:
        return {}
    rows = conn.execute(
        select(ROWS.c.movement_id, BATCHES.c.expires_on, BATCHES.c.batch_code, ROWS.c.delta)
        .select_from(ROWS.outerjoin(BATCHES, BATCHES.c.id == ROWS.c.batch_id))
        .where(ROWS.c.movement_id.in_(sorted(set(movement_ids))))
        .order_by(ROWS.c.movement_id, ROWS.c.id)).all()
    found = {}
    for row in rows:
        found.setdefault(row.movement_id, []).append(
            part(row.expires_on, row.batch_code, abs(row.delta)))
    return found


# ---------------------------------------------------------------------------------------------
# Taking: a sale, a removal, a transfer out, a count downward


# PostgreSQL: the whole of a take in one statement, so a tracked product's sale costs one round
# trip more than an untracked one. The batches are locked in FEFO order (the level row is
# already locked by the movement's own statement); each takes what is left of the quantity
# after the batches before it; what no batch covers is a row without a batch.
TAKE_SQL = text("""
WITH candidates AS (
    SELECT id, expires_on, batch_code, quantity FROM stock_batches
    WHERE store_id = :store_id AND product_id = :product_id AND quantity > 0
      AND (CAST(:named_on AS date) IS NULL OR (expires_on = CAST(:named_on AS date)
           AND (CAST(:named_code AS varchar) IS NULL OR batch_code = :named_code)))
    ORDER BY expires_on, batch_code, id
    FOR UPDATE
), ordered AS (
    SELECT id, expires_on, batch_code, quantity,
           SUM(quantity) OVER (ORDER BY expires_on, batch_code, id) - quantity AS before
    FROM candidates
), taken AS (
    SELECT id, expires_on, batch_code, LEAST(quantity, :quantity - before) AS quantity
    FROM ordered WHERE before < :quantity
), used AS (
    UPDATE stock_batches b SET quantity = b.quantity - taken.quantity, updated_at = :now
    FROM taken WHERE b.id = taken.id
), parts AS (
    SELECT id, expires_on, batch_code, quantity FROM taken
    UNION ALL
    SELECT NULL, NULL, NULL, :quantity - COALESCE(SUM(quantity), 0) FROM taken
    HAVING :quantity - COALESCE(SUM(quantity), 0) > 0
), written AS (
    INSERT INTO movement_batches (movement_id, batch_id, delta)
    SELECT :movement_id, id, -quantity FROM parts
)
SELECT id, expires_on, batch_code, quantity FROM parts
ORDER BY expires_on NULLS LAST, batch_code, id
""")


def take(conn, ctx, movement_id, quantity, now, named=None):
    """Take `quantity` of a tracked product from its batches in the movement's store, the one
    expiring first first (`named`: (expires_on, batch_code or None), only from that batch) →
    the movement's `batches`. The caller has locked or moved the level row already.

    A part no batch covers (a store that sells past its stock) is recorded without a batch; a
    named batch that holds too little refuses the movement (409, nothing written)."""
    named_on, named_code = named if named is not None else (None, None)
    if is_postgresql(conn):
        rows = conn.execute(TAKE_SQL, {
            "store_id": ctx.store.id, "product_id": ctx.product.id, "quantity": quantity,
            "movement_id": movement_id, "now": now, "named_on": named_on,
            "named_code": named_code}).all()
        taken = [(row.id, row.expires_on, row.batch_code, row.quantity) for row in rows]
    else:
        taken = _take_in_steps(conn, ctx, movement_id, quantity, now, named_on, named_code)
    if named is not None and taken and taken[-1][0] is None:
        held = sum((q for batch_id, _, _, q in taken if batch_id is not None), ZERO)
        raise ShortBatch(held, quantity, named_on, ctx)
    return [part(expires_on, code, q) for _, expires_on, code, q in taken]


class ShortBatch(InsufficientStock):
    """A named batch holds less than a removal takes: 409 insufficient_stock on expires_on."""

    def __init__(self, held, requested, expires_on, ctx):
        Conflict.__init__(self, "insufficient_stock", N_(
            "Only %(available)s in the batch expiring %(date)s; cannot take %(requested)s.",
            available=f"{held.normalize():f}", date=expires_on.isoformat(),
            requested=f"{requested.normalize():f}"), field="expires_on",
            available=str(held), requested=str(requested), product_id=ctx.product.id,
            store_id=ctx.store.id)


def _take_in_steps(conn, ctx, movement_id, quantity, now, named_on, named_code):
    """take() a statement at a time (SQLite, where a write cannot sit in a WITH)."""
    query = select(BATCHES.c.id, BATCHES.c.expires_on, BATCHES.c.batch_code,
                   BATCHES.c.quantity).where(BATCHES.c.store_id == ctx.store.id,
                                             BATCHES.c.product_id == ctx.product.id,
                                             BATCHES.c.quantity > 0)
    if named_on is not None:
        query = query.where(BATCHES.c.expires_on == named_on)
        if named_code is not None:
            query = query.where(BATCHES.c.batch_code == named_code)
    taken, left = [], quantity
    for row in conn.execute(lock_clause(conn, query.order_by(*FEFO))).all():
        if left <= 0:
            break
        q = min(row.quantity, left)
        conn.execute(update(BATCHES).where(BATCHES.c.id == row.id)
                     .values(quantity=row.quantity - q, updated_at=now))
        taken.append((row.id, row.expires_on, row.batch_code, q))
        left -= q
    if left > 0:
        taken.append((None, None, None, left))
    _write_rows(conn, movement_id, [(batch_id, -q) for batch_id, _, _, q in taken])
    return taken


# ---------------------------------------------------------------------------------------------
# Adding: a stock-in, a delivery line, a transfer in, a void or return, a count upward


def add(conn, ctx, movement_id, quantity, level_after, now, into, from_movement_id=None):
    """Add `quantity` of a tracked product to batches in the movement's store → its `batches`.

    `into` lists where it goes, in order: (expires_on, batch_code, quantity) for a batch by
    its date (made if new: the same date and code received twice is one batch), or
    (batch_id, None, quantity) for a known batch (a void's), or (None, None, quantity) for a
    part without a date (a transfer of stock the other store had sold past). First, any part
    of the level below zero is made up with no batch (it was sold past the batches, so
    invariant 9 holds again once the level is back at zero or above); what no dated entry
    takes goes to the batch that expires last in the store."""
    debt = min(quantity, max(ZERO, quantity - level_after))
    rows, shown, left = [], [], quantity - debt
    if debt:
        rows.append((None, debt))
        shown.append(part(None, None, debt))
    for key, code, q in into:
        if key is None:
            continue
        q = min(q, left)
        if isinstance(key, int):
            if not q:
                continue
            batch = _add_to_batch(conn, key, q, now)
        else:  # a date: made even with nothing left, so it is known for what follows
            batch = _upsert_batch(conn, ctx, key, code or "", q, now)
        if q:
            rows.append((batch.id, q))
            shown.append(part(batch.expires_on, batch.batch_code, q))
            left -= q
    if left:
        batch = _latest_batch(conn, ctx)
        if batch is None:
            raise DomainError("invalid", N_(
                "This product has no batch in this store yet: give the expiry date."),
                field="expires_on")
        _add_to_batch(conn, batch.id, left, now)
        rows.append((batch.id, left))
        shown.append(part(batch.expires_on, batch.batch_code, left))
    _write_rows(conn, movement_id, rows, from_movement_id)
    return shown


def _upsert_batch(conn, ctx, expires_on, code, quantity, now):
    stmt = upsert(conn, BATCHES).values(
        store_id=ctx.store.id, product_id=ctx.product.id, expires_on=expires_on,
        batch_code=code, quantity=quantity, received_at=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[BATCHES.c.store_id, BATCHES.c.product_id, BATCHES.c.expires_on,
                        BATCHES.c.batch_code],
        set_={"quantity": exact_sum(conn, BATCHES.c.quantity, stmt.excluded.quantity),
              "updated_at": stmt.excluded.updated_at})
    return conn.execute(stmt.returning(BATCHES.c.id, BATCHES.c.expires_on,
                                       BATCHES.c.batch_code)).first()


def _add_to_batch(conn, batch_id, quantity, now):
    return conn.execute(
        update(BATCHES).where(BATCHES.c.id == batch_id)
        .values(quantity=exact_sum(conn, BATCHES.c.quantity,
                                   bindparam("q", quantity, type_=BATCHES.c.quantity.type)),
                updated_at=now)
        .returning(BATCHES.c.id, BATCHES.c.expires_on, BATCHES.c.batch_code)).first()


def _latest_batch(conn, ctx):
    return conn.execute(
        select(BATCHES.c.id, BATCHES.c.expires_on, BATCHES.c.batch_code)
        .where(BATCHES.c.store_id == ctx.store.id, BATCHES.c.product_id == ctx.product.id)
        .order_by(*(c.desc() for c in FEFO)).limit(1)).first()


def recount(conn, ctx, movement_id, counted, delta, level_after, now):
    """A count of a tracked product date by date: each counted batch set to its count (a
    batch not listed to none), then the rest of the movement's `delta` (sales or deliveries
    recorded while the shelf was being counted) taken first-expiring-first-out or added to the
    batch that expires last → the movement's `batches`."""
    existing = conn.execute(lock_clause(conn, select(
        BATCHES.c.id, BATCHES.c.expires_on, BATCHES.c.batch_code, BATCHES.c.quantity)
        .where(BATCHES.c.store_id == ctx.store.id, BATCHES.c.product_id == ctx.product.id)
        .order_by(*FEFO))).all()
    held = {(row.expires_on, row.batch_code): row for row in existing}
    wanted = {(day, code or ""): q for day, code, q in counted}
    rows, shown, moved = [], [], ZERO
    for key in sorted(set(held) | set(wanted)):
        row, q = held.get(key), wanted.get(key, ZERO)
        change = q - (row.quantity if row is not None else ZERO)
        if not change:
            continue
        if row is None:
            batch = _upsert_batch(conn, ctx, key[0], key[1], q, now)
        else:
            conn.execute(update(BATCHES).where(BATCHES.c.id == row.id)
                         .values(quantity=q, updated_at=now))
            batch = row
        rows.append((batch.id, change))
        shown.append(part(key[0], key[1], change))  # signed: a count moves both ways
        moved += change
    _write_rows(conn, movement_id, rows)
    rest = delta - moved
    if rest < 0:
        shown += take(conn, ctx, movement_id, -rest, now)
    elif rest > 0:
        shown += add(conn, ctx, movement_id, rest, level_after, now, [])
    return shown


def put_back(conn, ctx, movement_id, original_id, quantity, level_after, now):
    """A void or return: `quantity` back into the batches sale movement `original_id` took
    from, the batch that expires last first, each at most what it gave less what earlier
    returns of that sale put back → the movement's `batches`."""
    given = (select(ROWS.c.batch_id, func.sum(ROWS.c.delta).label("taken"))
             .where(ROWS.c.movement_id == original_id, ROWS.c.batch_id.is_not(None))
             .group_by(ROWS.c.batch_id).subquery())
    back = (select(ROWS.c.batch_id, func.sum(ROWS.c.delta).label("back"))
            .where(ROWS.c.from_movement_id == original_id, ROWS.c.batch_id.is_not(None))
            .group_by(ROWS.c.batch_id).subquery())
    rows = conn.execute(
        select(BATCHES.c.id, (-given.c.taken - func.coalesce(back.c.back, 0)).label("open"))
        .select_from(given.join(BATCHES, BATCHES.c.id == given.c.batch_id)
                     .outerjoin(back, back.c.batch_id == given.c.batch_id))
        .order_by(*(c.desc() for c in FEFO))).all()
    into = [(row.id, None, Decimal(row.open).quantize(Decimal("0.001")))
            for row in rows if row.open > 0]
    return add(conn, ctx, movement_id, quantity, level_after, now, into, original_id)


def carry(conn, ctx, movement_id, quantity, level_after, now, parts, from_movement_id):
    """A transfer in: the batches the transfer out took, with their dates, into this store."""
    into = [(None if p["expires_on"] is None else date.fromisoformat(p["expires_on"]),
             p.get("batch_code", ""), Decimal(p["quantity"])) for p in parts]
    return add(conn, ctx, movement_id, quantity, level_after, now, into, from_movement_id)


def category_default(conn, category):
    """Whether a new product of `category` tracks expiry when nobody said: as most of the
    category's products do (none yet, or no category: no)."""
    if not category:
        return False
    total, tracked = conn.execute(
        select(func.count(), func.coalesce(func.sum(case((PRODUCTS.c.tracks_expiry, 1),
                                                         else_=0)), 0))
        .where(func.lower(PRODUCTS.c.category) == category.lower(),
               PRODUCTS.c.archived.is_(False))).one()
    return bool(total) and tracked * 2 > total


def untracked_stores(conn, product_id):
    """Ids of the stores whose level of the product is not what its batches hold (invariant 9
    with a negative level read as zero)."""
    held = (select(BATCHES.c.store_id, func.sum(BATCHES.c.quantity).label("quantity"))
            .where(BATCHES.c.product_id == product_id).group_by(BATCHES.c.store_id)
            .subquery())
    level = LEVELS.c.quantity
    stmt = (select(LEVELS.c.store_id)
            .select_from(LEVELS.outerjoin(held, held.c.store_id == LEVELS.c.store_id))
            .where(LEVELS.c.product_id == product_id,
                   func.round(func.coalesce(held.c.quantity, 0), 3)
                   != case((level < 0, 0), else_=level))
            .order_by(LEVELS.c.store_id))
    return list(conn.execute(stmt).scalars())


def check_can_track(conn, product_id):
    """Turning on expiry tracking starts from stock whose dates are known: refused (409) while a
    store holds stock of the product outside its batches (stock from before tracking, or from
    while it was off). Counting that store to zero first, then receiving with dates, settles it."""
    stores = untracked_stores(conn, product_id)
    if stores:
        raise Conflict("stock_without_dates", N_(
            "%(n)s store(s) hold stock of this product without an expiry date. Count it to "
            "zero there (or remove it), then turn on expiry tracking and receive it with "
            "its dates.", n=len(stores)), field="tracks_expiry", store_ids=stores)


# Invariant 9 and the batch ledger, for tests, operators and the continuous check: each list
# empty when all is well.
TRACKED_LEVELS_OFF = text("""
    SELECT l.store_id, l.product_id, l.quantity, COALESCE(b.total, 0) AS batches
    FROM stock_levels l
    JOIN products p ON p.id = l.product_id AND p.tracks_expiry
    LEFT JOIN (SELECT store_id, product_id, SUM(quantity) AS total FROM stock_batches
               GROUP BY store_id, product_id) b
      ON b.store_id = l.store_id AND b.product_id = l.product_id
    WHERE ROUND(COALESCE(b.total, 0) - CASE WHEN l.quantity < 0 THEN 0 ELSE l.quantity END, 3)
          <> 0
    ORDER BY l.store_id, l.product_id
""")
BATCHES_OFF = text("""
    SELECT b.id, b.quantity, COALESCE(m.total, 0) AS ledger FROM stock_batches b
    LEFT JOIN (SELECT batch_id, SUM(delta) AS total FROM movement_batches
               WHERE batch_id IS NOT NULL GROUP BY batch_id) m ON m.batch_id = b.id
    WHERE ROUND(b.quantity - COALESCE(m.total, 0), 3) <> 0
    ORDER BY b.id
""")
MOVEMENTS_OFF = text("""
    SELECT m.id, m.delta, t.total FROM stock_movements m
    JOIN (SELECT movement_id, SUM(delta) AS total FROM movement_batches
          GROUP BY movement_id) t ON t.movement_id = m.id
    WHERE ROUND(m.delta - t.total, 3) <> 0
    ORDER BY m.id
""")


def batch_violations(conn):
    """Breaches of invariant 9 and of the batch ledger: `levels` (a tracked product's batches in
    a store do not add up to its level, a negative level read as zero), `batches` (a batch's
    quantity is not the sum of its movement_batches rows), `movements` (a movement's batch rows
    do not add up to its delta)."""
    return {"levels": [dict(row._mapping) for row in conn.execute(TRACKED_LEVELS_OFF)],
            "batches": [dict(row._mapping) for row in conn.execute(BATCHES_OFF)],
            "movements": [dict(row._mapping) for row in conn.execute(MOVEMENTS_OFF)]}


NO_BATCH_VIOLATIONS = {"levels": [], "batches": [], "movements": []}
