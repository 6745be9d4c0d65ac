"""A shelf count in progress: one store's counted lines, kept on the server while counting.

Counting a shop takes an hour and several pages, phones and sometimes people; each typed count
is saved here as it is entered, so a filter, a page change, a closed tab or a second phone
loses nothing. Applying the count turns these lines into adjustments through the ledger and
deletes them in the same transaction.
"""
from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, Text

from webapp.extensions import db
from webapp.models.types import Quantity, UTCDateTime, utcnow


class CountDraft(db.Model):
    """One counted product of a store's open count (at most one line per store × product)."""

    __tablename__ = "count_drafts"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    product_id = Column(Integer, ForeignKey("products.id"), primary_key=True)
    # What is on the shelf, and the level when it was first counted: the adjustment is
    # counted − expected, applied to the level at the time the count is applied.
    quantity = Column(Quantity, nullable=False)
    expected = Column(Quantity, nullable=False)
    # A product counted date by date (it tracks expiry and has more than one batch): JSON
    # [[expires_on, batch_code, quantity], …] adding up to `quantity`; NULL when counted whole.
    batches = Column(Text)
    user_id = Column(Integer, ForeignKey("users.id"))
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)
