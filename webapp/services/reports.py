"""Manager reports: stock across stores, low stock, valuation, sales, movements and shrinkage.

Every function takes `stores`: None for every store (managers), else the ids the viewer may
see; views work that out with webapp/access.py. Dates are Pakistan calendar days; the ledger
stores UTC. Money and quantities come back as exact Decimals. Reports over a date range read
daily_stock_summary (one store or a few) or its roll-ups (every store; see report_rollups.py),
never the ledger, except the shrinkage breakdown, which reads removals through a partial index.
"""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from sqlalchemy import case, func, literal, select, tuple_, union_all

from webapp.extensions import db
from webapp.models import (
    MOVEMENT_TYPES,
    REMOVAL_REASONS,
    SALE_REVERSAL_TYPES,
    WHOLE_UNITS,
    DailyStockSummary,
    Product,
    StockLevel,
    StockMovement,
    Store,
)
from webapp.models.types import MONEY_PLACES, QUANTITY_PLACES, utcnow
from webapp.services import report_rollups as rollups
from webapp.services.errors import N_, DomainError
from webapp.services.inventory import REORDER, search_clause
from webapp.services.paging import Page
from webapp.services.sql import exact_total, is_postgresql
from webapp.services.validation import pakistan_day, pakistan_day_start, parse_id

LEVELS = StockLevel.__table__
PRODUCTS = Product.__table__
STORES = Store.__table__
SUMMARY = DailyStockSummary.__table__
MOVEMENTS = StockMovement.__table__
STORE_STOCK = rollups.STORE_STOCK

DEFAULT_DAYS = 28
MAX_DAYS = 366
SALES_WINDOW_DAYS = 28
DEFAULT_COVER_DAYS = 14
# Filters list the stores by name up to this many; beyond, the page asks for a store code.
STORE_LIST_LIMIT = 100
# Up to this many stores, counting their levels live is cheaper than it is worth saving.
FEW_STORES = 20
STOCK_SORTS = {
    "product": lambda: [PRODUCTS.c.name, PRODUCTS.c.id, LEVELS.c.store_id],
    "store": lambda: [STORES.c.code, PRODUCTS.c.name, PRODUCTS.c.id],
    "category": lambda: [PRODUCTS.c.category, PRODUCTS.c.name, PRODUCTS.c.id, STORES.c.code],
    "quantity": lambda: [LEVELS.c.quantity, LEVELS.c.store_id, LEVELS.c.product_id],
}
# Store by store (the order the primary key walks), the most short first within a store.
LOW_ORDER = (STORES.c.code, LEVELS.c.quantity - REORDER, PRODUCTS.c.name, LEVELS.c.product_id)
ZERO = Decimal("0")
ONE_UNIT = Decimal("1")


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date

    @property
    def days(self):
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def utc_bounds(self):
        """The UTC instants where the first Pakistan day starts and the day after the last starts."""
        return pakistan_day_start(self.start), pakistan_day_start(self.end + timedelta(days=1))


# ---------------------------------------------------------------------------------------------
# Parameters


def today():
    return pakistan_day(utcnow())


PERIODS = ("today", "yesterday", "this_week", "this_month")


def period(name, on=None):
    """A named range of Pakistan days ending today (or `on`): today, yesterday, this week
    (from Monday) or this month."""
    day = on or today()
    if name == "today":
        return DateRange(day, day)
    if name == "yesterday":
        return DateRange(day - timedelta(days=1), day - timedelta(days=1))
    if name == "this_week":
        return DateRange(day - timedelta(days=day.weekday()), day)
    if name == "this_month":
        return DateRange(day.replace(day=1), day)
    raise ValueError(name)


def parse_date(value, field, label):
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise DomainError("invalid", N_("%(label)s must be a date like 2026-03-01.", label=label),
                          field=field) from None


def date_range(start=None, end=None, default_days=DEFAULT_DAYS):
    """The Pakistan days from `start` to `end` inclusive; the last 28 days by default."""
    end = parse_date(end, "to", "To") if end not in (None, "") else today()
    start = parse_date(start, "from", "From") if start not in (None, "") \
        else end - timedelta(days=default_days - 1)
    if start > end:
        raise DomainError("invalid", N_("From must be on or before To."), field="from")
    if (end - start).days + 1 > MAX_DAYS:
        raise DomainError("invalid", N_("Choose at most %(count)s days.", count=MAX_DAYS),
                          field="from")
    return DateRange(start, end)


def _in_stores(column, stores):
    return True if stores is None else column.in_(sorted(stores))


def _dec(value, places):
    return Decimal(value if value is not None else 0).quantize(places)


def _money(value):
    return _dec(value, MONEY_PLACES)


def _qty(value):
    return _dec(value, QUANTITY_PLACES)


# ---------------------------------------------------------------------------------------------
# Stock across stores


def _store_filters(stores, store_id=None, city=None):
    where = [_in_stores(STORES.c.id, stores)]
    if store_id is not None:
        where.append(STORES.c.id == store_id)
    if city:
        where.append(STORES.c.city == city)
    return where


def _product_filters(q=None, category=None, archived=False):
    where = []
    if not archived:
        where.append(PRODUCTS.c.archived.is_(False))
    if q and q.strip():
        where.append(search_clause(q))
    if category:
        where.append(PRODUCTS.c.category == category)
    return where


def _level_query(stores, q=None, store_id=None, category=None, city=None, archived=False):
    return (select(LEVELS.c.store_id, STORES.c.code.label("store_code"),
                   STORES.c.name.label("store_name"), STORES.c.city,
                   LEVELS.c.product_id, PRODUCTS.c.sku, PRODUCTS.c.name, PRODUCTS.c.category,
                   PRODUCTS.c.unit, PRODUCTS.c.archived, PRODUCTS.c.cost, PRODUCTS.c.sale_price,
                   LEVELS.c.quantity, REORDER.label("reorder_level"))
            .select_from(LEVELS.join(PRODUCTS, PRODUCTS.c.id == LEVELS.c.product_id)
                         .join(STORES, STORES.c.id == LEVELS.c.store_id))
            .where(*_store_filters(stores, store_id, city),
                   *_product_filters(q, category, archived)))


def _walk_query(sort, descending, stores, q, store_id, category, city, archived, inner_limit):
    """PostgreSQL: walk stores (or products) in order and each one's levels through an index.

    The planner would otherwise join every level and sort them all for one page; LATERAL
    makes it stop after the page, and `inner_limit` (offset + page size) caps what any one
    store or product can add, whatever the planner guesses. The order is the one STOCK_SORTS
    gives the plain query.
    """
    by_store = sort == "store"
    direction = (lambda c: c.desc()) if descending else (lambda c: c)
    if by_store:
        outer = (select(STORES.c.id, STORES.c.code, STORES.c.name, STORES.c.city)
                 .where(*_store_filters(stores, store_id, city))
                 .order_by(direction(STORES.c.code)).subquery("o"))
        inner = (select(LEVELS.c.product_id, LEVELS.c.quantity, PRODUCTS.c.sku, PRODUCTS.c.name,
                        PRODUCTS.c.category, PRODUCTS.c.unit, PRODUCTS.c.archived,
                        PRODUCTS.c.cost, PRODUCTS.c.sale_price, REORDER.label("reorder_level"))
                 .select_from(LEVELS.join(PRODUCTS, PRODUCTS.c.id == LEVELS.c.product_id))
                 .where(LEVELS.c.store_id == outer.c.id, *_product_filters(q, category, archived))
                 .order_by(direction(PRODUCTS.c.name), direction(PRODUCTS.c.id))
                 .limit(inner_limit).lateral("i"))
        columns = [outer.c.id.label("store_id"), outer.c.code.label("store_code"),
                   outer.c.name.label("store_name"), outer.c.city, inner.c.product_id,
                   inner.c.sku, inner.c.name, inner.c.category, inner.c.unit, inner.c.archived,
                   inner.c.cost, inner.c.sale_price, inner.c.quantity, inner.c.reorder_level]
        order = [outer.c.code, inner.c.name, inner.c.product_id]
    else:
        keys = ([PRODUCTS.c.category] if sort == "category" else []) + [PRODUCTS.c.name,
                                                                         PRODUCTS.c.id]
        outer = (select(PRODUCTS.c.id, PRODUCTS.c.sku, PRODUCTS.c.name, PRODUCTS.c.category,
                        PRODUCTS.c.unit, PRODUCTS.c.archived, PRODUCTS.c.cost,
                        PRODUCTS.c.sale_price, PRODUCTS.c.reorder_level)
                 .where(*_product_filters(q, category, archived))
                 .order_by(*map(direction, keys)).subquery("o"))
        inner = (select(LEVELS.c.store_id, LEVELS.c.quantity, LEVELS.c.reorder_level,
                        STORES.c.code, STORES.c.name, STORES.c.city)
                 .select_from(LEVELS.join(STORES, STORES.c.id == LEVELS.c.store_id))
                 .where(LEVELS.c.product_id == outer.c.id,
                        *_store_filters(stores, store_id, city))
                 .order_by(direction(LEVELS.c.store_id)).limit(inner_limit).lateral("i"))
        columns = [inner.c.store_id, inner.c.code.label("store_code"),
                   inner.c.name.label("store_name"), inner.c.city, outer.c.id.label("product_id"),
                   outer.c.sku, outer.c.name, outer.c.category, outer.c.unit, outer.c.archived,
                   outer.c.cost, outer.c.sale_price, inner.c.quantity,
                   func.coalesce(inner.c.reorder_level, outer.c.reorder_level)
                   .label("reorder_level")]
        order = ([outer.c.category] if sort == "category" else []) + [outer.c.name, outer.c.id,
                                                                        inner.c.store_id]
    return (select(*columns).select_from(outer.join(inner, literal(True)))
            .order_by(*map(direction, order)))


def _stock_query(conn, sort, descending, stores, q, store_id, category, city, archived,
                 inner_limit=None):
    if is_postgresql(conn) and sort != "quantity":
        return _walk_query(sort, descending, stores, q, store_id, category, city, archived,
                           inner_limit)
    return (_level_query(stores, q, store_id, category, city, archived)
            .order_by(*_stock_order(sort, descending, store_id, stores)))


def _level_item(r):
    quantity, reorder = _qty(r.quantity), _qty(r.reorder_level)
    on_hand = max(quantity, ZERO)
    return {
        "store_id": r.store_id, "store_code": r.store_code, "store_name": r.store_name,
        "city": r.city, "product_id": r.product_id, "sku": r.sku, "name": r.name,
        "category": r.category, "unit": r.unit, "archived": r.archived,
        "quantity": quantity, "reorder_level": reorder,
        "low": quantity <= reorder, "negative": quantity < 0,
        "value_cost": None if r.cost is None else _money(on_hand * r.cost),
        "value_sale": _money(on_hand * r.sale_price),
    }


def stock_levels(stores, q=None, store_id=None, category=None, city=None, archived=False,
                 sort="product", descending=False, page=1, per_page=50):
    """A page of levels across the visible stores, filtered and sorted (next/previous paging).

    Sorting by quantity needs one store: over every store it would sort millions of rows.
    """
    _stock_order(sort, descending, store_id, stores)
    conn = db.session.connection()
    offset = (page - 1) * per_page
    query = _stock_query(conn, sort, descending, stores, q, store_id, category, city, archived,
                         inner_limit=offset + per_page + 1)
    rows = conn.execute(query.limit(per_page + 1).offset(offset)).all()
    return Page([_level_item(r) for r in rows[:per_page]], None, page, per_page,
                has_next=len(rows) > per_page)


def _stock_order(sort, descending, store_id, stores):
    if sort not in STOCK_SORTS:
        raise DomainError("invalid", N_("Sort by one of: %(sorts)s.",
                                        sorts=", ".join(STOCK_SORTS)), field="sort")
    if sort == "quantity" and store_id is None and (stores is None or len(stores) > 5):
        raise DomainError("invalid", N_("Choose a store to sort by quantity."), field="sort")
    return [c.desc() if descending else c for c in STOCK_SORTS[sort]()]


def iter_stock_levels(stores, q=None, store_id=None, category=None, city=None, archived=False,
                      sort="product", descending=False):
    """Every matching level, streamed from the database in batches (for CSV)."""
    _stock_order(sort, descending, store_id, stores)
    conn = db.session.connection()
    query = _stock_query(conn, sort, descending, stores, q, store_id, category, city, archived)
    # Options on the statement, not the connection: Connection.execution_options() sets them on
    # the connection in place, and every later statement of the request then ran in a
    # server-side cursor (DECLARE … CURSOR FOR INSERT: a 500 on PostgreSQL, issue 23's sweep).
    result = conn.execute(query.execution_options(stream_results=True, yield_per=2000))
    for r in result:
        yield _level_item(r)


def filter_choices(stores):
    """Stores, categories and cities a viewer can filter by; stores only when a list is short
    (with thousands, the page asks for a store code instead of sending every store)."""
    conn = db.session.connection()
    visible = _in_stores(STORES.c.id, stores)
    count = conn.execute(select(func.count()).select_from(STORES).where(visible)).scalar()
    store_rows = conn.execute(select(STORES.c.id, STORES.c.code, STORES.c.name)
                              .where(visible).order_by(STORES.c.code)).all() \
        if count <= STORE_LIST_LIMIT else None
    categories = conn.execute(select(PRODUCTS.c.category).distinct()
                              .where(PRODUCTS.c.category != "")
                              .order_by(PRODUCTS.c.category)).scalars().all()
    cities = conn.execute(select(STORES.c.city).distinct()
                          .where(visible, STORES.c.city != "")
                          .order_by(STORES.c.city)).scalars().all()
    return {"stores": store_rows, "categories": categories, "cities": cities,
            "all_stores": stores is None}


def store_by_code(code):
    """The id of the store with this code (any case), or None."""
    return db.session.connection().execute(
        select(STORES.c.id).where(func.lower(STORES.c.code) == code.strip().lower())).scalar()


# ---------------------------------------------------------------------------------------------
# Low stock


def _low_query(stores, q=None, store_id=None, category=None, city=None):
    return (_level_query(stores, q, store_id, category, city)
            .where(LEVELS.c.quantity <= REORDER))


def low_stock(stores, q=None, store_id=None, category=None, city=None,
              cover_days=DEFAULT_COVER_DAYS, page=1, per_page=50, on=None):
    """Levels at or under their reorder level, store by store and most short first, with a
    suggested reorder. Over more than FEW_STORES stores (and no search) the total is that of the
    last refresh; the rows are always live."""
    cover_days = _cover_days(cover_days)
    conn = db.session.connection()
    query = _low_query(stores, q, store_id, category, city)
    few_stores = store_id is not None or (stores is not None and len(stores) <= FEW_STORES)
    if q or few_stores:
        total = conn.execute(select(func.count()).select_from(
            query.with_only_columns(LEVELS.c.store_id).subquery())).scalar()
    else:
        total = _low_total_as_of_refresh(conn, stores, category, city)
    rows = conn.execute(query.order_by(*LOW_ORDER).limit(per_page + 1)
                        .offset((page - 1) * per_page)).all()
    items = _with_suggestions(conn, rows[:per_page], cover_days, on or today())
    return Page(items, int(total), page, per_page, has_next=len(rows) > per_page)


def _low_total_as_of_refresh(conn, stores, category, city):
    """How many levels are low across many stores, from the store totals of the last refresh."""
    query = (select(func.coalesce(func.sum(STORE_STOCK.c.low), 0))
             .select_from(STORE_STOCK.join(STORES, STORES.c.id == STORE_STOCK.c.store_id))
             .where(*_store_filters(stores, None, city)))
    if category:
        query = query.where(STORE_STOCK.c.category == category)
    return conn.execute(query).scalar()


def iter_low_stock(stores, q=None, store_id=None, category=None, city=None,
                   cover_days=DEFAULT_COVER_DAYS, on=None, batch=500):
    """Every low level with its suggestion, read and sent in batches (for CSV)."""
    cover_days = _cover_days(cover_days)
    conn = db.session.connection()
    result = conn.execute(_low_query(stores, q, store_id, category, city).order_by(*LOW_ORDER)
                          .execution_options(stream_results=True, yield_per=batch))
    for rows in result.partitions(batch):
        yield from _with_suggestions(conn, rows, cover_days, on or today())


def _cover_days(value):
    days = parse_id(value or DEFAULT_COVER_DAYS, "cover_days", "Cover days")
    if days > 365:
        raise DomainError("invalid", N_("Cover days can be at most 365."), field="cover_days")
    return days


def _with_suggestions(conn, rows, cover_days, on):
    """Add average daily sales over the 28 days before `on` and what to reorder to cover_days."""
    sold = {}
    if rows:
        first, last = on - timedelta(days=SALES_WINDOW_DAYS), on - timedelta(days=1)
        pairs = sorted({(r.store_id, r.product_id) for r in rows})
        # Net of voids and returns: what customers kept is what needs replacing.
        net = case((SUMMARY.c.type == "sale", SUMMARY.c.quantity), else_=-SUMMARY.c.quantity)
        sold = dict(((r.store_id, r.product_id), max(r.quantity, 0)) for r in conn.execute(
            select(SUMMARY.c.store_id, SUMMARY.c.product_id,
                   exact_total(conn, net, 3).label("quantity"))
            .where(SUMMARY.c.store_id.in_({p[0] for p in pairs}),
                   tuple_(SUMMARY.c.store_id, SUMMARY.c.product_id).in_(pairs),
                   SUMMARY.c.type.in_(SALES_TYPES), SUMMARY.c.day.between(first, last))
            .group_by(SUMMARY.c.store_id, SUMMARY.c.product_id)))
    items = []
    for r in rows:
        item = _level_item(r)
        sold_28 = _qty(sold.get((r.store_id, r.product_id)))
        item["sold_28_days"] = sold_28
        item["avg_daily_sales"] = (sold_28 / SALES_WINDOW_DAYS).quantize(QUANTITY_PLACES,
                                                                          ROUND_HALF_UP)
        item["suggested"] = suggested_reorder(sold_28, cover_days, item["reorder_level"],
                                              item["quantity"], r.unit)
        items.append(item)
    return items


def suggested_reorder(sold_28_days, cover_days, reorder_level, level, unit):
    """What to order so that the level ends above its reorder level, not at it.

    "Low" means at or below the reorder level, so topping up *to* it would leave the product
    low after the order arrives. The target is the larger of cover_days at the recent sales
    rate and the reorder level plus a reorder quantity, which is the reorder level itself
    (a min/max rule, max = 2 × min) and never less than one unit.
    """
    reorder_level = max(reorder_level, ZERO)
    reorder_quantity = max(reorder_level, ONE_UNIT)
    target = max(sold_28_days * cover_days / SALES_WINDOW_DAYS, reorder_level + reorder_quantity)
    need = max(target - level, ZERO)
    if unit in WHOLE_UNITS:
        return need.to_integral_value(ROUND_CEILING).quantize(QUANTITY_PLACES)
    return need.quantize(QUANTITY_PLACES, ROUND_CEILING)


# ---------------------------------------------------------------------------------------------
# Valuation


def valuation(stores, store_id=None, city=None, page=1, per_page=50):
    """Stock value at cost and at sale price per store, and in total.

    Over every store it reads the store totals of the last refresh (as_of says when); for a
    chosen store, or a shopkeeper's own, it counts the levels now.
    """
    conn = db.session.connection()
    if stores is None and store_id is None:
        per_category = STORE_STOCK
        as_of = rollups.as_of(conn)
    else:
        where = [_in_stores(LEVELS.c.store_id, stores)]
        if store_id is not None:
            where.append(LEVELS.c.store_id == store_id)
        per_category = rollups.store_stock_totals(conn, *where).subquery()
        as_of = None
    c = per_category.c
    per_store = (select(c.store_id, *[func.sum(c[k]).label(k) for k in
                                      ("levels", "low", "negative", "without_cost")],
                        exact_total(conn, c.units, 3).label("units"),
                        exact_total(conn, c.value_cost, 2).label("value_cost"),
                        exact_total(conn, c.value_sale, 2).label("value_sale"))
                 .group_by(c.store_id).subquery())
    query = (select(STORES.c.id, STORES.c.code, STORES.c.name, STORES.c.city, per_store)
             .select_from(per_store.join(STORES, STORES.c.id == per_store.c.store_id)))
    if city:
        query = query.where(STORES.c.city == city)
    rows = conn.execute(query.order_by(STORES.c.code)).all()
    items = [{"store_id": r.id, "store_code": r.code, "store_name": r.name, "city": r.city,
              "levels": int(r.levels), "low": int(r.low), "negative": int(r.negative),
              "without_cost": int(r.without_cost), "units": _qty(r.units),
              "value_cost": _money(r.value_cost), "value_sale": _money(r.value_sale)}
             for r in rows]
    total = {"stores": len(items)}
    for key in ("levels", "low", "negative", "without_cost"):
        total[key] = sum(i[key] for i in items)
    total["units"] = sum((i["units"] for i in items), _qty(0))
    for key in ("value_cost", "value_sale"):
        total[key] = sum((i[key] for i in items), _money(0))
    start = (page - 1) * per_page
    return {"page": Page(items[start:start + per_page], len(items), page, per_page,
                         has_next=start + per_page < len(items)),
            "all": items, "total": total, "as_of": as_of}


# ---------------------------------------------------------------------------------------------
# Sales and movements over a date range


def _facts(conn, grain, stores, span, types):
    """(day, key, type, quantity, delta, amount, movements, cost, without_cost) rows from the
    cheapest source.

    A few stores: daily_stock_summary by its (store_id, day) index. Every store: before
    live_from(), whole months from the monthly roll-up and the other days from the daily one;
    from live_from() on, daily_stock_summary itself.
    """
    key = {"day": None, "store": "store_id", "product": "product_id"}[grain]

    def part(table, start, end, day="day"):
        key_column = table.c[key] if key else literal(0)
        return (select(table.c[day].label("day"), key_column.label("key"), table.c.type,
                       table.c.quantity, table.c.delta, table.c.amount, table.c.movements,
                       table.c.cost, table.c.without_cost)
                .where(table.c[day].between(start, end), table.c.type.in_(types)))

    if stores is not None:
        return part(SUMMARY, span.start, span.end).where(
            SUMMARY.c.store_id.in_(sorted(stores))).subquery()
    live = rollups.live_from(conn)
    daily = {"day": rollups.TYPE_DAYS, "store": rollups.STORE_DAYS,
             "product": rollups.PRODUCT_DAYS}[grain]
    monthly = {"store": rollups.STORE_MONTHS, "product": rollups.PRODUCT_MONTHS}.get(grain)
    parts = []
    if span.end >= live:
        parts.append(part(SUMMARY, max(span.start, live), span.end))
    if span.start < live:
        rolled = DateRange(span.start, min(span.end, live - timedelta(days=1)))
        months = _whole_months(rolled) if monthly is not None else []
        for start, end in _days_outside(rolled, months):
            parts.append(part(daily, start, end))
        if months:
            parts.append(part(monthly, months[0], months[-1], day="month"))
    return (union_all(*parts) if len(parts) > 1 else parts[0]).subquery()


def _whole_months(span):
    """First days of the calendar months lying wholly inside span."""
    month = span.start if span.start.day == 1 else \
        rollups.month_end(span.start) + timedelta(days=1)
    months = []
    while rollups.month_end(month) <= span.end:
        months.append(month)
        month = rollups.month_end(month) + timedelta(days=1)
    return months


def _days_outside(span, months):
    """The (start, end) day ranges of span not covered by the whole months."""
    if not months:
        return [(span.start, span.end)]
    pieces = []
    if span.start < months[0]:
        pieces.append((span.start, months[0] - timedelta(days=1)))
    last = rollups.month_end(months[-1])
    if last < span.end:
        pieces.append((last + timedelta(days=1), span.end))
    return pieces


def _totals(conn, facts):
    return (exact_total(conn, facts.c.quantity, 3).label("quantity"),
            exact_total(conn, facts.c.delta, 3).label("delta"),
            exact_total(conn, facts.c.amount, 2).label("amount"),
            func.sum(facts.c.movements).label("movements"))


def _figures(r):
    return {"quantity": _qty(r.quantity), "amount": _money(r.amount),
            "movements": int(r.movements or 0)}


# Sales net of voids and returns. A void or a customer return writes `adjustment` movements
# that put the goods back; the ledger also files their sale side as SALE_REVERSAL_TYPES rows
# (quantity, the sale value refunded, the cost the sale had counted) on the Pakistan day the
# void or return was recorded, so a sale voided the same day nets to nothing that day, and a
# return of last week's sale lowers today's figures: days already reported never change.
SALES_TYPES = ["sale", *SALE_REVERSAL_TYPES.values()]
EMPTY_SALES = {"quantity": _qty(0), "amount": _money(0), "cost": _money(0), "profit": _money(0),
               "movements": 0, "refunded": _money(0), "reversals": 0, "without_cost": 0}


def _sales_totals(conn, facts):
    """Net quantity, value and cost; sale movements; refunds and their count; sales without cost.

    Profit is value − cost, where cost is the unit cost recorded on each sale movement (the
    product's cost price when it was sold, as the stock-in and valuation figures use it), so a
    later change of cost price never rewrites past profit. A sale of a product without a cost
    counts at cost 0, as the valuation does; `without_cost` says how many there were.
    """
    sale = facts.c.type == "sale"

    def net(column, places):
        return exact_total(conn, case((sale, column), else_=-column), places)

    def only(condition, column):
        return func.sum(case((condition, column), else_=0))

    return (net(facts.c.quantity, 3).label("quantity"), net(facts.c.amount, 2).label("amount"),
            net(facts.c.cost, 2).label("cost"), only(sale, facts.c.movements).label("movements"),
            exact_total(conn, case((sale, 0), else_=facts.c.amount), 2).label("refunded"),
            only(~sale, facts.c.movements).label("reversals"),
            only(sale, facts.c.without_cost).label("without_cost"))


def _sales_figures(r):
    amount, cost = _money(r.amount), _money(r.cost)
    return {"quantity": _qty(r.quantity), "amount": amount, "cost": cost,
            "profit": amount - cost, "movements": int(r.movements or 0),
            "refunded": _money(r.refunded), "reversals": int(r.reversals or 0),
            "without_cost": int(r.without_cost or 0)}


def sales_by_day(stores, span):
    """Sales per Pakistan day, every day of the range listed (zero when nothing was sold)."""
    conn = db.session.connection()
    facts = _facts(conn, "day", stores, span, SALES_TYPES)
    found = {rollups.as_date(r.day): _sales_figures(r) for r in conn.execute(
        select(facts.c.day, *_sales_totals(conn, facts)).group_by(facts.c.day))}
    return [{"day": day, **found.get(day, EMPTY_SALES)} for day in span.days]


def sales_by_store(stores, span):
    """Sales per store over the range, best first."""
    conn = db.session.connection()
    facts = _facts(conn, "store", stores, span, SALES_TYPES)
    grouped = select(facts.c.key, *_sales_totals(conn, facts)).group_by(facts.c.key).subquery()
    rows = conn.execute(
        select(STORES.c.id, STORES.c.code, STORES.c.name, STORES.c.city, grouped)
        .select_from(grouped.join(STORES, STORES.c.id == grouped.c.key))
        .order_by(grouped.c.amount.desc(), STORES.c.code))
    return [{"store_id": r.id, "store_code": r.code, "store_name": r.name, "city": r.city,
             **_sales_figures(r)} for r in rows]


def sales_by_product(stores, span, limit=None):
    """Sales per product over the range, top sellers (by net amount) first."""
    conn = db.session.connection()
    facts = _facts(conn, "product", stores, span, SALES_TYPES)
    grouped = select(facts.c.key, *_sales_totals(conn, facts)).group_by(facts.c.key).subquery()
    query = (select(PRODUCTS.c.id, PRODUCTS.c.sku, PRODUCTS.c.name, PRODUCTS.c.category,
                    PRODUCTS.c.unit, PRODUCTS.c.archived, grouped)
             .select_from(grouped.join(PRODUCTS, PRODUCTS.c.id == grouped.c.key))
             .order_by(grouped.c.amount.desc(), PRODUCTS.c.name, PRODUCTS.c.id))
    if limit:
        query = query.limit(limit)
    return [{"product_id": r.id, "sku": r.sku, "name": r.name, "category": r.category,
             "unit": r.unit, "archived": r.archived, **_sales_figures(r)}
            for r in conn.execute(query)]


def sales_total(days):
    """The figures of sales_by_day added up."""
    return {key: sum((d[key] for d in days), zero) for key, zero in EMPTY_SALES.items()}


def movements_by_type(stores, span):
    """Per movement type over the range: quantity, net change, value and count."""
    conn = db.session.connection()
    facts = _facts(conn, "day", stores, span, list(MOVEMENT_TYPES))
    found = {r.type: r for r in conn.execute(
        select(facts.c.type, *_totals(conn, facts)).group_by(facts.c.type))}
    items = []
    for kind in MOVEMENT_TYPES:
        r = found.get(kind)
        items.append({"type": kind, "quantity": _qty(r.quantity if r else 0),
                      "delta": _qty(r.delta if r else 0), "amount": _money(r.amount if r else 0),
                      "movements": int(r.movements) if r else 0})
    return items


def removals_by_reason(stores, span):
    """Shrinkage: removals per reason over the range, valued at the cost recorded with them."""
    conn = db.session.connection()
    first, after = span.utc_bounds()
    moment = func.coalesce(MOVEMENTS.c.occurred_at, MOVEMENTS.c.created_at)
    value = func.coalesce(func.round(MOVEMENTS.c.quantity * MOVEMENTS.c.unit_cost, 2), 0)
    query = (select(MOVEMENTS.c.reason, exact_total(conn, MOVEMENTS.c.quantity, 3).label("quantity"),
                    exact_total(conn, value, 2).label("amount"), func.count().label("movements"))
             .where(MOVEMENTS.c.type == "removal", moment >= first, moment < after,
                    _in_stores(MOVEMENTS.c.store_id, stores))
             .group_by(MOVEMENTS.c.reason))
    found = {r.reason: r for r in conn.execute(query)}
    return [{"reason": reason, **(_figures(found[reason]) if reason in found
                                  else {"quantity": _qty(0), "amount": _money(0),
                                        "movements": 0})}
            for reason in REMOVAL_REASONS]
