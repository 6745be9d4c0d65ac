"""Paginated, filtered lists of products, stores and suppliers (read-only); each is a Page.

Movements are listed by services/history.py, for the history page and the API alike.
"""
from sqlalchemy import func, select

from webapp.models import Product, Store, Supplier
from webapp.services.inventory import search_clause
from webapp.services.paging import paginate


def _like(q):
    return f"%{q.strip().lower()}%"


def products(q=None, category=None, archived=None, page=1, per_page=50):
    """Products by name/SKU/barcode search, category and archived flag."""
    query = select(Product)
    if q:
        query = query.where(search_clause(q))
    if category:
        query = query.where(Product.category == category)
    if archived is not None:
        query = query.where(Product.archived.is_(archived))
    return paginate(query, (Product.name, Product.id), page, per_page)


def stores(store_ids=None, q=None, active=None, page=1, per_page=50):
    """Stores, limited to store_ids when given (a shopkeeper's)."""
    query = select(Store)
    if store_ids is not None:
        query = query.where(Store.id.in_(store_ids))
    if q:
        like = _like(q)
        query = query.where(func.lower(Store.name).like(like) | func.lower(Store.code).like(like)
                            | func.lower(Store.city).like(like))
    if active is not None:
        query = query.where(Store.active.is_(active))
    return paginate(query, (Store.code, Store.id), page, per_page)


def suppliers(q=None, page=1, per_page=50):
    query = select(Supplier)
    if q:
        query = query.where(func.lower(Supplier.name).like(_like(q)))
    return paginate(query, (Supplier.name, Supplier.id), page, per_page)
