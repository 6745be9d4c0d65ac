"""Reading stock levels (writing them is services/ledger's job alone; `ensure_levels` only
marks a product as stocked by a store, at 0, which changes no stock)."""
from sqlalchemy import String, bindparam, cast, func, null, or_, select

from webapp.extensions import db
from webapp.models import Product, StockLevel, Store
from webapp.services import expiry, sql
from webapp.services.errors import NotFound
from webapp.services.ledger import level_dict
from webapp.services.paging import Page, paginate
from webapp.services.sql import insert_ignore

LEVELS = StockLevel.__table__
PRODUCTS = Product.__table__
STORES = Store.__table__
REORDER = func.coalesce(LEVELS.c.reorder_level, PRODUCTS.c.reorder_level)


# Built once: constructing and cache-keying the statement cost more CPU than running it.
_LEVEL = (
    select(STORES.c.id.label("store_id"), PRODUCTS.c.id,
           PRODUCTS.c.reorder_level.label("product_reorder"),
           LEVELS.c.quantity, LEVELS.c.reorder_level, LEVELS.c.updated_at)
    .select_from(STORES.outerjoin(PRODUCTS, PRODUCTS.c.id == bindparam("b_product"))
                 .outerjoin(LEVELS, (LEVELS.c.product_id == PRODUCTS.c.id)
                            & (LEVELS.c.store_id == STORES.c.id)))
    .where(STORES.c.id == bindparam("b_store")))


def ensure_levels(conn, store_id, product_ids, now):
    """A level at 0 for each product the store has none for yet, in the caller's transaction.

    A store stocks what it imported, ordered or ever moved; the stock list and the low-stock
    report read levels, so a product ordered but not yet received must have one to show at 0.
    Invariant 1 holds: no movement, and the level is the sum of none.
    """
    ids = sorted(set(product_ids))
    if ids:
        conn.execute(insert_ignore(conn, LEVELS), [
            {"store_id": store_id, "product_id": pid, "quantity": 0, "updated_at": now}
            for pid in ids])


def get_level(store_id, product_id):
    """One level; a product never moved in this store reads as zero. One round trip, which
    also tells an unknown store (NotFound) from an unknown product."""
    row = db.session.connection().execute(
        _LEVEL, {"b_store": store_id, "b_product": product_id}).first()
    if row is None:
        raise NotFound("Store")
    if row.id is None:
        raise NotFound("Product")
    reorder = row.reorder_level if row.reorder_level is not None else row.product_reorder
    return level_dict(store_id, product_id, row.quantity or 0, reorder, row.updated_at)


def search_clause(q):
    """Match a product by part of its name or SKU, or by its exact barcode."""
    return matching(*search_values(q))


def search_values(q):
    """What search_clause compares for q: (the LIKE pattern, the exact barcode)."""
    return f"%{q.strip().lower()}%", q.strip()


def matching(like, barcode):
    """search_clause on given values, or on bind parameters (a statement built once)."""
    return or_(func.lower(PRODUCTS.c.name).like(like), func.lower(PRODUCTS.c.sku).like(like),
               PRODUCTS.c.barcode == barcode)


def _levels_query(store_id, q=None, low=False, include_archived=False):
    query = (select(PRODUCTS.c.id.label("product_id"), PRODUCTS.c.sku, PRODUCTS.c.name,
                    PRODUCTS.c.unit, PRODUCTS.c.category, PRODUCTS.c.sale_price,
                    LEVELS.c.quantity, REORDER.label("reorder_level"), LEVELS.c.updated_at)
             .select_from(LEVELS.join(PRODUCTS, PRODUCTS.c.id == LEVELS.c.product_id))
             .where(LEVELS.c.store_id == store_id))
    if not include_archived:
        query = query.where(PRODUCTS.c.archived.is_(False))
    if q:
        query = query.where(search_clause(q))
    if low:
        query = query.where(LEVELS.c.quantity <= REORDER)
    return query


LEVELS_ORDER = (PRODUCTS.c.name, PRODUCTS.c.id)
# The store page's live list (no search, no total; all or low only), built once: each phone's
# refresh asks it, and building the statement cost about as much CPU as running it.
_LIST_PAGE = {low: _levels_query(bindparam("b_store"), low=low).order_by(*LEVELS_ORDER)
              .limit(bindparam("b_limit")).offset(bindparam("b_offset")) for low in (False, True)}


def _list_rows(low):
    flags = expiry.flags_subquery()
    query = (select(PRODUCTS.c.id, PRODUCTS.c.name, PRODUCTS.c.sku, null().label("barcode"),
                    cast(LEVELS.c.quantity, String), PRODUCTS.c.unit, LEVELS.c.quantity < 0,
                    LEVELS.c.quantity <= REORDER, flags.c.expired, flags.c.expiring,
                    flags.c.first)
             .select_from(LEVELS.join(PRODUCTS, PRODUCTS.c.id == LEVELS.c.product_id)
                          .outerjoin(flags, flags.c.product_id == LEVELS.c.product_id))
             .where(LEVELS.c.store_id == bindparam("b_store"), PRODUCTS.c.archived.is_(False)))
    if low:
        query = query.where(LEVELS.c.quantity <= REORDER)
    return query.order_by(*LEVELS_ORDER).limit(bindparam("b_limit")) \
        .offset(bindparam("b_offset"))


# The live list as each phone's refresh reads it, built once: its page of levels with their
# expiry flags (expiry.flags_query, joined) in one round trip, each level's quantity as text and
# its negative and low (as ledger.level_dict tells them: the reorder level is never NULL) told
# by the database: making two Decimals a row cost more than the rest of reading it.
_LIST_ROWS = {low: _list_rows(low) for low in (False, True)}


def list_page(store, low=False, page=1, per_page=50, on=None):
    """(rows, has_next): a page of the store's stock as the live list shows it, each row a tuple
    (product id, name, sku, no barcode (the list shows none), quantity as text, unit,
    negative, low, and the product's expiry sums expired, expiring and first date: None
    without a flag, else expiry.flag's): stock/rows.list_rows writes them.
    `store` has an id and an expiry_warning_days (the flags' window)."""
    rows = sql.rows_of(db.session.connection(), _LIST_ROWS[bool(low)], {
        "b_store": store.id, **expiry.window_values(store, on), "b_limit": per_page + 1,
        "b_offset": (page - 1) * per_page})
    return rows[:per_page], len(rows) > per_page


def store_levels(store_id, q=None, low=False, page=1, per_page=50, include_archived=False,
                 count=True):
    """A Page of a store's stock, products joined in (count=False: no total, has_next from
    one more row)."""
    if not (q or include_archived or count):
        items = [_stock_row(store_id, r) for r in db.session.execute(_LIST_PAGE[bool(low)], {
            "b_store": store_id, "b_limit": per_page + 1, "b_offset": (page - 1) * per_page})]
        return Page(items[:per_page], None, page, per_page, has_next=len(items) > per_page)
    return paginate(_levels_query(store_id, q, low, include_archived), LEVELS_ORDER, page,
                    per_page, count=count,
                    rows=lambda q: [_stock_row(store_id, r) for r in db.session.execute(q)])


def _stock_row(store_id, r):
    item = level_dict(store_id, r.product_id, r.quantity, r.reorder_level, r.updated_at)
    item.update(sku=r.sku, name=r.name, unit=r.unit, category=r.category,
                sale_price=str(r.sale_price))
    return item
