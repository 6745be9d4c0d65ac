"""Read/write split: list and report reads go to the replica; writes and fresh reads stay primary.

How to use it (report and list views):

    from webapp.infra.replica import replica_reads

    @bp.get("/reports/valuation")
    @login_required
    @replica_reads          # innermost: authentication (which may write) runs on the primary
    def valuation():
        rows = reports.valuation(...)   # db.session reads here hit DATABASE_REPLICA_URL

Inside a @replica_reads view, db.session reads go to the replica unless
- no DATABASE_REPLICA_URL is set, or the replica failed in the last REPLICA_RETRY_SECONDS;
- the current user wrote within READ_YOUR_WRITES_SECONDS: every request that changes data marks
  its user, with a timestamp in the signed session cookie (pages) and a Redis key per user
  (bearer-token API clients; when Redis cannot answer, the read goes to the primary). Marks
  are made only by processes configured with a replica: without one there is nothing to mark;
- the code runs inside `with replica.primary():` (the stock cache fills itself this way, so a
  lagging replica can never be cached under a fresh generation).
Writes (flushes and INSERT/UPDATE/DELETE statements) always go to the primary. If the replica
fails in the middle of the view, the view runs again on the primary: a read-only view is safe
to repeat. Workers, the CLI and views without the decorator use the primary only.
"""
import logging
import time
from contextlib import contextmanager
from functools import wraps

from flask import current_app, g, has_request_context, request, session
from flask.globals import _cv_app, _cv_request
from flask_login import current_user
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import TextClause, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from webapp.infra import redisconn

log = logging.getLogger(__name__)
REPLICA = "replica"
PRIMARY = "primary"


class RoutingSession(FlaskSession):
    """db.session's class: sends reads to the replica while a @replica_reads view asks for it."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        # has_request_context() and g.get("_db_target"), read from the context variables:
        # every statement of every request asks this.
        if bind is None and not self._flushing and not getattr(clause, "is_dml", False) \
                and _cv_request.get(None) is not None \
                and _cv_app.get().g.__dict__.get("_db_target") == REPLICA:
            engine = current_app.extensions.get("kiryana_replica_engine")
            if engine is not None:
                return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


def replica_reads(view):
    """View decorator: this view's reads may be served by the replica (see the module doc)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not _replica_allowed():
            return view(*args, **kwargs)
        previous = g.get("_db_target")
        g._db_target = REPLICA
        try:
            return view(*args, **kwargs)
        except DBAPIError as exc:
            if not _on_replica_error(exc):
                raise
            # extensions builds db with this module's session class: reach it through the app.
            current_app.extensions["sqlalchemy"].session.rollback()
            g._db_target = PRIMARY
            return view(*args, **kwargs)
        finally:
            g._db_target = previous
    return wrapped


@contextmanager
def primary():
    """Force the primary for the reads inside the block (no-op outside a request)."""
    if not has_request_context():
        yield
        return
    previous = g.get("_db_target")
    g._db_target = PRIMARY
    try:
        yield
    finally:
        g._db_target = previous


def _replica_allowed():
    app = current_app
    if app.extensions.get("kiryana_replica_engine") is None:
        return False
    if time.monotonic() < app.extensions.get("kiryana_replica_down_until", 0):
        return False
    return not _wrote_recently()


def _bearer():
    return request.headers.get("Authorization", "").lower().startswith("bearer ")


def _user_id():
    """The caller: the API's bearer-token user (g.api_user) or the page's logged-in user."""
    api_user = g.get("api_user")
    if api_user is not None:
        return api_user.id
    return current_user.id if current_user.is_authenticated else None


def _wrote_recently():
    if session.get("_rw_until", 0) > time.time():
        return True
    user_id = _user_id() if _bearer() else None
    if user_id is None:
        return False
    key = redisconn.prefixed(f"rw:{user_id}")
    found = redisconn.run(lambda r: r.exists(key))
    return found is None or bool(found)


def _on_replica_error(exc):
    """A replica connection failed: rest it for a while; True when the view should retry."""
    if g.get("_db_target") != REPLICA or not (
            exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))):
        return False
    app = current_app
    app.extensions["kiryana_replica_down_until"] = \
        time.monotonic() + app.config["REPLICA_RETRY_SECONDS"]
    log.warning("replica failed (%s); reading from the primary", exc.__class__.__name__)
    return True


def _mark_writer(response):
    """After a request that changed data, keep this user on the primary for a few seconds."""
    user_id = _user_id() if g.pop("_wrote", False) else None
    if user_id is None:
        return response
    seconds = current_app.config["READ_YOUR_WRITES_SECONDS"]
    if _bearer():
        key = redisconn.prefixed(f"rw:{user_id}")
        redisconn.run(lambda r: r.set(key, 1, px=max(1, int(seconds * 1000))))
    else:
        session["_rw_until"] = time.time() + seconds
    return response


# Textual statements (the ledger's one-statement write is a CTE) are writes when they start so.
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "WITH", "MERGE")


def note_write():
    """This request changed data: its user stays on the primary for READ_YOUR_WRITES_SECONDS.
    Statements SQLAlchemy executes are noted by themselves; code that writes on a DBAPI cursor
    (infra/dbretry.send) calls this."""
    if has_request_context():
        g._wrote = True


def _note_write(conn, cursor, statement, parameters, context, executemany):
    if context is None:
        return
    if context.isinsert or context.isupdate or context.isdelete or (
            (context.compiled is None or isinstance(context.compiled.statement, TextClause))
            and statement.lstrip()[:6].upper().startswith(_WRITE_VERBS)):
        note_write()


def init_app(app):
    url = app.config["DATABASE_REPLICA_URL"]
    if not url:
        # Without a replica every read is on the primary: no write needs marking (that was a
        # statement listener on every query and a Redis SET after every API write).
        return
    options = {"connect_args": {"connect_timeout": 2},
               "pool_size": app.config["DATABASE_POOL_SIZE"]} \
        if url.startswith("postgresql") else {}
    app.extensions["kiryana_replica_engine"] = create_engine(url, pool_pre_ping=True, **options)
    if not getattr(init_app, "listening", False):
        from sqlalchemy.engine import Engine
        event.listen(Engine, "after_cursor_execute", _note_write)
        init_app.listening = True
    app.after_request(_mark_writer)
