"""Paginated, filtered lists of products, stores, suppliers and movements (read-only)."""
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Product, StockMovement, Store, Supplier
from webapp.services.ledger import movement_dict

MOVEMENTS = StockMovement.__table__


def _like(q):
    return f"%{q.strip().lower()}%"


def _page(query, order, page, per_page):
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = db.session.scalars(query.order_by(*order).limit(per_page)
                              .offset((page - 1) * per_page)).all()
    return rows, total


def products(q=None, category=None, archived=None, page=1, per_page=50):
    """Products by name/SKU/barcode search, category and archived flag; returns (rows, total)."""
    query = select(Product)
    if q:
        like = _like(q)
        query = query.where(func.lower(Product.name).like(like)
                            | func.lower(Product.sku).like(like) | (Product.barcode == q.strip()))
    if category:
        query = query.where(Product.category == category)
    if archived is not None:
        query = query.where(Product.archived.is_(archived))
    return _page(query, (Product.name, Product.id), page, per_page)


def stores(store_ids=None, q=None, active=None, page=1, per_page=50):
    """Stores, limited to store_ids when given (a shopkeeper's); returns (rows, total)."""
    query = select(Store)
    if store_ids is not None:
        query = query.where(Store.id.in_(store_ids))
    if q:
        like = _like(q)
        query = query.where(func.lower(Store.name).like(like) | func.lower(Store.code).like(like)
                            | func.lower(Store.city).like(like))
    if active is not None:
        query = query.where(Store.active.is_(active))
    return _page(query, (Store.code, Store.id), page, per_page)


def suppliers(q=None, page=1, per_page=50):
    query = select(Supplier)
    if q:
        query = query.where(func.lower(Supplier.name).like(_like(q)))
    return _page(query, (Supplier.name, Supplier.id), page, per_page)


def movements(store_ids=None, store_id=None, product_id=None, type=None, since=None, until=None,
              after_id=None, page=1, per_page=50):
    """Ledger rows, newest first; with after_id, oldest first from that id (keyset paging).

    Returns (rows as dicts, total). total counts every row matching the filters (after_id
    included), so an integration following the ledger sees how much is left.
    """
    query = select(MOVEMENTS)
    if store_ids is not None:
        query = query.where(MOVEMENTS.c.store_id.in_(store_ids))
    if store_id is not None:
        query = query.where(MOVEMENTS.c.store_id == store_id)
    if product_id is not None:
        query = query.where(MOVEMENTS.c.product_id == product_id)
    if type:
        query = query.where(MOVEMENTS.c.type == type)
    if since is not None:
        query = query.where(MOVEMENTS.c.created_at >= since)
    if until is not None:
        query = query.where(MOVEMENTS.c.created_at < until)
    conn = db.session.connection()
    if after_id is not None:
        query = query.where(MOVEMENTS.c.id > after_id)
        order, offset = MOVEMENTS.c.id.asc(), 0
    else:
        order, offset = MOVEMENTS.c.id.desc(), (page - 1) * per_page
    total = conn.execute(select(func.count()).select_from(query.subquery())).scalar()
    rows = conn.execute(query.order_by(order).limit(per_page).offset(offset)).mappings().all()
    return [movement_dict(r) for r in rows], total
