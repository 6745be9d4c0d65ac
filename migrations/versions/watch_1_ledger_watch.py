"""ledger_watch: the worker's continuous check of invariant 1 (watermark, store cursor, alarm)

Revision ID: watch_1
Revises: bounds_1
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "watch_1"
down_revision = "bounds_1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ledger_watch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_movement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False, server_default="0"),
        sa.Column("store_cursor", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("violations", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("first_violation_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                  nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_watch")),
    )


def downgrade():
    op.drop_table("ledger_watch")
