"""Batches of a product that tracks expiry, and which batches each movement took or added.

A batch is what one store holds of one product with one expiry date (and batch code): the
same date and code received twice adds to one batch. `quantity` is what remains of it; only
the ledger changes it (services/ledger/batches.py), in the same transaction as the movement,
after locking the level row. `movement_batches` is append-only like the ledger: each movement
of a tracked product writes one row per batch it took from (negative delta) or added to
(positive), and one row with no batch for a part that had none (a sale past the batches in a
store that allows negative stock, or a stock-in that first makes up for such a sale). So the
rows of one movement add up to its delta, and a batch's rows add up to its quantity.

Movement ids are plain indexed integers without foreign keys, as elsewhere: stock_movements is
partitioned by month, so its primary key is (id, created_at).
"""
from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, Index, Integer, String, UniqueConstraint

from webapp.extensions import db
from webapp.models.types import BigId, Quantity, UTCDateTime, utcnow


class StockBatch(db.Model):
    __tablename__ = "stock_batches"
    __table_args__ = (
        UniqueConstraint("store_id", "product_id", "expires_on", "batch_code"),
        Index("ix_stock_batches_product", "product_id"),
        Index("ix_stock_batches_store_expires", "store_id", "expires_on"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    id = Column(Integer, primary_key=True)
    store_id = Column(Integer, ForeignKey("stores.id"), nullable=False)
    product_id = Column(Integer, ForeignKey("products.id"), nullable=False)
    expires_on = Column(Date, nullable=False)
    # "" when the supplier printed none (a unique key needs a value on both engines).
    batch_code = Column(String(64), nullable=False, default="", server_default="")
    quantity = Column(Quantity, nullable=False, default=0)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class MovementBatch(db.Model):
    """Append-only: how much of one movement came from or went to one batch (none: no batch)."""

    __tablename__ = "movement_batches"
    __table_args__ = (
        Index("ix_movement_batches_movement", "movement_id"),
        Index("ix_movement_batches_batch", "batch_id"),
        Index("ix_movement_batches_from_movement", "from_movement_id"),
    )

    id = Column(BigId, primary_key=True)
    movement_id = Column(BigId, nullable=False)
    batch_id = Column(Integer, ForeignKey("stock_batches.id"))
    # Signed like the movement's delta: negative taken from the batch, positive added to it.
    delta = Column(Quantity, nullable=False)
    # A void's or return's row: the sale movement whose batches it puts back; a transfer_in's:
    # the transfer_out it carries the batches of.
    from_movement_id = Column(BigId)
