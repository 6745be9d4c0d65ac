"""Audit events: written to the outbox inside the change's own transaction, then drained.

The outbox row commits or rolls back with the change, so an event can be neither lost nor
invented; draining is idempotent (audit_log.outbox_id is unique), so a retried drain is harmless.
"""
from dataclasses import dataclass

from blinker import Namespace
from sqlalchemy import delete, func, insert, select

from webapp.extensions import db
from webapp.infra.current import request_globals
from webapp.models import AuditLog, AuditOutbox, User
from webapp.models.types import utcnow
from webapp.services.errors import N_, DomainError
from webapp.services.paging import paginate
from webapp.services.sql import insert_ignore, skip_locked
from webapp.services.validation import parse_id, time_bound

OUTBOX = AuditOutbox.__table__
LOG = AuditLog.__table__


@dataclass(frozen=True)
class Actor:
    """Who is acting, from where, and through which door.

    A door that knows its user gives `role` and `store_ids` (policy.actor_for), so that the
    handler's authorization (policy.authorize) asks the database nothing; an actor without
    them (a job, a test) is looked up once when a rule needs it. No user is the system.
    """

    user_id: int | None
    source: str = "web"
    ip: str | None = None
    role: str | None = None
    store_ids: frozenset | None = None

    @property
    def scope(self):
        """Namespace for idempotency keys: one client's keys never collide with another's."""
        return f"user:{self.user_id}" if self.user_id else "anonymous"



# hook(conn, outbox rows) → None or a callable to run after the drain commits; added by
# webapp/jobs/tasks.py (webhooks.fan_out), so this module imports none of their services.
DRAIN_HOOKS = []

# The Redis flag (prefixed) that says a drain is already asked for: at most one waits.
DRAIN_FLAG = "audit:drain-requested"
DRAIN_FLAG_SECONDS = 30  # a flag whose drain was lost stops blocking new requests after this
# The list a worker's drainer thread blocks on (worker.py): whoever sets DRAIN_FLAG pushes a
# wake-up on it. One RPUSH where an RQ job cost the web process an enqueue (a job pickled, a
# pipeline) and the worker about 10 ms of CPU per sale in RQ's own bookkeeping (dequeue,
# heartbeats, states, registries: python -m bench.worker_cpu).
DRAIN_WAKE = "audit:drain-wake"
# A drainer drains at most this often: the sales of the while go out in one transaction, and
# the flag, cleared as a drain starts, stays set meanwhile so they push no wake-ups.
DRAIN_GATHER_SECONDS = 0.5
# Sent when a caller set DRAIN_FLAG itself inside a Redis call it made anyway (the stock
# cache's invalidation after a write): a drain job must now be queued (webapp/jobs/tasks.py).
drain_flagged = Namespace().signal("audit-drain-flagged")

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
    mark_pending()


def mark_pending():
    """Note that this request (or job) wrote an event to the outbox: after its commit a worker is
    asked for a drain, so the event and its webhooks go out at once, not at the next sweep.
    Kept in `g`, not the session: the ledger's fast path writes its event on a connection of
    its own, in the same statement as the movement."""
    request_globals().audit_pending = True


def take_pending():
    """Whether an event was noted since the last call (and forget it)."""
    return request_globals().pop("audit_pending", False)


def record_now(actor, action, entity_type, entity_id=None, before=None, after=None):
    """Record an event that accompanies no other database change, in its own transaction."""
    record(db.session.connection(), actor, action, entity_type, entity_id, before, after)
    db.session.commit()


def drain(batch_size=500):
    """Move up to batch_size outbox rows into the audit log; returns how many moved."""
    conn = db.session.connection()
    query = select(OUTBOX).order_by(OUTBOX.c.id).limit(batch_size)
    # Several workers drain side by side, each taking rows the others have not locked.
    rows = conn.execute(skip_locked(conn, query)).mappings().all()
    if not rows:
        db.session.commit()
        return 0
    conn.execute(insert_ignore(conn, LOG), [
        {"outbox_id": r["id"], "actor_id": r["actor_id"], "action": r["action"],
         "entity_type": r["entity_type"], "entity_id": r["entity_id"], "before": r["before"],
         "after": r["after"], "ip": r["ip"], "created_at": r["created_at"]}
        for r in rows])
    conn.execute(delete(OUTBOX).where(OUTBOX.c.id.in_([r["id"] for r in rows])))
    # What else the events make (webhook deliveries) commits with the drain that moved them:
    # never lost, never made twice. Each hook may hand back what to do once that is committed.
    after_commit = [hook(conn, rows) for hook in DRAIN_HOOKS]
    db.session.commit()
    for then in after_commit:
        if then is not None:
            then()
    return len(rows)


def drain_all(batch_size=500):
    """Drain until a batch comes back short: that was the outbox's last (rows other drainers
    hold locked are theirs to move), so no empty SELECT and COMMIT end every drain."""
    total = 0
    while True:
        moved = drain(batch_size)
        total += moved
        if moved < batch_size:
            return total


def clear_drain_request():
    """Forget the 'drain requested' flag and the wake-ups waiting, so commits from now on ask
    for a fresh drain: what asked before is drained by the drain that follows this."""
    from webapp.infra import redisconn

    keys = redisconn.prefixed(DRAIN_FLAG), redisconn.prefixed(DRAIN_WAKE)
    redisconn.run(lambda r: r.delete(*keys))


def outbox_lag():
    """(pending events, age in seconds of the oldest one) for monitoring."""
    row = db.session.execute(select(func.count(), func.min(OUTBOX.c.created_at))).one()
    db.session.commit()
    age = (utcnow() - row[1]).total_seconds() if row[1] else 0.0
    return row[0], max(age, 0.0)


def search(actor=None, actor_id=None, action=None, entity_type=None, entity_id=None,
           date_from=None, date_to=None, page=1, per_page=50):
    """A Page of the audit log, newest first; `actor` is a username; dates are Pakistan days."""
    users = User.__table__
    query = select(LOG, users.c.username.label("actor_username")).select_from(
        LOG.outerjoin(users, users.c.id == LOG.c.actor_id))
    if actor_id not in (None, ""):
        query = query.where(LOG.c.actor_id == parse_id(actor_id, "actor_id", "Actor"))
    if actor:
        query = query.where(func.lower(users.c.username) == str(actor).strip().lower())
    if action:
        action = str(action).strip()
        query = query.where(LOG.c.action == action) if "." in action \
            else query.where(LOG.c.action.like(f"{action}.%"))
    if entity_type:
        query = query.where(LOG.c.entity_type == str(entity_type).strip())
    if entity_id not in (None, ""):
        query = query.where(LOG.c.entity_id == str(entity_id).strip())
    start, end = time_bound(date_from, "from"), time_bound(date_to, "to", end=True)
    if start and end and start >= end:
        raise DomainError("invalid", N_("The start date is after the end date."), field="from")
    if start:
        query = query.where(LOG.c.created_at >= start)
    if end:
        query = query.where(LOG.c.created_at < end)
    return paginate(query, (LOG.c.created_at.desc(), LOG.c.id.desc()), page, per_page,
                    rows=lambda q: [event_dict(r) for r in db.session.execute(q).mappings()])


def event_dict(row):
    return {"id": row["id"], "actor_id": row["actor_id"],
            "actor": row.get("actor_username"), "action": row["action"],
            "entity_type": row["entity_type"], "entity_id": row["entity_id"],
            "before": row["before"], "after": row["after"], "ip": row["ip"],
            "created_at": row["created_at"].isoformat()}
