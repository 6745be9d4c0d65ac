"""Expiry warnings: the index they read batches by, and the worker's daily round of
stock.expiring events (services/expiry.py)."""
from sqlalchemy import Column, Date, Index, Integer

from webapp.extensions import db
from webapp.models.batch import StockBatch
from webapp.models.types import UTCDateTime, utcnow

_BATCHES = StockBatch.__table__
_WITH_STOCK = _BATCHES.c.quantity > 0
# "A store's batches with stock left, by expiry date": the store page's flags, the Expiring
# list and the report walk a short range of it. Batches emptied long ago (most of them, in
# time) are not in it; covering on PostgreSQL, so the flags come from the index alone.
BATCHES_EXPIRING = Index("ix_stock_batches_expiring", _BATCHES.c.store_id, _BATCHES.c.expires_on,
                         postgresql_where=_WITH_STOCK, sqlite_where=_WITH_STOCK,
                         postgresql_include=["product_id", "quantity"])


class ExpiryRound(db.Model):
    """One row per Pakistan day whose stock.expiring events were raised. The worker that
    inserts the day's row raises them all in the same transaction, so every store with
    stock expiring is told once a day however many workers sweep."""

    __tablename__ = "expiry_rounds"

    day = Column(Date, primary_key=True)
    stores = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
