"""Reads behind the store pages: the product picker and the live-stock validator."""
import hashlib

from sqlalchemy import bindparam, func, select

from webapp.extensions import db
from webapp.models import Product, StockLevel
from webapp.services import stock_cache
from webapp.services.inventory import matching, search_values
from webapp.services.ledger import level_dict

LEVELS = StockLevel.__table__
PRODUCTS = Product.__table__


# Built once (the picker asks it at every pause in the typing): building and cache-keying the
# statement each time cost more than its round trip.
FIND_PRODUCTS = (
    select(PRODUCTS.c.id, PRODUCTS.c.sku, PRODUCTS.c.name, PRODUCTS.c.unit,
           PRODUCTS.c.barcode, PRODUCTS.c.sale_price, PRODUCTS.c.pack_size,
           PRODUCTS.c.pack_price, PRODUCTS.c.pack_name,
           PRODUCTS.c.reorder_level.label("product_reorder"),
           LEVELS.c.quantity, LEVELS.c.reorder_level, LEVELS.c.updated_at)
    .select_from(PRODUCTS.outerjoin(LEVELS, (LEVELS.c.product_id == PRODUCTS.c.id)
                                    & (LEVELS.c.store_id == bindparam("f_store"))))
    .where(PRODUCTS.c.archived.is_(False), matching(bindparam("f_like"), bindparam("f_q")))
    # An exact barcode or SKU match first, then by name.
    .order_by((PRODUCTS.c.barcode == bindparam("f_q")).desc(),
              (func.lower(PRODUCTS.c.sku) == bindparam("f_lower")).desc(), PRODUCTS.c.name)
    .limit(bindparam("f_limit")))


def find_products(store_id, q, limit=10):
    """Active products matching q (name, SKU, barcode) with their level in this store."""
    q = (q or "").strip()[:100]
    if not q:
        return []
    like, exact = search_values(q)
    rows = db.session.connection().execute(FIND_PRODUCTS, {
        "f_store": store_id, "f_like": like, "f_q": exact, "f_lower": q.lower(),
        "f_limit": limit})
    return [_with_level(store_id, r) for r in rows]


# Built once: every store page with a product open and every quick sale asks it, and building
# and cache-keying the statement each time cost more than the round trip.
PRODUCT_IN_STORE = (
    select(PRODUCTS.c.id, PRODUCTS.c.sku, PRODUCTS.c.name, PRODUCTS.c.unit,
           PRODUCTS.c.barcode, PRODUCTS.c.sale_price, PRODUCTS.c.pack_size,
           PRODUCTS.c.pack_price, PRODUCTS.c.pack_name, PRODUCTS.c.archived,
           PRODUCTS.c.tracks_expiry, PRODUCTS.c.reorder_level.label("product_reorder"),
           LEVELS.c.quantity, LEVELS.c.reorder_level, LEVELS.c.updated_at)
    .select_from(PRODUCTS.outerjoin(LEVELS, (LEVELS.c.product_id == PRODUCTS.c.id)
                                    & (LEVELS.c.store_id == bindparam("l_store"))))
    .where(PRODUCTS.c.id == bindparam("l_product")))


PRODUCTS_IN_STORE = (
    select(*PRODUCT_IN_STORE.selected_columns)
    .select_from(PRODUCTS.outerjoin(LEVELS, (LEVELS.c.product_id == PRODUCTS.c.id)
                                    & (LEVELS.c.store_id == bindparam("l_store"))))
    .where(PRODUCTS.c.id.in_(bindparam("l_products", expanding=True))))


def products_in_store(store_id, product_ids):
    """{product_id: product_in_store(store_id, product_id)} for those that exist, in one
    round trip (a basket's lines)."""
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    rows = db.session.connection().execute(
        PRODUCTS_IN_STORE, {"l_store": store_id, "l_products": ids})
    return {row.id: _full(store_id, row) for row in rows}


def product_in_store(store_id, product_id):
    """One product with its level in this store, or None (archived products included)."""
    row = db.session.connection().execute(
        PRODUCT_IN_STORE, {"l_store": store_id, "l_product": product_id}).first()
    return None if row is None else _full(store_id, row)


def _full(store_id, row):
    item = _with_level(store_id, row)
    item["archived"] = row.archived
    item["tracks_expiry"] = row.tracks_expiry
    return item


def _with_level(store_id, row):
    reorder = row.reorder_level if row.reorder_level is not None else row.product_reorder
    item = level_dict(store_id, row.id, row.quantity or 0, reorder, row.updated_at)
    item.update(sku=row.sku, name=row.name, unit=row.unit, barcode=row.barcode,
                sale_price=row.sale_price, pack_size=row.pack_size, pack_price=row.pack_price,
                pack_name=row.pack_name)
    return item


def levels_version(store_id):
    """A short tag that changes whenever any stock level of the store changes.

    One aggregate over the store's rows of the stock_levels primary key: count, latest
    update and total. The total catches a writer whose updated_at is older than one already
    seen (its transaction started first but committed later). With Redis, the stock cache's
    per-store generation answers instead: one round trip, no scan of the store's rows.
    """
    version = stock_cache.store_version(store_id)
    if version is not None:
        return version
    conn = db.session.connection()
    row = conn.execute(
        select(func.count(), func.max(LEVELS.c.updated_at), func.sum(LEVELS.c.quantity))
        .where(LEVELS.c.store_id == store_id)).one()
    raw = f"{store_id}:{row[0]}:{row[1]}:{row[2]}"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]
