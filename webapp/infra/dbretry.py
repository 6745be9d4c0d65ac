"""One safe retry on a dropped database connection, instead of a ping before every checkout.

`pool_pre_ping` cost a round trip on every request that touched the database (18 % of a
sale's wall time under load). Instead, pooled connections are recycled after
DATABASE_POOL_RECYCLE seconds, and when the FIRST statement of a transaction finds its
connection dead (PostgreSQL restarted, a proxy or firewall dropped an idle connection), it is
sent once more on a new connection. That is safe: nothing earlier in the transaction can have
been lost, and the dead session's open transaction was never committed, so the statement took
no effect. Any later statement, and COMMIT (whose outcome is unknown when the line drops), are
never retried: the error reaches the caller as before. In autocommit mode only a plain SELECT
is retried, since a write may already have committed. The pool is told too, so the other
connections opened before the drop are replaced at their next checkout rather than failing.
"""
import collections
import logging

from psycopg2.extensions import STATUS_READY
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool.base import _ConnectionFairy

log = logging.getLogger(__name__)
stats = {"retried": 0}


def _first_statement(dbapi_connection, statement):
    """Whether `statement` is safe to send again: psycopg2 has no transaction open on this
    connection (it opens one with the statement), or, in autocommit mode, a plain SELECT.
    (psycopg2 keeps this status itself, so no commit, rollback or checkout listener has to:
    those made every Core connection join the event dispatch.)"""
    if dbapi_connection.status != STATUS_READY:
        return False
    return not dbapi_connection.autocommit or statement.lstrip()[:6].upper() == "SELECT"


@event.listens_for(Engine, "do_execute")
def _execute_with_one_retry(cursor, statement, parameters, context):
    fairy = context.root_connection.connection
    if context.dialect.name != "postgresql" or not isinstance(fairy, _ConnectionFairy) or \
            not _first_statement(fairy.dbapi_connection, statement):
        return None  # SQLAlchemy executes it the usual way
    context.cursor = _execute(fairy, cursor, statement, parameters, context.dialect)
    return True


def _execute(fairy, cursor, statement, parameters, dialect):
    """cursor.execute(); on a dropped connection, once more on a new one → the cursor used."""
    try:
        cursor.execute(statement, parameters)
        return cursor
    except dialect.loaded_dbapi.Error as error:
        if not dialect.is_disconnect(error, fairy.dbapi_connection, cursor):
            raise
        first_error = error
    record = fairy._connection_record
    log.warning("database connection dropped (%s); sending the first statement again on a "
                "new connection", str(first_error).strip().splitlines()[0] if str(first_error)
                else type(first_error).__name__)
    # Connections opened before now are replaced at their next checkout; this one right away.
    fairy._pool._invalidate(fairy, first_error, _checkin=False)
    record.invalidate(first_error)
    fairy.dbapi_connection = record.get_connection()
    cursor = fairy.dbapi_connection.cursor()
    stats["retried"] += 1
    cursor.execute(statement, parameters)
    return cursor


def send(conn, statement, parameters):
    """The first row (a named tuple) or None of one statement sent on the DBAPI cursor of
    `conn` (a Core Connection, in a transaction from here on), below SQLAlchemy's execution
    layer: its execution context, events and result objects cost about 60 µs a statement, 6 %
    of a sale's CPU (bench/profile.py). Only for PostgreSQL statements whose parameters and
    columns need no processing. Kept from that layer, here: the same one retry of a
    transaction's first statement on a dropped connection, and errors raised as SQLAlchemy's
    (DBAPIError subclasses; a dropped connection invalidated, as SQLAlchemy would)."""
    if not conn.in_transaction():
        conn.begin()
    fairy = conn.connection
    dialect = conn.dialect
    cursor = fairy.dbapi_connection.cursor()
    try:
        if _first_statement(fairy.dbapi_connection, statement):
            cursor = _execute(fairy, cursor, statement, parameters, dialect)
        else:
            cursor.execute(statement, parameters)
        row = cursor.fetchone()
        return None if row is None else _row_type(statement, cursor)(*row)
    except dialect.loaded_dbapi.Error as error:
        dropped = dialect.is_disconnect(error, fairy.dbapi_connection, cursor)
        if dropped:
            conn.invalidate(error)
        raise DBAPIError.instance(statement, parameters, error, dialect.loaded_dbapi.Error,
                                  connection_invalidated=dropped) from error
    finally:
        cursor.close()


_ROW_TYPES = {}


def _row_type(statement, cursor):
    """The named tuple of a statement's rows, made once per statement text: reading the
    column names from cursor.description on every call cost 2.5 % of a sale in-process."""
    row_type = _ROW_TYPES.get(statement)
    if row_type is None:
        if len(_ROW_TYPES) >= 256:  # the hot path sends a handful; anything else is rare
            _ROW_TYPES.clear()
        names = tuple(column[0] for column in cursor.description)
        row_type = _ROW_TYPES[statement] = collections.namedtuple("Row", names)
    return row_type
