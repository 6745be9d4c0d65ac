"""Keeping the report roll-ups up to date from daily_stock_summary.

daily_stock_summary is written with every movement, so it is exact but large (one row per day,
store, product and type). Reports over every store read smaller roll-ups of it instead (per day
× store, per day × product, per day, and per month × store / product for long ranges), which
`refresh()` recomputes for each Pakistan day (and its month) touched by movements created since
the last refresh; it also recomputes the stock totals per store and category of every store
whose levels changed (all of them when a product changed: prices and costs value the stock). Recomputing a whole day is idempotent, so
refreshes overlap by OVERLAP to catch transactions that committed late, and two workers running
at once are harmless (the state row is locked). Days at or after `live_from()` are read from
daily_stock_summary directly, so today's figures are always live; a movement back-dated into an
older day shows in the all-store figures from the next refresh (run every minute by a worker:
`webapp.jobs.tasks.refresh_report_rollups`, or `flask reports refresh`). Every roll-up carries
the summary's TOTALS (cost and without_cost included, for profit) and its `sale_void` /
`sale_return` rows, grouped like any type.

The money side of the sales has its own daily roll-up (daily_payment_summary, per day × store:
how the day's sales were paid, what its voids and returns were worth and took off the khata),
recomputed for the same touched days from the sales, reversals and khata entries
(`payment_days`, the one query both the roll-up and the live days read), so the sales report's
payment methods over a long range read a row per store and day, not every sale.
"""
from datetime import date, timedelta

from sqlalchemy import and_, case, delete, func, insert, literal, or_, select, union_all

from webapp.extensions import db
from webapp.models import (
    CustomerEntry,
    CustomerReceivableAges,
    DailyPaymentSummary,
    DailyProductSummary,
    DailyStockSummary,
    DailyStoreSummary,
    DailyTypeSummary,
    MonthlyProductSummary,
    MonthlyStoreSummary,
    Product,
    ReceivableAges,
    ReportRollupState,
    Sale,
    SaleReversal,
    StockLevel,
    StockMovement,
    StoreStockSummary,
)
from webapp.models.report import AGE_COLUMNS, PAYMENT_TOTALS, TOTALS
from webapp.models.types import utcnow
from webapp.services import aging
from webapp.services.sql import day_of, exact_total, insert_ignore, lock_clause
from webapp.services.validation import pakistan_day, pakistan_day_start

SUMMARY = DailyStockSummary.__table__
STORE_DAYS = DailyStoreSummary.__table__
PRODUCT_DAYS = DailyProductSummary.__table__
TYPE_DAYS = DailyTypeSummary.__table__
STORE_MONTHS = MonthlyStoreSummary.__table__
PRODUCT_MONTHS = MonthlyProductSummary.__table__
STATE = ReportRollupState.__table__
MOVEMENTS = StockMovement.__table__
STORE_STOCK = StoreStockSummary.__table__
LEVELS = StockLevel.__table__
PRODUCTS = Product.__table__
PAYMENT_DAYS = DailyPaymentSummary.__table__
SALES = Sale.__table__
REVERSALS = SaleReversal.__table__
ENTRIES = CustomerEntry.__table__
AGES = ReceivableAges.__table__
CUSTOMER_AGES = CustomerReceivableAges.__table__
METHODS = ("cash", "card", "wallet", "credit")

STATE_NAME = "rollups"
OVERLAP = timedelta(minutes=10)
DAYS_PER_STATEMENT = 200
ROLLUPS = ((STORE_DAYS, "store_id"), (PRODUCT_DAYS, "product_id"), (TYPE_DAYS, None))
MONTHLY = ((STORE_MONTHS, STORE_DAYS, "store_id"), (PRODUCT_MONTHS, PRODUCT_DAYS, "product_id"))


def live_from(conn):
    """The first day that reports read from daily_stock_summary rather than the roll-ups."""
    covered = conn.execute(select(STATE.c.covered_until)
                           .where(STATE.c.name == STATE_NAME)).scalar()
    return date.min if covered is None else pakistan_day(covered - OVERLAP)


def refresh(full=False):
    """Recompute the roll-ups for every day touched since the last refresh; returns the days."""
    session = db.session
    try:
        conn = session.connection()
        now = utcnow()
        conn.execute(insert_ignore(conn, STATE).values(
            name=STATE_NAME, covered_until=now.replace(year=1970), refreshed_at=now))
        covered = conn.execute(lock_clause(conn, select(STATE.c.covered_until)
                                           .where(STATE.c.name == STATE_NAME))).scalar()
        if full or covered.year == 1970:
            days = None
            _recompute(conn, None)
            _recompute_months(conn, None)
            _recompute_stores(conn, None)
            _recompute_payments(conn, None)
            _recompute_receivables(conn, None)
        else:
            moment = func.coalesce(MOVEMENTS.c.occurred_at, MOVEMENTS.c.created_at)
            days = sorted(as_date(d) for d in conn.execute(
                select(day_of(conn, moment)).distinct()
                .where(MOVEMENTS.c.created_at >= covered - OVERLAP)).scalars())
            for start in range(0, len(days), DAYS_PER_STATEMENT):
                _recompute(conn, days[start:start + DAYS_PER_STATEMENT])
            _recompute_months(conn, sorted({d.replace(day=1) for d in days}))
            _recompute_stores(conn, _stores_changed_since(conn, covered - OVERLAP))
            _recompute_payments(conn, days)
            _recompute_receivables(conn, _receivables_stale(conn, covered - OVERLAP))
        conn.execute(STATE.update().where(STATE.c.name == STATE_NAME)
                     .values(covered_until=now, refreshed_at=utcnow()))
        session.commit()
    except Exception:
        session.rollback()
        raise
    return days


def refresh_if_stale(max_age_seconds):
    """Refresh when the last refresh is older than max_age_seconds (embedded mode, no worker)."""
    refreshed = db.session.connection().execute(
        select(STATE.c.refreshed_at).where(STATE.c.name == STATE_NAME)).scalar()
    if refreshed is None or utcnow() - refreshed > timedelta(seconds=max_age_seconds):
        return refresh()
    return None


def as_date(value):
    return value if isinstance(value, date) else date.fromisoformat(value)


def _recompute(conn, days):
    for table, key in ROLLUPS:
        keys = [SUMMARY.c.day] + ([SUMMARY.c[key]] if key else []) + [SUMMARY.c.type]
        source = select(*keys, *_sums(conn, SUMMARY))
        clear = delete(table)
        if days is not None:
            source = source.where(SUMMARY.c.day.in_(days))
            clear = clear.where(table.c.day.in_(days))
        conn.execute(clear)
        columns = [c.name for c in keys] + TOTALS
        conn.execute(insert(table).from_select(columns, source.group_by(*keys)))


def _sums(conn, table):
    """The TOTALS of a summary table's rows, summed exactly, in TOTALS order."""
    places = {"quantity": 3, "delta": 3, "amount": 2, "cost": 2}
    return [exact_total(conn, table.c[name], places[name]) if name in places
            else func.sum(table.c[name]) for name in TOTALS]


def month_end(month):
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _recompute_months(conn, months):
    """Monthly roll-ups from the daily ones, for the months given (None: every month)."""
    if months is None:
        first, last = conn.execute(select(func.min(TYPE_DAYS.c.day),
                                          func.max(TYPE_DAYS.c.day))).one()
        for table, _, _ in MONTHLY:
            conn.execute(delete(table))
        if first is None:
            return
        month, months = as_date(first).replace(day=1), []
        while month <= as_date(last):
            months.append(month)
            month = month_end(month) + timedelta(days=1)
    for table, daily, key in MONTHLY:
        for month in months:
            conn.execute(delete(table).where(table.c.month == month))
            source = (select(literal(month, type_=table.c.month.type), daily.c[key], daily.c.type,
                             *_sums(conn, daily))
                      .where(daily.c.day.between(month, month_end(month)))
                      .group_by(daily.c[key], daily.c.type))
            conn.execute(insert(table).from_select(["month", key, "type"] + TOTALS, source))


def store_stock_totals(conn, *where):
    """Per store and category: levels, low, negative, without cost, units and value (SELECT).

    Negative levels count as nothing on hand; archived products are valued while they still
    hold stock but are never "low" (nobody reorders them).
    """
    on_hand = case((LEVELS.c.quantity > 0, LEVELS.c.quantity), else_=literal(0))
    reorder = func.coalesce(LEVELS.c.reorder_level, PRODUCTS.c.reorder_level)
    low = and_(LEVELS.c.quantity <= reorder, PRODUCTS.c.archived.is_(False))

    def count(condition):
        return func.sum(case((condition, 1), else_=0))

    return (select(LEVELS.c.store_id, PRODUCTS.c.category, func.count().label("levels"),
                   count(low).label("low"),
                   count(LEVELS.c.quantity < 0).label("negative"),
                   count(and_(PRODUCTS.c.cost.is_(None), LEVELS.c.quantity > 0))
                   .label("without_cost"),
                   exact_total(conn, on_hand, 3).label("units"),
                   func.coalesce(exact_total(conn, func.round(on_hand * PRODUCTS.c.cost, 2), 2), 0)
                   .label("value_cost"),
                   exact_total(conn, func.round(on_hand * PRODUCTS.c.sale_price, 2), 2)
                   .label("value_sale"))
            .select_from(LEVELS.join(PRODUCTS, PRODUCTS.c.id == LEVELS.c.product_id))
            .where(*where).group_by(LEVELS.c.store_id, PRODUCTS.c.category))


def _stores_changed_since(conn, since):
    """Stores whose levels moved since `since`; None (all) if any product changed."""
    if conn.execute(select(PRODUCTS.c.id).where(PRODUCTS.c.updated_at >= since).limit(1)).first():
        return None
    return sorted(conn.execute(select(LEVELS.c.store_id).distinct()
                               .where(LEVELS.c.updated_at >= since)).scalars())


def _recompute_stores(conn, store_ids):
    where = [] if store_ids is None else [LEVELS.c.store_id.in_(store_ids)]
    if store_ids == []:
        return
    clear = delete(STORE_STOCK)
    if store_ids is not None:
        clear = clear.where(STORE_STOCK.c.store_id.in_(store_ids))
    conn.execute(clear)
    source = store_stock_totals(conn, *where)
    conn.execute(insert(STORE_STOCK).from_select(
        ["store_id", "category", "levels", "low", "negative", "without_cost", "units",
         "value_cost", "value_sale"], source))


def payment_days(conn, start=None, end=None, store_ids=None):
    """SELECT (day, store_id, *PAYMENT_TOTALS) from the books, per Pakistan day and store: the
    sales made in [start, end) (UTC; None: no bound) by their paid_* columns, and the voids and
    returns recorded then — their value and the part taken off the khata. Each side reads its
    rows by an indexed time (sales by occurred_at or created_at, reversals and entries by
    created_at), so a day is recomputed over every store without reading the others."""
    def within(column):
        return [c for c in (start is not None and column >= start,
                            end is not None and column < end) if c is not False]

    def stores(column):
        return [] if store_ids is None else [column.in_(sorted(store_ids) or [0])]

    zero = literal(0)
    made = func.coalesce(SALES.c.occurred_at, SALES.c.created_at)
    made_in = or_(and_(SALES.c.occurred_at.isnot(None), *within(SALES.c.occurred_at)),
                  and_(SALES.c.occurred_at.is_(None), *within(SALES.c.created_at)))
    sold = (select(day_of(conn, made).label("day"), SALES.c.store_id.label("store_id"),
                   func.count().label("sales"),
                   *(exact_total(conn, SALES.c[f"paid_{m}"], 2).label(f"paid_{m}")
                     for m in METHODS),
                   zero.label("refunded"), zero.label("credit_reversed"))
            .where(made_in, *stores(SALES.c.store_id))
            .group_by(day_of(conn, made), SALES.c.store_id))
    undone = day_of(conn, REVERSALS.c.created_at)
    refunds = (select(undone, SALES.c.store_id, zero, zero, zero, zero, zero,
                      exact_total(conn, REVERSALS.c.amount, 2), zero)
               .select_from(REVERSALS.join(SALES, SALES.c.id == REVERSALS.c.sale_id))
               .where(*within(REVERSALS.c.created_at), *stores(SALES.c.store_id))
               .group_by(undone, SALES.c.store_id))
    taken = day_of(conn, ENTRIES.c.created_at)
    credit = (select(taken, ENTRIES.c.store_id, zero, zero, zero, zero, zero, zero,
                     -exact_total(conn, ENTRIES.c.amount, 2))
              .where(ENTRIES.c.kind.in_(("void", "return")), *within(ENTRIES.c.created_at),
                     *stores(ENTRIES.c.store_id))
              .group_by(taken, ENTRIES.c.store_id))
    parts = union_all(sold, refunds, credit).subquery()
    return (select(parts.c.day, parts.c.store_id, func.sum(parts.c.sales).label("sales"),
                   *(exact_total(conn, parts.c[name], 2).label(name)
                     for name in PAYMENT_TOTALS[1:]))
            .group_by(parts.c.day, parts.c.store_id))


def _runs(days):
    """Sorted days as runs of consecutive days: [(first, last), …]."""
    runs = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return runs


def _recompute_payments(conn, days):
    """The payment roll-up of the days given (None: every day), each run of days at once."""
    columns = ["day", "store_id"] + PAYMENT_TOTALS
    if days is None:
        conn.execute(delete(PAYMENT_DAYS))
        conn.execute(insert(PAYMENT_DAYS).from_select(columns, payment_days(conn)))
        return
    for first, last in _runs(sorted(days)):
        conn.execute(delete(PAYMENT_DAYS).where(PAYMENT_DAYS.c.day.between(first, last)))
        conn.execute(insert(PAYMENT_DAYS).from_select(columns, payment_days(
            conn, pakistan_day_start(first), pakistan_day_start(last + timedelta(days=1)))))


def _receivables_stale(conn, since):
    """Stores whose receivables summary is out of date: those with khata entries since `since`
    (every balance change is one), or all of them (None) once the Pakistan day has changed
    since the summary was made (every age moves by a day)."""
    made = conn.execute(select(func.min(AGES.c.day))).scalar()
    if made is not None and as_date(made) != pakistan_day(utcnow()):
        return None
    return sorted(conn.execute(select(ENTRIES.c.store_id).distinct()
                               .where(ENTRIES.c.created_at >= since)).scalars())


def _recompute_receivables(conn, store_ids):
    """The receivables summaries of these stores (None: every store), aged as of today: per
    customer from the books, then per store from those."""
    if store_ids == []:
        return
    for table in (AGES, CUSTOMER_AGES):
        clear = delete(table)
        if store_ids is not None:
            clear = clear.where(table.c.store_id.in_(store_ids))
        conn.execute(clear)
    conn.execute(insert(CUSTOMER_AGES).from_select(
        ["customer_id", "store_id", "day", *AGE_COLUMNS.values()],
        aging.receivable_ages_by_customer(conn, pakistan_day(utcnow()), store_ids)))
    conn.execute(insert(AGES).from_select(
        ["store_id", "day", "customers", *AGE_COLUMNS.values()],
        aging.receivable_totals_by_store(conn, store_ids)))


def as_of(conn):
    """When the roll-ups and store totals were last refreshed (None: never)."""
    return conn.execute(select(STATE.c.covered_until).where(STATE.c.name == STATE_NAME)).scalar()
