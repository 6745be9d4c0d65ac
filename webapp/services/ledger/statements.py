"""The ledger's statements, built once per dialect, and how the sale's are sent.

Building and cache-keying a Core statement on every call cost more CPU than the database round
trip (bench/profile.py), so each is built the first time it is asked for and kept. The columns
of a movement and of its daily summary row are listed once here: the general path's INSERT and
upsert and the PostgreSQL fast path's one statement (fastpath.py) are both made from them.
"""
from sqlalchemy import bindparam, insert, select, update

from webapp.extensions import db
from webapp.infra import dbretry, replica
from webapp.models import DailyStockSummary, Product, StockLevel, StockMovement, Store
from webapp.services.sql import Prebuilt, exact_sum, is_postgresql, upsert
from webapp.services.validation import MAX_LEVEL

LEVELS = StockLevel.__table__
MOVEMENTS = StockMovement.__table__
SUMMARY = DailyStockSummary.__table__
PRODUCTS = Product.__table__
STORES = Store.__table__

# Every column a movement is written with, in one order for both paths (the id is the table's).
MOVEMENT_COLUMNS = (
    "store_id", "product_id", "type", "quantity", "delta", "balance_after", "reason", "note",
    "unit_price", "unit_cost", "supplier_id", "transfer_id", "expected_quantity",
    "counted_quantity", "user_id", "source", "idempotency_key", "occurred_at", "created_at")
# The daily summary's key, and its figures: each added to the day's row (`movements` counts).
SUMMARY_KEY = ("day", "store_id", "product_id", "type")
# (the scale each is rounded back to on SQLite, whose numerics are binary floats; None: a count)
SUMMARY_SUMS = {"quantity": 3, "delta": 3, "amount": 2, "cost": 2, "without_cost": None}

# name -> build(conn) -> statement; fastpath.py adds its own, and names them in WRITES.
BUILDERS = {}
WRITES = set()
_DRIVER_SQL = {}
# The statement `name` for this connection's dialect, built the first time.
statement = Prebuilt(BUILDERS)


def send(conn, name, params):
    """The first row of one of the sale's statements (the loads, the appends), or None.

    On PostgreSQL it goes to psycopg2 on the transaction's DBAPI cursor as the text it compiles
    to (infra/dbretry.send), which skips SQLAlchemy's compiled-cache lookup, its per-parameter
    and per-column processing and its execution context and result objects: about 80 + 60 µs
    a statement. Only statements whose parameters and columns need no processing go this way
    (untyped parameters; ints, Decimals, strings and booleans, which psycopg2 adapts and
    returns itself); the dropped-connection retry and the replica's write marking are kept.
    """
    if not is_postgresql(conn):
        return conn.execute(statement(conn, name), params).first()
    sql = _DRIVER_SQL.get(name)
    if sql is None:
        sql = _DRIVER_SQL[name] = str(statement(conn, name).compile(dialect=conn.dialect))
    if name in WRITES:
        replica.note_write()
    return dbretry.send(conn, sql, params)


def _build_load(match_product):
    def build(conn):
        return (select(STORES.c.id.label("store_id"), STORES.c.active,
                       STORES.c.allow_negative_stock, PRODUCTS.c.id.label("product_id"),
                       PRODUCTS.c.archived, PRODUCTS.c.unit, PRODUCTS.c.sale_price,
                       PRODUCTS.c.cost, PRODUCTS.c.reorder_level, PRODUCTS.c.tracks_expiry)
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
    added = {name: SUMMARY.c[name] + stmt.excluded[name] if places is None else
             exact_sum(conn, SUMMARY.c[name], stmt.excluded[name], places)
             for name, places in SUMMARY_SUMS.items()}
    return stmt.on_conflict_do_update(
        index_elements=[SUMMARY.c[name] for name in SUMMARY_KEY],
        set_={**added, "movements": SUMMARY.c.movements + 1})


BUILDERS.update({
    "load_by_id": _build_load(lambda: PRODUCTS.c.id == bindparam("b_product")),
    "load_by_sku": _build_load(lambda: db.func.lower(PRODUCTS.c.sku) == bindparam("b_product")),
    "load_many": _build_load(lambda: PRODUCTS.c.id.in_(bindparam("b_products", expanding=True))),
    "move": _build_move(guarded=False),
    "move_guarded": _build_move(guarded=True),
    "insert_movement": lambda conn: insert(MOVEMENTS).returning(MOVEMENTS.c.id),
    "bump_summary": _build_bump_summary,
})
