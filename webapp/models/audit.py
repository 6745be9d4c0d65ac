"""The audit trail: an outbox written with each change, drained into the append-only log."""
from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB

from webapp.extensions import db
from webapp.models.types import BigId, UTCDateTime, utcnow

Json = JSON().with_variant(JSONB(), "postgresql")


class AuditOutbox(db.Model):
    """Written in the same transaction as the change it describes; a worker moves it on."""

    __tablename__ = "audit_outbox"
    # SQLite would otherwise reuse the id of a drained (deleted) row, and audit_log.outbox_id,
    # unique, would then drop the new event as a duplicate.
    __table_args__ = {"sqlite_autoincrement": True}

    id = Column(BigId, primary_key=True)
    actor_id = Column(Integer)
    action = Column(String(64), nullable=False)
    entity_type = Column(String(32), nullable=False)
    entity_id = Column(String(64))
    before = Column(Json)
    after = Column(Json)
    ip = Column(String(45))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class AuditLog(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created", "created_at"),
        Index("ix_audit_log_entity", "entity_type", "entity_id"),
        Index("ix_audit_log_actor_created", "actor_id", "created_at"),
    )

    id = Column(BigId, primary_key=True)
    # The outbox row it came from: unique, so draining twice writes once.
    outbox_id = Column(BigId, unique=True)
    actor_id = Column(Integer, ForeignKey("users.id"))
    action = Column(String(64), nullable=False, index=True)
    entity_type = Column(String(32), nullable=False)
    entity_id = Column(String(64))
    before = Column(Json)
    after = Column(Json)
    ip = Column(String(45))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
