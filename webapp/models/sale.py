"""Counter sales (baskets), their lines, and the reversals (voids and returns) of those lines.

Movement ids (`movement_id`, `reversal_movement_id`) are plain indexed integers, not foreign
keys: the ledger (stock_movements) is partitioned by month, so its primary key is
(id, created_at) and a foreign key to `id` alone cannot exist. The ledger's own writer
(services/ledger) hands these ids out in the same transaction, so they always point at a
movement.
"""
from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)

from webapp.extensions import db
from webapp.models.types import BigId, Money, Quantity, UTCDateTime, utcnow

SALE_STATUSES = ("completed", "voided")
REVERSAL_KINDS = ("void", "return")


class SaleCounter(db.Model):
    """The last receipt number handed out per store (a row lock serialises the numbering)."""

    __tablename__ = "sale_counters"

    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    last_number = Column(Integer, nullable=False, default=0)


class Sale(db.Model):
    __tablename__ = "sales"
    __table_args__ = (
        UniqueConstraint("store_id", "number"),
        Index("ix_sales_store_created", "store_id", "created_at"),
        # The day a sale was made (a phone's tap time, else when it was recorded) over every
        # store: the payment roll-up recomputes whole days by it (services/report_rollups.py).
        Index("ix_sales_occurred", "occurred_at"),
        Index("ix_sales_created", "created_at"),
        Index("ix_sales_cashier_created", "cashier_id", "created_at"),
        CheckConstraint(f"status IN {SALE_STATUSES!r}", name="status_known"),
        CheckConstraint("paid_cash + paid_card + paid_wallet + paid_credit = total",
                        name="paid_in_full"),
        CheckConstraint("paid_credit = 0 OR customer_id IS NOT NULL", name="credit_has_customer"),
        Index("ix_sales_customer", "customer_id"),
        # A provisional receipt number a phone gave a basket sold with no signal (issue 24):
        # one sale per reference in a store, so a reference finds its sale.
        Index("uq_sales_store_reference", "store_id", "reference", unique=True),
    )

    id = Column(BigId, primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), nullable=False)
    number = Column(Integer, nullable=False)
    cashier_id = Column(Integer, ForeignKey("users.id"))
    status = Column(String(16), nullable=False, default="completed")
    total = Column(Money, nullable=False)
    note = Column(String(500), nullable=False, default="")
    source = Column(String(8), nullable=False, default="web")
    idempotency_key = Column(String(128))
    occurred_at = Column(UTCDateTime)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    voided_at = Column(UTCDateTime)
    voided_by_id = Column(Integer, ForeignKey("users.id"))
    # How it was paid (services/payments.py): one column per method, written by the sale's own
    # INSERT, so a payment costs a cash sale no round trip; they add up to `total`.
    # No foreign key (so the migration adds it in place on SQLite): the sale's transaction checks
    # that the customer is the store's (services/khata.py).
    customer_id = Column(Integer)
    paid_cash = Column(Money, nullable=False, default=0)
    paid_card = Column(Money, nullable=False, default=0)
    paid_wallet = Column(Money, nullable=False, default=0)
    paid_credit = Column(Money, nullable=False, default=0)
    # "LHR1-A7KX-0042": store code, device, sequence, handed over on the phone's provisional
    # receipt before the sale landed (static/js/offline.js); None for a sale made with signal.
    reference = Column(String(48))


class SaleLine(db.Model):
    __tablename__ = "sale_lines"
    __table_args__ = (
        Index("ix_sale_lines_sale", "sale_id"),
        Index("ix_sale_lines_movement", "movement_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("returned_quantity >= 0 AND returned_quantity <= quantity",
                        name="returned_within_sold"),
    )

    id = Column(BigId, primary_key=True)
    sale_id = Column(BigId, ForeignKey("sales.id", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    quantity = Column(Quantity, nullable=False)
    unit_price = Column(Money, nullable=False)
    # The product's own price when sold; differs from unit_price when the price was overridden.
    list_price = Column(Money, nullable=False)
    line_total = Column(Money, nullable=False)
    # The `sale` movement this line wrote (no FK: see the module docstring).
    movement_id = Column(BigId, nullable=False)
    returned_quantity = Column(Quantity, nullable=False, default=0)
    # Whole packs sold (services/basket.py): `quantity` is packs × the pack size; None when the
    # line was sold in the product's unit or by amount.
    packs = Column(Quantity)


class SaleReversal(db.Model):
    """A movement that put back (part of) a sale line: the link from reversal to original."""

    __tablename__ = "sale_reversals"
    __table_args__ = (
        Index("ix_sale_reversals_sale", "sale_id"),
        Index("ix_sale_reversals_created", "created_at"),
        Index("ix_sale_reversals_line", "sale_line_id"),
        Index("ix_sale_reversals_movement", "movement_id"),
        Index("ix_sale_reversals_original", "original_movement_id"),
        CheckConstraint(f"kind IN {REVERSAL_KINDS!r}", name="kind_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id = Column(BigId, primary_key=True)
    sale_id = Column(BigId, ForeignKey("sales.id", ondelete="CASCADE"), nullable=False)
    sale_line_id = Column(BigId, ForeignKey("sale_lines.id", ondelete="CASCADE"), nullable=False)
    kind = Column(String(8), nullable=False)
    quantity = Column(Quantity, nullable=False)
    amount = Column(Money, nullable=False)
    # The reversing movement and the sale movement it reverses (no FKs: see above).
    movement_id = Column(BigId, nullable=False)
    original_movement_id = Column(BigId, nullable=False)
    user_id = Column(Integer, ForeignKey("users.id"))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
