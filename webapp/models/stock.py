"""Stock levels, the movement ledger, the daily summary and idempotency records."""
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)

from webapp.extensions import db
from webapp.models.types import (
    BigId,
    Money,
    Quantity,
    SumMoney,
    SumQuantity,
    UTCDateTime,
    utcnow,
)

MOVEMENT_TYPES = ("stock_in", "sale", "removal", "adjustment", "transfer_out", "transfer_in")
REMOVAL_REASONS = ("damaged", "expired", "lost", "other")
ADJUSTMENT_REASONS = ("count", "correction", "found", "other")
SOURCES = ("web", "api", "sync")
# Rows of daily_stock_summary (and its roll-ups) that are not movement types: the sale side of
# the `adjustment` movements a void or a customer return writes (services/sales.py), so sales
# reports net them out without reading the ledger. Their `amount` is the sale value refunded,
# `cost` the original sale's cost, `movements` the reversing movements, and `delta` 0: the
# adjustment row already counts the movement's change of stock.
SALE_REVERSAL_TYPES = {"void": "sale_void", "return": "sale_return"}


class StockLevel(db.Model):
    __tablename__ = "stock_levels"
    __table_args__ = (Index("ix_stock_levels_product", "product_id"),)

    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id"), primary_key=True)
    quantity = Column(Quantity, nullable=False, default=0)
    # Per-store override of Product.reorder_level; NULL means "use the product's".
    reorder_level = Column(Quantity)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class StockMovement(db.Model):
    """The immutable ledger: rows are inserted, never updated or deleted."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        Index("ix_stock_movements_store_created", "store_id", "created_at"),
        Index("ix_stock_movements_product_created", "product_id", "created_at"),
        Index("ix_stock_movements_store_product_id", "store_id", "product_id", "id"),
        Index("ix_stock_movements_transfer", "transfer_id"),
        Index("ix_stock_movements_created", "created_at"),
        CheckConstraint(f"type IN {MOVEMENT_TYPES!r}", name="type_known"),
        CheckConstraint(f"source IN {SOURCES!r}", name="source_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id = Column(BigId, primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), nullable=False)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    type = Column(String(16), nullable=False)
    quantity = Column(Quantity, nullable=False)
    delta = Column(Quantity, nullable=False)
    balance_after = Column(Quantity, nullable=False)
    reason = Column(String(16))
    note = Column(String(500), nullable=False, default="")
    unit_price = Column(Money)
    unit_cost = Column(Money)
    supplier_id = Column(Integer, ForeignKey("suppliers.id"))
    transfer_id = Column(String(36))
    # For count adjustments: what the shelf held when the count began, and what was counted.
    expected_quantity = Column(Quantity)
    counted_quantity = Column(Quantity)
    user_id = Column(Integer, ForeignKey("users.id"))
    source = Column(String(8), nullable=False, default="web")
    idempotency_key = Column(String(128))
    occurred_at = Column(UTCDateTime)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class DailyStockSummary(db.Model):
    """Per Pakistan-time day, store, product and movement type: what reports read.

    Kept in the same transaction as the movement, so it always equals a recount of the ledger.
    """

    __tablename__ = "daily_stock_summary"
    __table_args__ = (
        Index("ix_daily_stock_summary_store_day", "store_id", "day"),
        Index("ix_daily_stock_summary_product_day", "product_id", "day"),
    )

    day = Column(Date, primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id"), primary_key=True)
    type = Column(String(16), primary_key=True)
    quantity = Column(SumQuantity, nullable=False, default=0)
    delta = Column(SumQuantity, nullable=False, default=0)
    # Sales: quantity × unit price. Everything else: quantity × unit cost (where known).
    amount = Column(SumMoney, nullable=False, default=0)
    movements = Column(Integer, nullable=False, default=0)
    # Quantity × the unit cost recorded on each movement (a sale's: the product's cost when it
    # was sold), and how many movements had no cost: what the sales report's profit rests on.
    cost = Column(SumMoney, nullable=False, default=0, server_default="0")
    without_cost = Column(Integer, nullable=False, default=0, server_default="0")


class IdempotencyRecord(db.Model):
    """The first response to a write sent with an Idempotency-Key, kept for replays."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id = Column(BigId, primary_key=True)
    scope = Column(String(64), nullable=False)
    key = Column(String(128), nullable=False)
    request_hash = Column(String(64), nullable=False)
    status_code = Column(Integer)
    response = Column(Text)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
