"""Monthly partitions of the movement ledger (PostgreSQL only; SQLite keeps one plain table).

Thousands of stores × hundreds of sales a day is hundreds of millions of movements a year, so
on PostgreSQL `stock_movements` is partitioned by RANGE (created_at): one partition per
calendar month **in UTC**, named `stock_movements_YYYY_MM`. The key is created_at, not
occurred_at: created_at is the server's clock at the write (never null, never sent by a
client), so every insert lands in the current month and old months stop changing, while an
offline till may send occurred_at days late. UTC months, not Pakistan months: a movement at
00:30 on 1 December in Karachi (19:30 UTC on 30 November) is in November's partition even
though its daily-summary day is 1 December; a report over a Pakistan month reads two
partitions (the second only for five hours) and pruning still skips every other month.

The primary key is (id, created_at), because a partitioned table's unique keys must hold the
partition key; ids still come from one sequence, so id alone stays unique. Nothing may hold a
FOREIGN KEY to a movement id (PostgreSQL cannot point one at (id) alone): tables that refer
to movements keep the id without a constraint.

Partitions are made ahead (PARTITIONS_MONTHS_AHEAD months) by the migration and then by every
worker sweep, not by pg_partman: pg_partman needs a superuser to CREATE EXTENSION on every
PostgreSQL the app runs against (tests, CI, managed services that may not ship it) plus its own
scheduler, while the worker already runs a sweep and the job is a catalogue query and, once a
month, one CREATE TABLE. A DEFAULT partition catches rows if every worker stopped for months;
when their month's partition is made, those rows are moved into it.
"""
from datetime import datetime, timezone

from sqlalchemy import text

PARENT = "stock_movements"
DEFAULT = "stock_movements_default"
LEGACY_PREFIX = "stock_movements_before_"
# Any number; only this code takes it, so workers do not race to create the same month.
_LOCK_KEY = 0x6B69_7061_7274  # "kipart"


def month_start(moment):
    """The first instant (UTC) of the month holding `moment` (a date or aware datetime)."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(timezone.utc)
    return datetime(moment.year, moment.month, 1, tzinfo=timezone.utc)


def add_months(start, months):
    index = start.year * 12 + start.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


def partition_name(start):
    return f"{PARENT}_{start.year:04d}_{start.month:02d}"


def include_name(name, type_, parent_names):
    """Alembic's filter: the partitions (and their indexes) are not part of the schema model."""
    if type_ == "table":
        return not name.startswith(PARENT + "_")
    if type_ == "index":
        return not (parent_names.get("table_name") or "").startswith(PARENT + "_")
    return True


def is_partitioned(conn):
    return conn.dialect.name == "postgresql" and conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
        " WHERE c.relname = :t AND c.relnamespace = current_schema()::regnamespace)"),
        {"t": PARENT}).scalar()


def existing(conn):
    """Names of the partitions of stock_movements."""
    return set(conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = CAST(:t AS regclass)"), {"t": PARENT}).scalars())


def ensure_ahead(conn, months_ahead, today=None):
    """Make sure this month and the next `months_ahead` have partitions; returns those made.

    A no-op (one catalogue query) when they exist, and on SQLite. Runs inside the caller's
    transaction; takes a transaction-level advisory lock, so it is safe behind pgbouncer.
    """
    if not is_partitioned(conn):
        return []
    first = month_start(today or datetime.now(timezone.utc))
    wanted = [add_months(first, n) for n in range(months_ahead + 1)]
    have = existing(conn)
    missing = [m for m in wanted if partition_name(m) not in have and m >= _legacy_end(have)]
    if not missing:
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    # Never queue behind a long report holding the table: an ACCESS EXCLUSIVE request waiting
    # in the lock queue would stall every sale. Try again at the next sweep instead.
    conn.execute(text("SET LOCAL lock_timeout = '2s'"))
    have = existing(conn)
    made = []
    for start in missing:
        if partition_name(start) not in have:
            create(conn, start)
            made.append(partition_name(start))
    return made


def _legacy_end(names):
    """Where the pre-partitioning table (attached by the migration as
    stock_movements_before_YYYY_MM, covering everything before that month) ends."""
    ends = [datetime(int(n[-7:-3]), int(n[-2:]), 1, tzinfo=timezone.utc)
            for n in names if n.startswith(LEGACY_PREFIX)]
    return max(ends, default=datetime.min.replace(tzinfo=timezone.utc))


def create(conn, start):
    """Create the partition for the month starting at `start`, moving any rows for it out of
    the DEFAULT partition (attaching a range the default holds rows for would fail)."""
    name, end = partition_name(start), add_months(start, 1)
    bounds = {"a": start, "b": end}
    conn.execute(text(f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS"
                      " INCLUDING CONSTRAINTS)"))
    if DEFAULT in existing(conn):
        conn.execute(text(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE created_at >= :a AND created_at < :b"
            f" RETURNING *) INSERT INTO {name} SELECT * FROM moved"), bounds)
    # ATTACH builds the parent's indexes and foreign keys on the new table.
    conn.execute(text(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM"
                      f" ('{start.isoformat()}') TO ('{end.isoformat()}')"))


def partition_of(conn, movement_id):
    """The partition a movement row lives in (for tests and operators)."""
    return conn.execute(text(f"SELECT tableoid::regclass::text FROM {PARENT} WHERE id = :id"),
                        {"id": movement_id}).scalar()
