"""customers who owe, by balance: a partial index (balance, id) WHERE balance > 0, so the
receivables page over every store finds the 200 who owe most by walking it backwards instead of
sorting every customer (83 ms → 0.5 ms at 200,000 customers, make bench-reports)

Revision ID: owing_1
Revises: rec_1
"""
import sqlalchemy as sa
from alembic import op

revision = "owing_1"
down_revision = "rec_1"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_customers_owing", "customers", ["balance", "id"],
                    postgresql_where=sa.text("balance > 0"), sqlite_where=sa.text("balance > 0"))


def downgrade():
    op.drop_index("ix_customers_owing", table_name="customers")
