"""Batch stock sync: an integration sends up to 1,000 movements, a worker applies them.

The door hands over each item as a checked commands.Movement; it is stored as the command's
data and goes through ledger.record_movement with the idempotency key "sync:<client id>" in the
submitting user's scope. That key is what makes every item apply exactly once: resubmitting a
batch, a retried job, or a second worker restarting a stalled job all replay the first result
instead of writing again. Item results are committed a chunk at a time; an item applied but
not yet marked (the worker died in between) replays when the job runs again.
"""
import uuid
from datetime import timedelta

from sqlalchemy import func, insert, select, update

from webapp.extensions import db
from webapp.models import SyncItem, SyncJob, User
from webapp.models.types import utcnow
from webapp.services import audit, transaction
from webapp.services.handlers import handle
from webapp.services.commands import Movement
from webapp.services.errors import DomainError, NotFound
from webapp.services.policy import Principal, actor_for, can
from webapp.services.validation import iso_time

JOBS = SyncJob.__table__
ITEMS = SyncItem.__table__
MAX_ITEMS = 1000
MAX_CLIENT_ID = 120
CHUNK = 50


def idempotency_key(client_id):
    return f"sync:{client_id}"


def submit(actor, items):
    """Store a batch of (client id, commands.Movement) as a queued job; returns the job id
    (the caller enqueues the work)."""
    if not items:
        raise DomainError("invalid", f"Send a list of 1 to {MAX_ITEMS} movements.",
                          field="movements")
    if len(items) > MAX_ITEMS:
        raise DomainError("too_many_items", f"At most {MAX_ITEMS} movements in one batch.",
                          field="movements", status=413)
    rows, seen = [], set()
    for i, (client_id, command) in enumerate(items):
        client_id = str(client_id).strip()
        if not client_id or len(client_id) > MAX_CLIENT_ID or not client_id.isprintable():
            raise DomainError("invalid", f"An id is 1 to {MAX_CLIENT_ID} printable characters.",
                              field=f"movements.{i}.id")
        if client_id in seen:
            raise DomainError("invalid", "Two movements share this id.", field=f"movements.{i}.id")
        seen.add(client_id)
        rows.append({"position": i, "client_id": client_id, "payload": command.dump(),
                     "status": "pending"})
    job_id = str(uuid.uuid4())
    now = utcnow()
    conn = db.session.connection()
    conn.execute(insert(JOBS).values(id=job_id, user_id=actor.user_id, status="queued",
                                     total=len(rows), applied=0, failed=0, created_at=now))
    conn.execute(insert(ITEMS), [{**row, "job_id": job_id} for row in rows])
    audit.record(conn, actor, "sync.submit", "sync_job", job_id, after={"items": len(rows)})
    transaction.commit()
    return job_id


def run(job_id):
    """Apply every pending item of a job; safe to run again, or twice at once."""
    job = db.session.execute(select(JOBS).where(JOBS.c.id == job_id)).mappings().first()
    if job is None or job["status"] == "done":
        db.session.rollback()
        return None
    # Plain values: the ledger commits per item, which would reload an ORM user every time.
    user = Principal.of(db.session.get(User, job["user_id"]))
    actor = actor_for(user, "sync")
    now = utcnow()
    db.session.execute(update(JOBS).where(JOBS.c.id == job_id).values(
        status="running", started_at=job["started_at"] or now, heartbeat_at=now))
    db.session.commit()
    while True:
        pending = db.session.execute(
            select(ITEMS.c.id, ITEMS.c.client_id, ITEMS.c.payload)
            .where(ITEMS.c.job_id == job_id, ITEMS.c.status == "pending")
            .order_by(ITEMS.c.position).limit(CHUNK)).all()
        db.session.rollback()
        if not pending:
            break
        results = [(item.id, *_apply(actor, user, item.client_id, item.payload))
                   for item in pending]
        for item_id, state, result in results:
            db.session.execute(update(ITEMS).where(ITEMS.c.id == item_id)
                               .values(status=state, result=result))
        db.session.execute(update(JOBS).where(JOBS.c.id == job_id).values(heartbeat_at=utcnow()))
        db.session.commit()
    return _finish(job_id)


def _apply(actor, user, client_id, payload):
    """One item through the ledger → (status, result)."""
    try:
        if not user.active:
            raise DomainError("forbidden", "The account that sent this batch is inactive.",
                              status=403)
        outcome = handle(actor, Movement.load(payload), idempotency_key(client_id))
    except DomainError as error:
        db.session.rollback()
        return "failed", {"error": error.to_dict()["error"]}
    return "applied", {"movement": outcome.data["movement"], "level": outcome.data["level"],
                       "replayed": outcome.replayed}


def _finish(job_id):
    counts = dict(db.session.execute(
        select(ITEMS.c.status, func.count()).where(ITEMS.c.job_id == job_id)
        .group_by(ITEMS.c.status)).all())
    now = utcnow()
    db.session.execute(update(JOBS).where(JOBS.c.id == job_id).values(
        status="done", applied=counts.get("applied", 0), failed=counts.get("failed", 0),
        finished_at=now, heartbeat_at=now))
    db.session.commit()
    return counts


def stalled_jobs(stall_seconds):
    """Ids of queued or running jobs nobody has touched for stall_seconds; marks them touched."""
    cutoff = utcnow() - timedelta(seconds=stall_seconds)
    last_touch = func.coalesce(JOBS.c.heartbeat_at, JOBS.c.created_at)
    ids = db.session.execute(select(JOBS.c.id).where(
        JOBS.c.status.in_(("queued", "running")), last_touch < cutoff)).scalars().all()
    if ids:
        db.session.execute(update(JOBS).where(JOBS.c.id.in_(ids)).values(heartbeat_at=utcnow()))
    db.session.commit()
    return ids


def status(job_id, user):
    """A job's progress and per-item results, for its owner (or an admin)."""
    job = db.session.execute(select(JOBS).where(JOBS.c.id == str(job_id)[:36])).mappings().first()
    if job is None or (job["user_id"] != user.id and not can(user, "sync.view_all_jobs")):
        raise NotFound("Sync job")
    items = db.session.execute(select(ITEMS.c.client_id, ITEMS.c.status, ITEMS.c.result)
                               .where(ITEMS.c.job_id == job["id"])
                               .order_by(ITEMS.c.position)).all()
    db.session.commit()
    pending = sum(1 for i in items if i.status == "pending")
    return {
        "job_id": job["id"], "status": job["status"], "total": job["total"],
        "applied": sum(1 for i in items if i.status == "applied"),
        "failed": sum(1 for i in items if i.status == "failed"), "pending": pending,
        "created_at": iso_time(job["created_at"]), "started_at": iso_time(job["started_at"]),
        "finished_at": iso_time(job["finished_at"]),
        "items": [{"id": i.client_id, "status": i.status, **(i.result or {})} for i in items],
    }
