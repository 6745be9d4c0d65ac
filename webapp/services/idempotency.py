"""Idempotency keys: a retried write returns the first response and writes nothing new."""
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, select, update

from webapp.extensions import db
from webapp.models import IdempotencyRecord
from webapp.models.types import utcnow
from webapp.services import transaction
from webapp.services.errors import Conflict, DomainError
from webapp.services.sql import Prebuilt, insert_ignore

T = IdempotencyRecord.__table__
MAX_KEY_LENGTH = 128


@dataclass(frozen=True)
class Replay:
    status_code: int
    response: dict


def fingerprint(payload):
    """A stable hash of a request's meaning (sorted keys, decimals as text)."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def check_key(key):
    if key is None:
        return None
    key = str(key).strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise DomainError("invalid_idempotency_key",
                          f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
                          field="idempotency_key", status=400)
    return key


# The claim and the completion, built once per dialect: building and cache-keying them on
# every keyed write (every quick sale from the store page carries a key) cost more than sending
# them (python -m bench.instructions).
_BUILDERS = {
    "claim": lambda conn: insert_ignore(conn, T).values(
        scope=bindparam("i_scope"), key=bindparam("i_key"), request_hash=bindparam("i_hash"),
        created_at=bindparam("i_created", type_=T.c.created_at.type)).returning(T.c.id),
    "complete": lambda conn: update(T).where(
        T.c.scope == bindparam("i_scope"), T.c.key == bindparam("i_key")).values(
        status_code=bindparam("i_status", type_=T.c.status_code.type),
        response=bindparam("i_response", type_=T.c.response.type)),
}
_statement = Prebuilt(_BUILDERS)


def claim(conn, scope, key, request_hash):
    """Claim `key` inside the caller's transaction.

    Returns None when this request is the first (the caller then calls `complete`), or the
    stored Replay of an identical earlier request. A concurrent duplicate waits on the unique
    index until the first commits, then sees its response.
    """
    inserted = conn.execute(_statement(conn, "claim"), {
        "i_scope": scope, "i_key": key, "i_hash": request_hash,
        "i_created": utcnow()}).first()
    if inserted:
        return None
    row = conn.execute(select(T.c.request_hash, T.c.status_code, T.c.response)
                       .where(T.c.scope == scope, T.c.key == key)).one()
    if row.request_hash != request_hash:
        raise DomainError("idempotency_key_reused",
                          "This Idempotency-Key was already used for a different request.",
                          field="idempotency_key")
    return Replay(row.status_code, json.loads(row.response))


def complete(conn, scope, key, status_code, response):
    conn.execute(_statement(conn, "complete"), {
        "i_scope": scope, "i_key": key, "i_status": status_code,
        "i_response": json.dumps(response, default=str)})


def run_once(scope, key, request, call):
    """Run call() -> (body, status) at most once per `key` in `scope` → (body, status,
    replayed).

    For writes through the ORM session (the API's creates; the ledger has its own runner):
    the key is claimed in the session's transaction, call() runs with its services' commit
    held (services/transaction.py), then the response is stored and all of it commits at once.
    `request` is the meaning a reused key is compared with.
    """
    if key is None:
        return (*call(), False)
    session = db.session
    try:
        replay = claim(session.connection(), scope, key, fingerprint(request))
        if replay is not None:
            session.rollback()
            if replay.status_code is None:  # a record from before claims and writes shared
                raise Conflict("idempotency_in_progress",  # one transaction
                               "A request with this Idempotency-Key is still being processed.")
            return replay.response, replay.status_code, True
        with transaction.held():
            body, status = call()
        complete(session.connection(), scope, key, status, body)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return body, status, False


def purge(conn, retention_days, batch_size=5000):
    """Delete records older than the retention period, a batch at a time; returns how many."""
    cutoff = utcnow() - timedelta(days=retention_days)
    old = select(T.c.id).where(T.c.created_at < cutoff).limit(batch_size).scalar_subquery()
    return conn.execute(delete(T).where(T.c.id.in_(old))).rowcount
