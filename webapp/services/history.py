"""The movement history behind the history page: filters and keyset-free paging."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import MOVEMENT_TYPES, Product, StockMovement, Store, Supplier, User
from webapp.services.errors import N_, DomainError
from webapp.services.validation import PAKISTAN

MOVEMENTS = StockMovement.__table__
PER_PAGE = 50


@dataclass
class HistoryFilter:
    store_ids: list | None = None       # None: every store
    product_id: int | None = None
    type: str | None = None
    user_id: int | None = None
    date_from: date | None = None       # Pakistan calendar days, both ends included
    date_to: date | None = None


def pakistan_day_start(day):
    """The UTC moment a Pakistan calendar day begins."""
    return datetime.combine(day, time.min, tzinfo=PAKISTAN)


def movements(flt, page=1, per_page=PER_PAGE):
    """A page of movements, newest first; returns (rows, has_next)."""
    if flt.type and flt.type not in MOVEMENT_TYPES:
        raise DomainError("invalid", N_("Unknown movement type."), field="type")
    if flt.date_from and flt.date_to and flt.date_from > flt.date_to:
        raise DomainError("invalid", N_("The start date is after the end date."), field="date_to")
    query = (select(MOVEMENTS, Store.code.label("store_code"), Product.name.label("product_name"),
                    Product.sku.label("product_sku"), Product.unit.label("product_unit"),
                    User.username.label("username"), Supplier.name.label("supplier_name"))
             .select_from(MOVEMENTS.join(Store, Store.id == MOVEMENTS.c.store_id)
                          .join(Product, Product.id == MOVEMENTS.c.product_id)
                          .outerjoin(User, User.id == MOVEMENTS.c.user_id)
                          .outerjoin(Supplier, Supplier.id == MOVEMENTS.c.supplier_id)))
    if flt.store_ids is not None:
        query = query.where(MOVEMENTS.c.store_id.in_(flt.store_ids or [0]))
    if flt.product_id:
        query = query.where(MOVEMENTS.c.product_id == flt.product_id)
    if flt.type:
        query = query.where(MOVEMENTS.c.type == flt.type)
    if flt.user_id:
        query = query.where(MOVEMENTS.c.user_id == flt.user_id)
    if flt.date_from:
        query = query.where(MOVEMENTS.c.created_at >= pakistan_day_start(flt.date_from))
    if flt.date_to:
        query = query.where(MOVEMENTS.c.created_at
                            < pakistan_day_start(flt.date_to + timedelta(days=1)))
    page = max(1, page)
    rows = db.session.execute(query.order_by(MOVEMENTS.c.id.desc())
                              .limit(per_page + 1).offset((page - 1) * per_page)).all()
    return rows[:per_page], len(rows) > per_page
