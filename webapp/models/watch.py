"""The ledger's own watch: how far the worker's continuous check of invariants 1, 8 and 9 has
got, and what it found (services/integrity.py)."""
from sqlalchemy import Column, ForeignKey, Integer

from webapp.extensions import db
from webapp.models.audit import Json
from webapp.models.types import BigId, SumMoney, SumQuantity, UTCDateTime


class LedgerWatch(db.Model):
    """One row (id 1): the check's watermark, its rolling store cursor and the open alarm."""

    __tablename__ = "ledger_watch"

    id = Column(Integer, primary_key=True)
    # Every movement up to this id has had its balance_after link checked.
    last_movement_id = Column(BigId, nullable=False, default=0)
    # Every customer entry up to this id has had its balance_after link checked (invariant 8).
    last_entry_id = Column(BigId, nullable=False, default=0)
    # The level pass goes store by store: the last store id it checked.
    store_cursor = Column(Integer, nullable=False, default=0)
    checked_at = Column(UTCDateTime)
    # Breaches known now (the gauge kiryana_ledger_violations); `flask verify-ledger` recounts.
    violations = Column(Integer, nullable=False, default=0)
    first_violation_at = Column(UTCDateTime)
    # The known breaches' keys ("level:3:17", "chain:12345", "orphan:3:17"), at most 1,000.
    details = Column(Json)


class LedgerWatchStore(db.Model):
    """A store's running totals up to the watch's watermarks: of its movements' deltas, the sum
    its levels must add up to, and of its customers' entries, the sum of their balances (each
    with what was written since)."""

    __tablename__ = "ledger_watch_stores"

    store_id = Column(Integer, ForeignKey("stores.id"), primary_key=True)
    total = Column(SumQuantity, nullable=False, default=0)
    khata_total = Column(SumMoney, nullable=False, default=0)
