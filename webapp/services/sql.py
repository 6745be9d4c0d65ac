"""The SQL that differs between PostgreSQL and SQLite, in one place: upserts, exact sums, the
Pakistan day of a timestamp, row locks and SKIP LOCKED."""
from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite


def upsert(conn, table):
    """An INSERT that can say ON CONFLICT, in the connection's dialect."""
    module = postgresql if conn.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def insert_ignore(conn, table):
    return upsert(conn, table).on_conflict_do_nothing()


def exact_sum(conn, left, right, places=3):
    """left + right; SQLite keeps numerics as binary floats, so round back to the column's scale."""
    if conn.dialect.name == "sqlite":
        return func.round(left + right, places)
    return left + right


def lock_clause(conn, stmt):
    """SELECT … FOR UPDATE on PostgreSQL; SQLite serialises writers with BEGIN IMMEDIATE instead."""
    return stmt.with_for_update() if conn.dialect.name == "postgresql" else stmt


def exact_total(conn, column, places):
    """SUM that stays exact: SQLite adds numerics as binary floats, so round to the scale."""
    if conn.dialect.name == "sqlite":
        return func.round(func.sum(column), places)
    return func.sum(column)


def day_of(conn, moment):
    """SQL for the Pakistan calendar day of a UTC timestamp column."""
    if conn.dialect.name == "postgresql":
        return func.date(func.timezone("Asia/Karachi", moment))
    # Pakistan has kept UTC+5 all year since 2009.
    return func.date(moment, "+5 hours")


def skip_locked(conn, stmt):
    """SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL: several workers each take rows the
    others have not locked. SQLite has one writer at a time and needs none."""
    return stmt.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else stmt


def is_postgresql(conn):
    """For the statements only PostgreSQL can run (the ledger's one-statement write, LATERAL)."""
    return conn.dialect.name == "postgresql"


class Prebuilt:
    """Statements built once per dialect and name, from `builders` (name -> build(conn)):
    building and cache-keying a Core statement on every call of a hot path costs more than
    sending it. `builders` may grow after this is made (the ledger's fast path adds its own)."""

    def __init__(self, builders):
        self.builders, self.built = builders, {}

    def __call__(self, conn, name):
        key = (conn.dialect.name, name)
        stmt = self.built.get(key)
        if stmt is None:
            stmt = self.built[key] = self.builders[name](conn)
        return stmt


# A statement built once -> (its PostgreSQL text, its parameters' defaults).
_DRIVER_SQL = {}


def rows_of(conn, statement, values):
    """Every row of `statement` (built once, kept) on `conn`. On PostgreSQL
    it is sent as the text it compiles to (exec_driver_sql): hashing its cache key for
    SQLAlchemy's compiled-cache lookup, then processing each parameter and column, cost more
    than the rest of reading a page. Only for statements whose parameters and columns need no
    processing on psycopg2 (ints, strings, booleans, Decimals, dates)."""
    if not is_postgresql(conn):
        return conn.execute(statement, values).all()
    driver = _DRIVER_SQL.get(statement)
    if driver is None:
        compiled = statement.compile(dialect=conn.dialect)
        driver = _DRIVER_SQL[statement] = (str(compiled), compiled.params)
    text, defaults = driver
    return conn.exec_driver_sql(text, {**defaults, **values}).all()
