"""Batch stock sync jobs sent by integrations and applied by a worker."""
from sqlalchemy import JSON, Column, ForeignKey, Integer, String, UniqueConstraint

from webapp.extensions import db
from webapp.models.types import BigId, UTCDateTime, utcnow

SYNC_STATUSES = ("queued", "running", "done", "failed")


class SyncJob(db.Model):
    __tablename__ = "sync_jobs"

    id = Column(String(36), primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), nullable=False, index=True)
    status = Column(String(8), nullable=False, default="queued", index=True)
    total = Column(Integer, nullable=False, default=0)
    applied = Column(Integer, nullable=False, default=0)
    failed = Column(Integer, nullable=False, default=0)
    error = Column(String(500))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    started_at = Column(UTCDateTime)
    finished_at = Column(UTCDateTime)
    # Touched as the worker commits each chunk; a stale one means the worker died.
    heartbeat_at = Column(UTCDateTime)


class SyncItem(db.Model):
    __tablename__ = "sync_items"
    __table_args__ = (UniqueConstraint("job_id", "client_id"),)

    id = Column(BigId, primary_key=True)
    job_id = Column(String(36), ForeignKey("sync_jobs.id", ondelete="CASCADE"), nullable=False)
    position = Column(Integer, nullable=False)
    client_id = Column(String(128), nullable=False)
    payload = Column(JSON, nullable=False)
    status = Column(String(8), nullable=False, default="pending")
    result = Column(JSON)
