"""The movement ledger as a list: one filter and one query for the history page and the API."""
import hashlib
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.infra import redisconn
from webapp.models import MOVEMENT_TYPES, Product, StockMovement, Store, Supplier, User
from webapp.models.types import utcnow
from webapp.services import ledger, partitions
from webapp.services.errors import N_, DomainError
from webapp.services.paging import PER_PAGE, count_of, paginate
from webapp.services.sql import is_postgresql
from webapp.services.validation import pakistan_day_start

MOVEMENTS = StockMovement.__table__


@dataclass(frozen=True)
class MovementFilter:
    store_ids: Collection | None = None  # None: every store
    store_id: int | None = None
    product_id: int | None = None
    type: str | None = None
    user_id: int | None = None
    date_from: date | None = None        # Pakistan calendar days, both ends included
    date_to: date | None = None
    since: datetime | None = None        # moments: since ≤ created_at < until
    until: datetime | None = None
    after_id: int | None = None          # keyset paging: oldest first after this id


def movements(flt, page=1, per_page=PER_PAGE, count=True, names=False):
    """A Page of movements (row mappings), newest first (by when they were recorded); with
    after_id, oldest first from that id. count=False skips counting (has_next from one extra
    row); names=True joins the store code, product, user and supplier names the history page
    shows."""
    if flt.type and flt.type not in MOVEMENT_TYPES:
        raise DomainError("invalid", N_("Unknown movement type."), field="type")
    if flt.date_from and flt.date_to and flt.date_from > flt.date_to:
        raise DomainError("invalid", N_("The start date is after the end date."), field="date_to")
    query = select(MOVEMENTS)
    if names:
        query = (select(MOVEMENTS, Store.code.label("store_code"),
                        Product.name.label("product_name"), Product.sku.label("product_sku"),
                        Product.unit.label("product_unit"), User.username.label("username"),
                        Supplier.name.label("supplier_name"))
                 .select_from(MOVEMENTS.join(Store, Store.id == MOVEMENTS.c.store_id)
                              .join(Product, Product.id == MOVEMENTS.c.product_id)
                              .outerjoin(User, User.id == MOVEMENTS.c.user_id)
                              .outerjoin(Supplier, Supplier.id == MOVEMENTS.c.supplier_id)))
    since = max(filter(None, (flt.since, flt.date_from and pakistan_day_start(flt.date_from))),
                default=None)
    until = min(filter(None, (flt.until, flt.date_to
                              and pakistan_day_start(flt.date_to + timedelta(days=1)))),
                default=None)
    conditions = [
        (flt.store_ids is not None, lambda: MOVEMENTS.c.store_id.in_(flt.store_ids or [0])),
        (flt.store_id is not None, lambda: MOVEMENTS.c.store_id == flt.store_id),
        (flt.product_id, lambda: MOVEMENTS.c.product_id == flt.product_id),
        (flt.type, lambda: MOVEMENTS.c.type == flt.type),
        (flt.user_id, lambda: MOVEMENTS.c.user_id == flt.user_id),
        (since is not None, lambda: MOVEMENTS.c.created_at >= since),
        (until is not None, lambda: MOVEMENTS.c.created_at < until),
        (flt.after_id is not None, lambda: MOVEMENTS.c.id > flt.after_id),
    ]
    query = query.where(*[condition() for wanted, condition in conditions if wanted])
    keyset = flt.after_id is not None
    # Newest first by created_at, the ledger's partition key on PostgreSQL, then id: each
    # monthly partition's (store_id | product_id | plain, created_at) index then yields its
    # rows in order and the newest partitions answer a page. By id alone every partition's
    # primary key was walked backwards past other stores' rows (7 s for one store's first
    # page at 10M movements; docs/performance.md).
    newest_first = (MOVEMENTS.c.created_at.desc(), MOVEMENTS.c.id.desc())
    result = paginate(query, (MOVEMENTS.c.id.asc(),) if keyset else newest_first,
                      1 if keyset else max(1, page), per_page, count=count,
                      rows=lambda q: db.session.execute(q).mappings().all(),
                      counter=_counter(flt, names))
    if keyset:
        result.page = page  # the page asked for is ignored, and answered as asked
    return result


# A month's partition gains no row once the month is over: created_at is when a movement was
# written, and movements are never changed or deleted. So what a filter counts in the closed
# months never changes; it is kept in Redis and only the open month is counted again (the whole
# ledger's total at 10M movements: ~310 ms, of which the open month is a twelfth). An hour's
# grace covers a transaction that began before the month turned and committed after.
CLOSED_COUNT_GRACE = timedelta(hours=1)
CLOSED_COUNT_TTL = 40 * 24 * 3600


def closed_before(now):
    """Movements written before this instant are in months no insert can reach any more."""
    return partitions.month_start(now - CLOSED_COUNT_GRACE)


def _counter(flt, names):
    """count_of, or on PostgreSQL with Redis the closed months' count kept and the open
    month's counted."""
    if not is_postgresql(db.engine) or not redisconn.configured():
        return count_of

    def count(query):
        boundary = closed_before(utcnow())
        store_ids = None if flt.store_ids is None else tuple(sorted(flt.store_ids))
        ident = repr((db.engine.url.database, names, replace(flt, store_ids=store_ids),
                      boundary.isoformat()))
        key = redisconn.prefixed("movements:closed-count:"
                                 + hashlib.sha1(ident.encode()).hexdigest())
        cached = redisconn.run(lambda r: r.get(key))
        if cached is None:
            closed = count_of(query.where(MOVEMENTS.c.created_at < boundary))
            redisconn.run(lambda r: r.set(key, closed, ex=CLOSED_COUNT_TTL))
        else:
            closed = int(cached)
        return closed + count_of(query.where(MOVEMENTS.c.created_at >= boundary))
    return count


def batches_by_movement(movement_ids):
    """{movement id: its batches} of the listed movements that have any (one query)."""
    return ledger.batches.of_movements(db.session.connection(), movement_ids)


def with_batches(movements):
    """Add `batches` to the listed movements of products that track expiry (one query)."""
    found = batches_by_movement([m["id"] for m in movements])
    for m in movements:
        if m["id"] in found:
            m["batches"] = found[m["id"]]
    return movements
