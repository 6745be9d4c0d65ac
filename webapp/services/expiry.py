"""Stock that goes bad: what is expiring or expired in a store and across stores, what expired
last month and what it cost, and the worker's daily stock.expiring events.

This module only reads the batches the ledger keeps (services/ledger/batches.py); taking an
expired batch off the shelf is a removal with reason `expired` naming its batch, through
services/handlers.handle like every other write.

Words, in Pakistan days: the date on the pack is its last good day, so a batch is *expired*
from the day after its `expires_on`, and *expiring* when that day falls within the warning
window: the store's own (stores.expiry_warning_days, default 7) on the shopkeeper's pages and
in the daily event, N days (default 30) on the managers' report. Only batches with stock left
count; they are found through a partial index on (store_id, expires_on) of exactly those
batches (models/expiry.py), so a store's list is a short range scan however many empty
batches its history has left behind.

Value at cost is what remains × the product's cost price, rounded once per batch, half up, to
the paisa; totals add the rounded figures the rows show. A product without a cost price counts
at 0 and is counted in `without_cost`, as the valuation report does.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, bindparam, case, func, select, update

from webapp.extensions import db
from webapp.models import ExpiryRound, Product, StockBatch, StockMovement, Store
from webapp.models.types import MONEY_PLACES, QUANTITY_PLACES, utcnow
from webapp.services import audit
from webapp.services.errors import N_, DomainError
from webapp.services.paging import Page
from webapp.services.sql import exact_total, insert_ignore
from webapp.services.validation import pakistan_day, pakistan_day_start

BATCHES = StockBatch.__table__
PRODUCTS = Product.__table__
STORES = Store.__table__
MOVEMENTS = StockMovement.__table__
ROUNDS = ExpiryRound.__table__

DEFAULT_WITHIN_DAYS = 30
MAX_WITHIN_DAYS = 366
# Batches one stock.expiring event lists (soonest first); `batches` says how many there were.
MAX_EVENT_BATCHES = 200
ZERO_MONEY = Decimal("0.00")


def today():
    """The Pakistan day now."""
    return pakistan_day(utcnow())


def parse_within_days(value):
    """The report's N days ahead: a whole number from 0 to 366 (default 30)."""
    if value is None or value == "":
        return DEFAULT_WITHIN_DAYS
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) > MAX_WITHIN_DAYS:
        raise DomainError("invalid", N_("Within days must be a whole number from 0 to "
                                        "%(days)s.", days=MAX_WITHIN_DAYS), field="within_days")
    return int(text)


def _value(quantity, cost):
    if cost is None:
        return None
    return (Decimal(quantity) * Decimal(cost)).quantize(MONEY_PLACES, ROUND_HALF_UP)


def _money(value):
    return Decimal(value if value is not None else 0).quantize(MONEY_PLACES)


def _in_stores(column, stores):
    return True if stores is None else column.in_(sorted(stores) or [0])


def _live(until):
    """Batches with stock left that expire on or before `until` (expired ones included; any
    date for None), of products that still track expiry."""
    return and_(BATCHES.c.quantity > 0, PRODUCTS.c.tracks_expiry.is_(True),
                True if until is None else BATCHES.c.expires_on <= until)


# ---------------------------------------------------------------------------------------------
# The batches themselves


def batch_query(stores, store_id, until, product_id=None):
    """Batches with stock left expiring by `until` (None: any day), with their store and
    product."""
    where = [_live(until), _in_stores(BATCHES.c.store_id, stores)]
    if store_id is not None:
        where.append(BATCHES.c.store_id == store_id)
    if product_id is not None:
        where.append(BATCHES.c.product_id == product_id)
    return (select(BATCHES.c.id, BATCHES.c.store_id, STORES.c.code.label("store_code"),
                   STORES.c.name.label("store_name"), BATCHES.c.product_id, PRODUCTS.c.sku,
                   PRODUCTS.c.name, PRODUCTS.c.unit, PRODUCTS.c.cost, BATCHES.c.expires_on,
                   BATCHES.c.batch_code, BATCHES.c.quantity)
            .select_from(BATCHES.join(PRODUCTS, PRODUCTS.c.id == BATCHES.c.product_id)
                         .join(STORES, STORES.c.id == BATCHES.c.store_id))
            .where(*where))


# Soonest first; then by store and product, so a page boundary never moves.
_ORDER = (BATCHES.c.expires_on, BATCHES.c.store_id, BATCHES.c.product_id, BATCHES.c.id)


def batch_item(r, on):
    """A batch row as the pages, the CSV and the API show it."""
    quantity = Decimal(r.quantity).quantize(QUANTITY_PLACES)
    expires_on = r.expires_on if isinstance(r.expires_on, date) else \
        date.fromisoformat(str(r.expires_on))
    return {"batch_id": r.id, "store_id": r.store_id, "store_code": r.store_code,
            "store_name": r.store_name, "product_id": r.product_id, "sku": r.sku,
            "name": r.name, "unit": r.unit, "expires_on": expires_on,
            "batch_code": r.batch_code or None, "quantity": quantity,
            "unit_cost": r.cost, "value_cost": _value(quantity, r.cost),
            "expired": expires_on < on, "days_left": (expires_on - on).days}


def expiring(stores, store_id=None, within_days=DEFAULT_WITHIN_DAYS, on=None, page=1,
             per_page=50):
    """A Page of the batches with stock left expiring within `within_days` of `on` (today),
    expired ones included, soonest first. `stores`: None for every store, else the ids the
    viewer may see."""
    on = on or today()
    query = batch_query(stores, store_id, on + timedelta(days=within_days))
    rows = db.session.execute(query.order_by(*_ORDER).limit(per_page + 1)
                              .offset((page - 1) * per_page)).all()
    return Page([batch_item(r, on) for r in rows[:per_page]], None, page, per_page,
                has_next=len(rows) > per_page)


def iter_expiring(stores, store_id=None, within_days=DEFAULT_WITHIN_DAYS, on=None, batch=1000):
    """Every such batch, soonest first, read in batches (for CSV)."""
    on = on or today()
    result = db.session.connection().execute(
        batch_query(stores, store_id, on + timedelta(days=within_days)).order_by(*_ORDER)
        .execution_options(stream_results=True, yield_per=batch))
    for r in result:
        yield batch_item(r, on)


def totals(stores, store_id=None, within_days=DEFAULT_WITHIN_DAYS, on=None):
    """What the list adds up to: batches and value at cost, expired and still to expire."""
    on = on or today()
    conn = db.session.connection()
    query = batch_query(stores, store_id, on + timedelta(days=within_days)).subquery()
    expired = query.c.expires_on < on
    value = func.round(query.c.quantity * func.coalesce(query.c.cost, 0), 2)
    row = conn.execute(select(
        func.count().label("batches"),
        func.coalesce(func.sum(case((expired, 1), else_=0)), 0).label("expired_batches"),
        exact_total(conn, value, 2).label("value_cost"),
        exact_total(conn, case((expired, value), else_=0), 2).label("expired_value"),
        func.coalesce(func.sum(case((query.c.cost.is_(None), 1), else_=0)), 0)
        .label("without_cost"))).one()
    return {"batches": int(row.batches), "expired_batches": int(row.expired_batches),
            "value_cost": _money(row.value_cost), "expired_value": _money(row.expired_value),
            "without_cost": int(row.without_cost)}


def store_batches(store_id, product_id=None, on=None, page=1, per_page=50):
    """A Page of every batch with stock left in a store (of one product, or all), soonest first
    (GET /stores/<id>/batches): the partial index's range, whatever the dates."""
    on = on or today()
    query = batch_query(None, store_id, None, product_id)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar()
    rows = db.session.execute(query.order_by(*_ORDER).limit(per_page)
                              .offset((page - 1) * per_page)).all()
    return Page([batch_item(r, on) for r in rows], int(total), page, per_page)


# ---------------------------------------------------------------------------------------------
# A store's own window: the flags on its page and the shopkeeper's Expiring list


@dataclass(frozen=True)
class Flag:
    """What a product's batches in one store say: stock already expired, stock expiring within
    the store's window, and the first date among them."""

    expired: Decimal
    expiring: Decimal
    first: date

    @property
    def kind(self):
        return "expired" if self.expired > 0 else "expiring"


def window(store):
    """The store's warning window in days."""
    days = getattr(store, "expiry_warning_days", None)
    return 7 if days is None else days


def flags_query(store_id, on, until, product_id=None):
    """Per product of one store (or one product): quantity expired, quantity expiring by
    `until`, first date."""
    expired = BATCHES.c.expires_on < on
    query = (select(BATCHES.c.product_id,
                   func.sum(case((expired, BATCHES.c.quantity), else_=0)).label("expired"),
                   func.sum(case((expired, 0), else_=BATCHES.c.quantity)).label("expiring"),
                   func.min(BATCHES.c.expires_on).label("first"))
            .select_from(BATCHES.join(PRODUCTS, PRODUCTS.c.id == BATCHES.c.product_id))
            .where(BATCHES.c.store_id == store_id, _live(until))
            .group_by(BATCHES.c.product_id))
    return query if product_id is None else query.where(BATCHES.c.product_id == product_id)


# Built once: the store page's list asks on every refresh, and building the statement cost
# more CPU than running it.
_FLAGS = flags_query(bindparam("b_store"), bindparam("b_on"), bindparam("b_until"))
_FLAGS_ONE = _FLAGS.where(BATCHES.c.product_id == bindparam("b_product"))


def flags_subquery():
    """flags_query for one store as a subquery on bind parameters (b_store, b_on, b_until:
    window_values), for a statement that reads the flags with other rows (the store page's
    live list, inventory.list_page)."""
    return flags_query(bindparam("b_store"), bindparam("b_on"), bindparam("b_until")).subquery()


def window_values(store, on=None):
    """flags_query's day bounds for the store's window from `on` (today), as bind values."""
    on = on or today()
    return {"b_on": on, "b_until": on + timedelta(days=window(store))}


def flag(expired, expiring, first):
    """The Flag of one flags_query row's sums and first date."""
    return Flag(Decimal(expired or 0).quantize(QUANTITY_PLACES),
                Decimal(expiring or 0).quantize(QUANTITY_PLACES),
                first if isinstance(first, date) else date.fromisoformat(str(first)))


def store_flags(store, on=None, product_id=None):
    """{product_id: Flag} for the store's products (or one) with a batch expired or expiring
    within its window: one grouped range scan of the partial index."""
    values = {"b_store": store.id, **window_values(store, on)}
    if product_id is not None:
        values["b_product"] = product_id
    rows = db.session.execute(_FLAGS if product_id is None else _FLAGS_ONE, values)
    return {r.product_id: flag(r.expired, r.expiring, r.first) for r in rows}


def store_expiring(store, on=None, page=1, per_page=50):
    """The shopkeeper's Expiring list: the store's batches within its window, soonest first."""
    return expiring(None, store.id, window(store), on, page, per_page)


# ---------------------------------------------------------------------------------------------
# Last month


def last_month(on=None):
    """(first day, last day) of the Pakistan calendar month before `on`'s."""
    first_this = (on or today()).replace(day=1)
    last = first_this - timedelta(days=1)
    return last.replace(day=1), last


def expired_last_month(stores, store_id=None, on=None):
    """What was removed as expired in the month before this one, and what it cost, per store:
    removals with reason `expired`, valued at the unit cost recorded on each (read through the
    removals' partial index, as the shrinkage report is)."""
    start, end = last_month(on)
    conn = db.session.connection()
    moment = func.coalesce(MOVEMENTS.c.occurred_at, MOVEMENTS.c.created_at)
    value = func.coalesce(func.round(MOVEMENTS.c.quantity * MOVEMENTS.c.unit_cost, 2), 0)
    where = [MOVEMENTS.c.type == "removal", MOVEMENTS.c.reason == "expired",
             moment >= pakistan_day_start(start),
             moment < pakistan_day_start(end + timedelta(days=1)),
             _in_stores(MOVEMENTS.c.store_id, stores)]
    if store_id is not None:
        where.append(MOVEMENTS.c.store_id == store_id)
    grouped = (select(MOVEMENTS.c.store_id, func.count().label("movements"),
                      exact_total(conn, value, 2).label("value_cost"))
               .where(*where).group_by(MOVEMENTS.c.store_id).subquery())
    rows = conn.execute(select(STORES.c.code, STORES.c.name, grouped)
                        .select_from(grouped.join(STORES, STORES.c.id == grouped.c.store_id))
                        .order_by(grouped.c.value_cost.desc(), STORES.c.code)).all()
    per_store = [{"store_id": r.store_id, "store_code": r.code, "store_name": r.name,
                  "movements": int(r.movements),
                  "value_cost": _money(r.value_cost)}
                 for r in rows]
    return {"first_day": start, "last_day": end, "stores": per_store,
            "movements": sum(s["movements"] for s in per_store),
            "value_cost": sum((s["value_cost"] for s in per_store), ZERO_MONEY)}


# ---------------------------------------------------------------------------------------------
# The worker's daily events


def raise_daily(conn, now=None):
    """The day's stock.expiring events, once per Pakistan day: one audit event per active
    store with batches expired or expiring within its window (the drain turns each into a
    webhook delivery). The worker that inserts the day's expiry_rounds row raises every event
    in that same transaction; another worker waits on the row, then finds it and does nothing.
    → how many stores were told, or None when the day was done already. The caller commits."""
    now = now or utcnow()
    day = pakistan_day(now)
    if conn.execute(select(ROUNDS.c.day).where(ROUNDS.c.day == day)).first() is not None:
        return None
    claimed = conn.execute(insert_ignore(conn, ROUNDS).values(day=day, stores=0,
                                                              created_at=now)).rowcount
    if not claimed:
        return None
    told = 0
    for store_id, days, batches in _stores_to_tell(conn, day):
        expired = [b for b in batches if b["expired"]]
        audit.record(conn, None, "stock.expiring", "store", store_id, after={
            "store_id": store_id, "day": day.isoformat(), "within_days": days,
            "batches": len(batches), "expired": len(expired),
            "products": len({b["product_id"] for b in batches}),
            "items": batches[:MAX_EVENT_BATCHES]})
        told += 1
    conn.execute(update(ROUNDS).where(ROUNDS.c.day == day).values(stores=told))
    return told


def _stores_to_tell(conn, day):
    """(store id, its window, [batch, …] soonest first) for each active store with something
    expired or expiring within its window; one query per distinct window (most stores keep 7)."""
    windows = conn.execute(select(STORES.c.expiry_warning_days).distinct()
                           .where(STORES.c.active.is_(True))).scalars().all()
    found = {}
    for days in sorted(windows):
        rows = conn.execute(
            select(BATCHES.c.store_id, BATCHES.c.product_id, BATCHES.c.expires_on,
                   BATCHES.c.batch_code, BATCHES.c.quantity)
            .select_from(BATCHES.join(PRODUCTS, PRODUCTS.c.id == BATCHES.c.product_id)
                         .join(STORES, STORES.c.id == BATCHES.c.store_id))
            .where(_live(day + timedelta(days=days)), STORES.c.active.is_(True),
                   STORES.c.expiry_warning_days == days)
            .order_by(BATCHES.c.store_id, BATCHES.c.expires_on, BATCHES.c.product_id,
                      BATCHES.c.id))
        for r in rows:
            expires_on = r.expires_on if isinstance(r.expires_on, date) else \
                date.fromisoformat(str(r.expires_on))
            item = {"product_id": r.product_id, "expires_on": expires_on.isoformat(),
                    "quantity": f"{Decimal(r.quantity).quantize(QUANTITY_PLACES):f}",
                    "expired": expires_on < day}
            if r.batch_code:
                item["batch_code"] = r.batch_code
            found.setdefault(r.store_id, (days, []))[1].append(item)
    return [(store_id, days, batches) for store_id, (days, batches) in sorted(found.items())]
