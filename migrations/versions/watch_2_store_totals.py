"""ledger_watch_stores: each store's running total of movement deltas for the continuous check

Revision ID: watch_2
Revises: hooks_1
"""
import sqlalchemy as sa
from alembic import op

revision = "watch_2"
down_revision = "hooks_1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ledger_watch_stores",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("total", sa.Numeric(precision=22, scale=3), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_ledger_watch_stores_store_id_stores")),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_ledger_watch_stores")),
    )


def downgrade():
    op.drop_table("ledger_watch_stores")
