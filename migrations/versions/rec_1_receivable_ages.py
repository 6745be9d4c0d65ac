"""receivables summary: receivable_ages, per store what its customers owe aged 0–30 / 31–60 /
61–90 / 90+ days by the newest credit sales, as of a Pakistan day

Revision ID: rec_1
Revises: watch_3
"""
import sqlalchemy as sa
from alembic import op

revision = "rec_1"
down_revision = "watch_3"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=22, scale=2)


def upgrade():
    op.create_table(
        "receivable_ages",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        *(sa.Column(name, MONEY, nullable=False)
          for name in ("age_0_30", "age_31_60", "age_61_90", "age_90_plus")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_receivable_ages_store_id_stores")),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_receivable_ages")),
    )


def downgrade():
    op.drop_table("receivable_ages")
