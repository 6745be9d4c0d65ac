"""Small SQL helpers that differ between PostgreSQL and SQLite."""
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
