"""packs: a product's pack may be sold whole at the counter (products.pack_price, pack_name);
a sale line remembers how many packs it sold (sale_lines.packs, NULL for a line sold in units)

Plain ADD COLUMN on both engines (no batch copy of products or sale_lines).

Revision ID: packs_1
Revises: khata_1
"""
import sqlalchemy as sa
from alembic import op

revision = "packs_1"
down_revision = "khata_1"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(precision=12, scale=2)
QUANTITY = sa.Numeric(precision=14, scale=3)


def upgrade():
    op.add_column("products", sa.Column("pack_price", MONEY, nullable=True))
    op.add_column("products", sa.Column("pack_name", sa.String(length=10), nullable=True))
    op.add_column("sale_lines", sa.Column("packs", QUANTITY, nullable=True))


def downgrade():
    op.drop_column("sale_lines", "packs")
    op.drop_column("products", "pack_name")
    op.drop_column("products", "pack_price")
