"""ref: a sale keeps the provisional receipt number a phone gave it offline (sales.reference,
unique per store; NULL for a sale made with signal)

Plain ADD COLUMN and CREATE UNIQUE INDEX on both engines (no batch copy of sales).

Revision ID: ref_1
Revises: batch_1
"""
import sqlalchemy as sa
from alembic import op

revision = "ref_1"
down_revision = "batch_1"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("sales", sa.Column("reference", sa.String(length=48), nullable=True))
    op.create_index("uq_sales_store_reference", "sales", ["store_id", "reference"], unique=True)


def downgrade():
    op.drop_index("uq_sales_store_reference", table_name="sales")
    op.drop_column("sales", "reference")
