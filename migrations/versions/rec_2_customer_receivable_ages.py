"""receivables per customer: customer_receivable_ages, what each customer who owes owes aged
0–30 / 31–60 / 61–90 / 90+ days by their newest credit sales, as of a Pakistan day (the
receivables CSV over every store reads it)

Revision ID: rec_2
Revises: draft_2
"""
import sqlalchemy as sa
from alembic import op

revision = "rec_2"
down_revision = "draft_2"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=22, scale=2)


def upgrade():
    op.create_table(
        "customer_receivable_ages",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, MONEY, nullable=False)
          for name in ("age_0_30", "age_31_60", "age_61_90", "age_90_plus")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_customer_receivable_ages_customer_id_customers")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_customer_receivable_ages_store_id_stores")),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_receivable_ages")),
    )
    op.create_index(op.f("ix_customer_receivable_ages_store_id"), "customer_receivable_ages",
                    ["store_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_customer_receivable_ages_store_id"),
                  table_name="customer_receivable_ages")
    op.drop_table("customer_receivable_ages")
