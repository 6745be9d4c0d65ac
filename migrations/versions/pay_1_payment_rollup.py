"""payments roll-up: daily_payment_summary (per Pakistan day and store: the day's sales by how
they were paid, what its voids and returns were worth and took off the khata), and the indexes
that let it recompute a day over every store (sales by occurred_at and created_at, reversals and
khata entries by created_at)

Revision ID: pay_1
Revises: ref_1
"""
import sqlalchemy as sa
from alembic import op

revision = "pay_1"
down_revision = "ref_1"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=22, scale=2)


def upgrade():
    op.create_table(
        "daily_payment_summary",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("sales", sa.Integer(), nullable=False),
        *(sa.Column(name, MONEY, nullable=False) for name in (
            "paid_cash", "paid_card", "paid_wallet", "paid_credit", "refunded",
            "credit_reversed")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_daily_payment_summary_store_id_stores")),
        sa.PrimaryKeyConstraint("day", "store_id", name=op.f("pk_daily_payment_summary")),
    )
    op.create_index("ix_sales_occurred", "sales", ["occurred_at"])
    op.create_index("ix_sales_created", "sales", ["created_at"])
    op.create_index("ix_sale_reversals_created", "sale_reversals", ["created_at"])
    op.create_index("ix_customer_entries_created", "customer_entries", ["created_at"])


def downgrade():
    op.drop_index("ix_customer_entries_created", table_name="customer_entries")
    op.drop_index("ix_sale_reversals_created", table_name="sale_reversals")
    op.drop_index("ix_sales_created", table_name="sales")
    op.drop_index("ix_sales_occurred", table_name="sales")
    op.drop_table("daily_payment_summary")
