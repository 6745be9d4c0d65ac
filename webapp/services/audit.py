"""Audit events: written to the outbox inside the change's own transaction, then drained.

The outbox row commits or rolls back with the change, so an event can be neither lost nor
invented; draining is idempotent (audit_log.outbox_id is unique), so a retried drain is harmless.
"""
from dataclasses import dataclass

from sqlalchemy import delete, insert, select

from webapp.extensions import db
from webapp.models import AuditLog, AuditOutbox
from webapp.models.types import utcnow
from webapp.services.sql import insert_ignore

OUTBOX = AuditOutbox.__table__
LOG = AuditLog.__table__


@dataclass(frozen=True)
class Actor:
    """Who is acting, from where, and through which door."""

    user_id: int | None
    source: str = "web"
    ip: str | None = None

    @property
    def scope(self):
        """Namespace for idempotency keys: one client's keys never collide with another's."""
        return f"user:{self.user_id}" if self.user_id else "anonymous"


SYSTEM = Actor(user_id=None, source="sync")


# Built once: a fresh insert().values() per event cost more CPU than the round trip.
_INSERT_EVENT = insert(OUTBOX)


def record(conn, actor, action, entity_type, entity_id=None, before=None, after=None):
    """Add an audit event to the current transaction (conn is the session's connection)."""
    conn.execute(_INSERT_EVENT, {
        "actor_id": actor.user_id if actor else None,
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "before": before,
        "after": after,
        "ip": actor.ip if actor else None,
        "created_at": utcnow(),
    })


def drain(batch_size=500):
    """Move up to batch_size outbox rows into the audit log; returns how many moved."""
    conn = db.session.connection()
    rows = conn.execute(select(OUTBOX).order_by(OUTBOX.c.id).limit(batch_size)).mappings().all()
    if not rows:
        db.session.commit()
        return 0
    conn.execute(insert_ignore(conn, LOG), [
        {"outbox_id": r["id"], "actor_id": r["actor_id"], "action": r["action"],
         "entity_type": r["entity_type"], "entity_id": r["entity_id"], "before": r["before"],
         "after": r["after"], "ip": r["ip"], "created_at": r["created_at"]}
        for r in rows])
    conn.execute(delete(OUTBOX).where(OUTBOX.c.id.in_([r["id"] for r in rows])))
    db.session.commit()
    return len(rows)


def drain_all():
    total = 0
    while moved := drain():
        total += moved
    return total
