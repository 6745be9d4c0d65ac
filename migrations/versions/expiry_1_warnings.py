"""expiry warnings: a store's warning window (stores.expiry_warning_days, default 7) and the
Pakistan days whose stock.expiring events were raised (expiry_rounds); a partial index of the
batches with stock left by store and expiry date (covering on PostgreSQL)

Revision ID: expiry_1
Revises: pay_1
"""
import sqlalchemy as sa
from alembic import op

revision = "expiry_1"
down_revision = "pay_1"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("stores", sa.Column("expiry_warning_days", sa.Integer(), nullable=False,
                                      server_default="7"))
    op.create_table(
        "expiry_rounds",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stores", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_expiry_rounds")),
    )
    op.create_index("ix_stock_batches_expiring", "stock_batches", ["store_id", "expires_on"],
                    postgresql_where=sa.text("quantity > 0"),
                    sqlite_where=sa.text("quantity > 0"),
                    postgresql_include=["product_id", "quantity"])


def downgrade():
    op.drop_index("ix_stock_batches_expiring", table_name="stock_batches")
    op.drop_table("expiry_rounds")
    if op.get_bind().dialect.name == "sqlite":  # SQLite 3.35+ drops a plain column in place
        op.execute("ALTER TABLE stores DROP COLUMN expiry_warning_days")
    else:
        op.drop_column("stores", "expiry_warning_days")
