"""Purchase orders to suppliers, the receipts recorded against them, and bulk import jobs."""
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import relationship

from webapp.extensions import db
from webapp.models.types import BigId, Money, Quantity, UTCDateTime, utcnow

ORDER_STATUSES = ("draft", "sent", "partly_received", "received", "cancelled")
IMPORT_KINDS = ("products", "opening_stock", "supplier_prices")
IMPORT_STATUSES = ("checked", "queued", "running", "done", "failed")


class PurchaseOrder(db.Model):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        Index("ix_purchase_orders_store_status", "store_id", "status"),
        Index("ix_purchase_orders_supplier", "supplier_id"),
        CheckConstraint(f"status IN {ORDER_STATUSES!r}", name="status_known"),
    )

    id = Column(Integer, primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), nullable=False)
    supplier_id = Column(Integer, ForeignKey("suppliers.id"), nullable=False)
    status = Column(String(16), nullable=False, default="draft")
    note = Column(String(500), nullable=False, default="")
    created_by = Column(Integer, ForeignKey("users.id"))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)
    sent_at = Column(UTCDateTime)
    closed_at = Column(UTCDateTime)

    store = relationship("Store", lazy="joined")
    supplier = relationship("Supplier", lazy="joined")
    lines = relationship("PurchaseOrderLine", lazy="selectin", cascade="all, delete-orphan",
                         order_by="PurchaseOrderLine.position", back_populates="order")


class PurchaseOrderLine(db.Model):
    """One product on an order: packs × pack size = units; received counts units."""

    __tablename__ = "purchase_order_lines"
    __table_args__ = (Index("ix_purchase_order_lines_order", "order_id", "position"),)

    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("purchase_orders.id", ondelete="CASCADE"),
                      nullable=False)
    position = Column(Integer, nullable=False, default=0)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    packs = Column(Quantity, nullable=False, default=0)
    pack_size = Column(Quantity, nullable=False, default=1)
    quantity = Column(Quantity, nullable=False, default=0)
    # Expected cost of one unit (PKR); None when nothing is known yet.
    unit_cost = Column(Money)
    received_quantity = Column(Quantity, nullable=False, default=0)
    # A line added at receiving: a product that was not ordered (extra or a substitute).
    added_at_receipt = Column(Boolean, nullable=False, default=False)

    order = relationship("PurchaseOrder", back_populates="lines")
    product = relationship("Product", lazy="joined")


class PurchaseReceipt(db.Model):
    """One delivery recorded against an order (one ledger transaction)."""

    __tablename__ = "purchase_receipts"
    __table_args__ = (Index("ix_purchase_receipts_order", "order_id"),)

    id = Column(Integer, primary_key=True)
    order_id = Column(Integer, ForeignKey("purchase_orders.id", ondelete="CASCADE"),
                      nullable=False)
    user_id = Column(Integer, ForeignKey("users.id"))
    note = Column(String(500), nullable=False, default="")
    over_received = Column(Boolean, nullable=False, default=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)

    lines = relationship("PurchaseReceiptLine", lazy="selectin", cascade="all, delete-orphan")


class PurchaseReceiptLine(db.Model):
    __tablename__ = "purchase_receipt_lines"
    __table_args__ = (Index("ix_purchase_receipt_lines_receipt", "receipt_id"),
                      Index("ix_purchase_receipt_lines_movement", "movement_id"))

    id = Column(Integer, primary_key=True)
    receipt_id = Column(Integer, ForeignKey("purchase_receipts.id", ondelete="CASCADE"),
                        nullable=False)
    order_line_id = Column(Integer, ForeignKey("purchase_order_lines.id"), nullable=False)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    quantity = Column(Quantity, nullable=False)
    unit_cost = Column(Money)
    # The stock_in it wrote. A plain indexed integer on purpose, not a foreign key:
    # stock_movements is being partitioned by month (composite primary key id + created_at),
    # and a partitioned table's id alone cannot be referenced.
    movement_id = Column(BigId)
    over_received = Column(Boolean, nullable=False, default=False)
    substitute = Column(Boolean, nullable=False, default=False)

    order_line = relationship("PurchaseOrderLine")
    product = relationship("Product", lazy="joined")


class ImportJob(db.Model):
    """A bulk import: the file is kept with the job so any worker can run it."""

    __tablename__ = "import_jobs"
    __table_args__ = (Index("ix_import_jobs_user_created", "user_id", "created_at"),
                      CheckConstraint(f"kind IN {IMPORT_KINDS!r}", name="kind_known"),
                      CheckConstraint(f"status IN {IMPORT_STATUSES!r}", name="status_known"))

    id = Column(String(36), primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), nullable=False)
    kind = Column(String(16), nullable=False)
    filename = Column(String(200), nullable=False, default="")
    content = Column(LargeBinary, nullable=False)
    # A store for opening stock; a supplier for price lists (else per-row columns).
    store_id = Column(Integer, ForeignKey("stores.id"))
    supplier_id = Column(Integer, ForeignKey("suppliers.id"))
    status = Column(String(8), nullable=False, default="checked")
    total = Column(Integer, nullable=False, default=0)
    processed = Column(Integer, nullable=False, default=0)
    created = Column(Integer, nullable=False, default=0)
    updated = Column(Integer, nullable=False, default=0)
    unchanged = Column(Integer, nullable=False, default=0)
    refused = Column(Integer, nullable=False, default=0)
    # [{line, column, code, message}] for every refused row (of the dry run, then of the run).
    refusals = Column(JSON, nullable=False, default=list)
    error = Column(String(500))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    started_at = Column(UTCDateTime)
    finished_at = Column(UTCDateTime)
    heartbeat_at = Column(UTCDateTime)
    # The run that owns the job now: a restarted run takes over and the old one stops.
    runner = Column(String(36))
