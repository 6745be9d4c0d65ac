"""Roll-ups of daily_stock_summary that reports read when they span every store."""
from sqlalchemy import Column, Date, ForeignKey, Index, Integer, String, func

from webapp.extensions import db
from webapp.models.stock import StockLevel, StockMovement
from webapp.models.types import StockValue, SumMoney, SumQuantity, UTCDateTime


class _Totals:
    quantity = Column(SumQuantity, nullable=False, default=0)
    delta = Column(SumQuantity, nullable=False, default=0)
    amount = Column(SumMoney, nullable=False, default=0)
    movements = Column(Integer, nullable=False, default=0)
    cost = Column(SumMoney, nullable=False, default=0, server_default="0")
    without_cost = Column(Integer, nullable=False, default=0, server_default="0")


TOTALS = ["quantity", "delta", "amount", "movements", "cost", "without_cost"]


def _covering(name, key):
    """(type, day, key) with the totals included: a range of one type read from the index."""
    return Index(name, "type", "day", key,
                 postgresql_include=TOTALS)


class DailyStoreSummary(_Totals, db.Model):
    """Per Pakistan day, store and movement type (all products): stores compared."""

    __tablename__ = "daily_store_summary"
    __table_args__ = (Index("ix_daily_store_summary_store_day", "store_id", "day"),
                      _covering("ix_daily_store_summary_type_day", "store_id"))

    day = Column(Date, primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    type = Column(String(16), primary_key=True)


class DailyProductSummary(_Totals, db.Model):
    """Per Pakistan day, product and movement type (all stores): top sellers everywhere."""

    __tablename__ = "daily_product_summary"
    __table_args__ = (_covering("ix_daily_product_summary_type_day", "product_id"),)

    day = Column(Date, primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id"), primary_key=True)
    type = Column(String(16), primary_key=True)


class DailyPaymentSummary(db.Model):
    """Per Pakistan day and store, the money side of the day's sales: how they were paid
    (sales.paid_*, on the day they were made), what that day's voids and returns were worth
    (`refunded`) and how much of that came off the khata (`credit_reversed`; the rest was cash
    paid back). The sales report's payment methods read it for every day before live_from()."""

    __tablename__ = "daily_payment_summary"

    day = Column(Date, primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    sales = Column(Integer, nullable=False, default=0)
    paid_cash = Column(SumMoney, nullable=False, default=0)
    paid_card = Column(SumMoney, nullable=False, default=0)
    paid_wallet = Column(SumMoney, nullable=False, default=0)
    paid_credit = Column(SumMoney, nullable=False, default=0)
    refunded = Column(SumMoney, nullable=False, default=0)
    credit_reversed = Column(SumMoney, nullable=False, default=0)


PAYMENT_TOTALS = ["sales", "paid_cash", "paid_card", "paid_wallet", "paid_credit", "refunded",
                  "credit_reversed"]


class ReceivableAges(db.Model):
    """Per store, what its customers owe aged by the newest credit sales (a payment settles the
    oldest udhaar first) as of `day`: the receivables report over every store reads it.
    Recomputed by the roll-up refresh for stores whose customers' balances moved, and for all
    of them when the Pakistan day changes (ages move by a day)."""

    __tablename__ = "receivable_ages"

    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    day = Column(Date, nullable=False)
    customers = Column(Integer, nullable=False, default=0)
    age_0_30 = Column(SumMoney, nullable=False, default=0)
    age_31_60 = Column(SumMoney, nullable=False, default=0)
    age_61_90 = Column(SumMoney, nullable=False, default=0)
    age_90_plus = Column(SumMoney, nullable=False, default=0)


class CustomerReceivableAges(db.Model):
    """Per customer who owes, what they owe aged like receivable_ages (their newest credit
    sales) as of `day`: the receivables CSV over every store reads it. Kept by the same refresh,
    for the same stores, as receivable_ages (a customer who no longer owes has no row)."""

    __tablename__ = "customer_receivable_ages"

    customer_id = Column(Integer, ForeignKey("customers.id"), primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), nullable=False, index=True)
    day = Column(Date, nullable=False)
    age_0_30 = Column(SumMoney, nullable=False, default=0)
    age_31_60 = Column(SumMoney, nullable=False, default=0)
    age_61_90 = Column(SumMoney, nullable=False, default=0)
    age_90_plus = Column(SumMoney, nullable=False, default=0)


# The report's buckets and their columns.
AGE_COLUMNS = {"0-30": "age_0_30", "31-60": "age_31_60", "61-90": "age_61_90",
               "90+": "age_90_plus"}


class DailyTypeSummary(_Totals, db.Model):
    """Per Pakistan day and movement type (all stores, all products): the chain's day."""

    __tablename__ = "daily_type_summary"

    day = Column(Date, primary_key=True)
    type = Column(String(16), primary_key=True)


class MonthlyStoreSummary(_Totals, db.Model):
    """Per calendar month (its first day), store and type: long ranges over every store."""

    __tablename__ = "monthly_store_summary"

    month = Column(Date, primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    type = Column(String(16), primary_key=True)


class MonthlyProductSummary(_Totals, db.Model):
    """Per calendar month (its first day), product and type: long ranges over every store."""

    __tablename__ = "monthly_product_summary"

    month = Column(Date, primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id"), primary_key=True)
    type = Column(String(16), primary_key=True)


class StoreStockSummary(db.Model):
    """Per store and category, as of the last refresh: valuation and low-stock totals read it
    when they span many stores."""

    __tablename__ = "store_stock_summary"

    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    category = Column(String(80), primary_key=True)
    levels = Column(Integer, nullable=False, default=0)
    low = Column(Integer, nullable=False, default=0)
    negative = Column(Integer, nullable=False, default=0)
    without_cost = Column(Integer, nullable=False, default=0)
    units = Column(SumQuantity, nullable=False, default=0)
    value_cost = Column(StockValue, nullable=False, default=0)
    value_sale = Column(StockValue, nullable=False, default=0)


class ReportRollupState(db.Model):
    """How far the roll-ups have been brought up to date (one row)."""

    __tablename__ = "report_rollup_state"

    name = Column(String(32), primary_key=True)
    # Every movement created before this instant is in the roll-ups.
    covered_until = Column(UTCDateTime, nullable=False)
    refreshed_at = Column(UTCDateTime, nullable=False)


def _removal_day_index(name, *leading):
    """Removals are few; a partial index on when they happened serves the shrinkage report."""
    m = StockMovement.__table__
    moment = func.coalesce(m.c.occurred_at, m.c.created_at)
    only_removals = m.c.type == "removal"
    return Index(name, *(m.c[c] for c in leading), moment,
                 postgresql_where=only_removals, sqlite_where=only_removals,
                 # Covering, so PostgreSQL answers from the index alone.
                 postgresql_include=[c for c in ("store_id", "reason", "quantity", "unit_cost",
                                                 "occurred_at", "created_at")
                                     if c not in leading])


REMOVALS_BY_TIME = _removal_day_index("ix_stock_movements_removal_time")
REMOVALS_BY_STORE_TIME = _removal_day_index("ix_stock_movements_removal_store_time", "store_id")
# Stock across stores sorted by product walks products in order and each one's levels by store.
LEVELS_BY_PRODUCT_STORE = Index("ix_stock_levels_product_store",
                                StockLevel.__table__.c.product_id, StockLevel.__table__.c.store_id)
