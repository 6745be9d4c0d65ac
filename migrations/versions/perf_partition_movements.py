"""stock_movements partitioned by month of created_at (UTC) on PostgreSQL

Existing rows are not copied: the old table is attached as one partition holding everything up
to the end of the month of its newest row (one validating scan and one index build, no
rewrite), and monthly partitions follow it. An empty old table is simply replaced. SQLite keeps
its plain table. See webapp/services/partitions.py for why the key is created_at in UTC.

Revision ID: perf_1
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

from webapp.services import partitions

revision = "perf_1"
down_revision = "purchasing_1"
branch_labels = None
depends_on = None

MONTHS_AHEAD = 3
OLD = "stock_movements_unpartitioned"
INDEXES = [
    "ix_stock_movements_created", "ix_stock_movements_product_created",
    "ix_stock_movements_store_created", "ix_stock_movements_store_product_id",
    "ix_stock_movements_transfer", "ix_stock_movements_removal_time",
    "ix_stock_movements_removal_store_time",
]
FOREIGN_KEYS = [("store_id", "stores"), ("product_id", "products"),
                ("supplier_id", "suppliers"), ("user_id", "users")]


def _keys_and_indexes(table, primary_key):
    """The 0001/0004 constraints and indexes, on `table` (partitioned or plain)."""
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_stock_movements PRIMARY KEY ({primary_key})")
    for column, target in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT fk_stock_movements_{column}_{target}"
                   f" FOREIGN KEY ({column}) REFERENCES {target} (id)")
    moment = "(coalesce(occurred_at, created_at))"
    for name, columns in [
        ("ix_stock_movements_created", "(created_at)"),
        ("ix_stock_movements_product_created", "(product_id, created_at)"),
        ("ix_stock_movements_store_created", "(store_id, created_at)"),
        ("ix_stock_movements_store_product_id", "(store_id, product_id, id)"),
        ("ix_stock_movements_transfer", "(transfer_id)"),
        ("ix_stock_movements_removal_time", f"({moment})"
         " INCLUDE (store_id, reason, quantity, unit_cost, occurred_at, created_at)"
         " WHERE type = 'removal'"),
        ("ix_stock_movements_removal_store_time", f"(store_id, {moment})"
         " INCLUDE (reason, quantity, unit_cost, occurred_at, created_at)"
         " WHERE type = 'removal'"),
    ]:
        op.execute(f"CREATE INDEX {name} ON {table} {columns}")


def _rename_old_objects(table, suffix):
    op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT pk_stock_movements"
               f" TO pk_stock_movements{suffix}")
    for name in INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}{suffix}")


def upgrade():
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE stock_movements RENAME TO {OLD}")
    _rename_old_objects(OLD, "_old")
    op.execute(f"CREATE TABLE stock_movements (LIKE {OLD} INCLUDING DEFAULTS"
               " INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at)")
    op.execute("ALTER SEQUENCE stock_movements_id_seq OWNED BY stock_movements.id")
    op.execute(f"ALTER TABLE {OLD} ALTER COLUMN id DROP DEFAULT")
    _keys_and_indexes("stock_movements", "id, created_at")
    newest = conn.execute(sa.text(f"SELECT max(created_at) FROM {OLD}")).scalar()
    if newest is None:
        op.execute(f"DROP TABLE {OLD}")
    else:
        first = partitions.add_months(partitions.month_start(newest), 1)
        before = f"{partitions.LEGACY_PREFIX}{first.year:04d}_{first.month:02d}"
        # A partition has the parent's primary key (id, created_at) and no other.
        op.execute(f"ALTER TABLE {OLD} DROP CONSTRAINT pk_stock_movements_old")
        op.execute(f"ALTER TABLE {OLD} RENAME TO {before}")
        op.execute(f"ALTER TABLE stock_movements ATTACH PARTITION {before}"
                   f" FOR VALUES FROM (MINVALUE) TO ('{first.isoformat()}')")
    op.execute(f"CREATE TABLE {partitions.DEFAULT} PARTITION OF stock_movements DEFAULT")
    partitions.ensure_ahead(conn, MONTHS_AHEAD)


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE stock_movements RENAME TO {OLD}")
    _rename_old_objects(OLD, "_parted")
    op.execute(f"CREATE TABLE stock_movements (LIKE {OLD} INCLUDING DEFAULTS"
               " INCLUDING CONSTRAINTS)")
    op.execute(f"INSERT INTO stock_movements SELECT * FROM {OLD}")
    op.execute("ALTER SEQUENCE stock_movements_id_seq OWNED BY stock_movements.id")
    op.execute(f"DROP TABLE {OLD}")
    _keys_and_indexes("stock_movements", "id")
