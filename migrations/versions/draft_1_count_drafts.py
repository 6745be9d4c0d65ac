"""count_drafts: a store's shelf count in progress, saved line by line while counting

Revision ID: draft_1
Revises: sec_1
"""
import sqlalchemy as sa
from alembic import op

revision = "draft_1"
down_revision = "sec_1"
branch_labels = None
depends_on = None

QUANTITY = sa.Numeric(precision=14, scale=3)


def upgrade():
    op.create_table(
        "count_drafts",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("expected", QUANTITY, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_count_drafts_quantity_not_negative")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_count_drafts_product_id_products")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_count_drafts_store_id_stores")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_count_drafts_user_id_users")),
        sa.PrimaryKeyConstraint("store_id", "product_id", name=op.f("pk_count_drafts")),
    )


def downgrade():
    op.drop_table("count_drafts")
