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
from sqlalchemy import case, func, select, text

from webapp.models import Product, StockBatch, StockLevel
from webapp.services.errors import N_, Conflict

BATCHES = StockBatch.__table__
LEVELS = StockLevel.__table__
PRODUCTS = Product.__table__


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
