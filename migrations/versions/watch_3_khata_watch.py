"""ledger_watch: the continuous check also follows customers' ledgers (invariant 8): its
watermark among customer entries, and each store's running total of their amounts

Revision ID: watch_3
Revises: expiry_1
"""
import sqlalchemy as sa
from alembic import op

revision = "watch_3"
down_revision = "expiry_1"
branch_labels = None
depends_on = None


def upgrade():
    # From 0 with a total of 0 everywhere: the first rounds add every entry there is.
    with op.batch_alter_table("ledger_watch") as table:
        table.add_column(sa.Column("last_entry_id", sa.BigInteger().with_variant(
            sa.Integer(), "sqlite"), nullable=False, server_default="0"))
    with op.batch_alter_table("ledger_watch_stores") as table:
        table.add_column(sa.Column("khata_total", sa.Numeric(precision=22, scale=2),
                                   nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("ledger_watch_stores") as table:
        table.drop_column("khata_total")
    with op.batch_alter_table("ledger_watch") as table:
        table.drop_column("last_entry_id")
