"""The runner: one transaction per operation, its Idempotency-Key claimed inside it, the
`stock_changed` signal after the commit.

Every operation of the ledger (and of the services that keep rows beside its movements:
sales, counts, purchasing) runs its write(conn, now) through `run`. In one transaction: the
key is claimed first (a concurrent duplicate waits on the unique index; a retry answers the
first response, even when the rules would refuse it now), then write() checks the rules that
need the database and writes, the response is stored against the key, and all of it commits
together. Only then is the change signalled.

A write with a key is sent once more, on a new connection, when its connection drops (the
database restarted, or failed over to a promoted standby while the app kept its pool): the key
makes that safe at any point, COMMIT included. If the first attempt committed (and a
synchronous standby has it, so the promoted one does too), the second finds the key claimed and
answers the stored response; if it did not, the second writes it, once. A write without a key
is never sent again (its error reaches the door, which answers 500 with nothing written; the
first statement of any transaction is still sent again by infra/dbretry.py, where that is safe).
"""
import logging
from dataclasses import dataclass

from blinker import Namespace
from sqlalchemy.exc import DBAPIError

from webapp.extensions import db
from webapp.infra import pinned
from webapp.models.types import utcnow
from webapp.services import idempotency
from webapp.services.errors import DomainError

log = logging.getLogger(__name__)
stats = {"writes_sent_again": 0}

# Sent after commit with the (store_id, product_id) pairs whose level changed (and the write's
# result as `data`); the stock cache, live updates and metrics listen. Receivers must not
# raise: the write has already happened.
signals = Namespace()
stock_changed = signals.signal("stock-changed")


@dataclass
class LedgerResult:
    data: dict
    replayed: bool = False
    status_code: int = 201


def run_in_transaction(actor, key, request, write, standalone=False):
    """Run write(conn, now) -> (data, changed pairs, status) as one idempotent transaction
    (`standalone`: write() uses nothing but conn; see run)."""
    return run(actor, key, request, write, standalone)


def run(actor, key, request, write, standalone=False):
    """Run write(conn, now) in one transaction with idempotency; signal the change after commit.

    A `standalone` write (its write() touches nothing but `conn`: no ORM objects) runs on a Core
    connection of its own, unless the request's ORM session already has a transaction open,
    which it then joins (one transaction and one connection per request, as for every other
    write). Opening, committing and tearing down a session for nothing else cost 11 % of a
    random-row sale's CPU in-process; the Core connection is the thread's own (infra/pinned).
    """
    try:
        result, changed = _attempt(actor, key, request, write, standalone)
    except DBAPIError as error:
        if not (key and error.connection_invalidated):
            raise
        log.warning("database connection dropped during an idempotent write (%s); sending it "
                    "again once on a new connection", str(error.orig).strip().splitlines()[0]
                    if str(error.orig).strip() else type(error.orig).__name__)
        stats["writes_sent_again"] += 1
        result, changed = _attempt(actor, key, request, write, standalone)
    if changed:
        stock_changed.send(None, changes=changed, data=result.data)
    return result


def _attempt(actor, key, request, write, standalone):
    """(LedgerResult, changed pairs): one try of the transaction, on the thread's pinned Core
    connection or on the session's."""
    session = db.session
    if standalone and not (session.registry.has() and session().in_transaction()):
        conn = pinned.connection()
        try:
            return _transaction(conn, conn, actor, key, request, write)
        except DomainError:
            raise  # refused and rolled back: the connection is fine
        except Exception:
            pinned.discard()
            raise
    return _transaction(session.connection(), session, actor, key, request, write)


def _transaction(conn, owner, actor, key, request, write):
    """(LedgerResult, changed pairs) of write(conn, now), committed or rolled back by `owner`
    (the session, or the connection itself)."""
    try:
        if key:
            replay = idempotency.claim(conn, actor.scope, key, idempotency.fingerprint(request))
            if replay:
                owner.rollback()
                return LedgerResult(replay.response, replayed=True,
                                    status_code=replay.status_code), None
        data, changed, status = write(conn, utcnow())
        if key:
            idempotency.complete(conn, actor.scope, key, status, data)
        owner.commit()
    except Exception:
        owner.rollback()
        raise
    return LedgerResult(data, status_code=status), changed
