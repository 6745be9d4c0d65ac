"""counter: sales (baskets), sale lines, reversals (void / return), receipt numbers per store;
store settings void_window_minutes and max_discount_percent

Movement ids are stored as indexed integers without foreign keys: stock_movements is being
partitioned by month, so its primary key becomes (id, created_at).

Revision ID: counter_1
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "counter_1"
down_revision = "urdu_1"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(precision=12, scale=2)
QUANTITY = sa.Numeric(precision=14, scale=3)


def upgrade():
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("void_window_minutes", sa.Integer(), nullable=False,
                                      server_default="15"))
        batch_op.add_column(sa.Column("max_discount_percent", sa.Numeric(precision=5, scale=2),
                                      nullable=False, server_default="0"))
    op.create_table(
        "sale_counters",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_sale_counters_store_id_stores")),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_sale_counters")),
    )
    op.create_table(
        "sales",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("cashier_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('completed', 'voided')",
                           name=op.f("ck_sales_status_known")),
        sa.ForeignKeyConstraint(["cashier_id"], ["users.id"],
                                name=op.f("fk_sales_cashier_id_users")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=op.f("fk_sales_store_id_stores")),
        sa.ForeignKeyConstraint(["voided_by_id"], ["users.id"],
                                name=op.f("fk_sales_voided_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales")),
        sa.UniqueConstraint("store_id", "number", name=op.f("uq_sales_store_id")),
    )
    op.create_index("ix_sales_store_created", "sales", ["store_id", "created_at"])
    op.create_index("ix_sales_cashier_created", "sales", ["cashier_id", "created_at"])
    op.create_table(
        "sale_lines",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("sale_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("list_price", MONEY, nullable=False),
        sa.Column("line_total", MONEY, nullable=False),
        sa.Column("movement_id", BIG_ID, nullable=False),
        sa.Column("returned_quantity", QUANTITY, nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_sale_lines_quantity_positive")),
        sa.CheckConstraint("returned_quantity >= 0 AND returned_quantity <= quantity",
                           name=op.f("ck_sale_lines_returned_within_sold")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_sale_lines_product_id_products")),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"], ondelete="CASCADE",
                                name=op.f("fk_sale_lines_sale_id_sales")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_lines")),
    )
    op.create_index("ix_sale_lines_sale", "sale_lines", ["sale_id"])
    op.create_index("ix_sale_lines_movement", "sale_lines", ["movement_id"])
    op.create_table(
        "sale_reversals",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("sale_id", BIG_ID, nullable=False),
        sa.Column("sale_line_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("movement_id", BIG_ID, nullable=False),
        sa.Column("original_movement_id", BIG_ID, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('void', 'return')", name=op.f("ck_sale_reversals_kind_known")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_sale_reversals_quantity_positive")),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"], ondelete="CASCADE",
                                name=op.f("fk_sale_reversals_sale_id_sales")),
        sa.ForeignKeyConstraint(["sale_line_id"], ["sale_lines.id"], ondelete="CASCADE",
                                name=op.f("fk_sale_reversals_sale_line_id_sale_lines")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_sale_reversals_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale_reversals")),
    )
    op.create_index("ix_sale_reversals_sale", "sale_reversals", ["sale_id"])
    op.create_index("ix_sale_reversals_line", "sale_reversals", ["sale_line_id"])
    op.create_index("ix_sale_reversals_movement", "sale_reversals", ["movement_id"])
    op.create_index("ix_sale_reversals_original", "sale_reversals", ["original_movement_id"])


def downgrade():
    op.drop_table("sale_reversals")
    op.drop_table("sale_lines")
    op.drop_table("sales")
    op.drop_table("sale_counters")
    with op.batch_alter_table("stores", schema=None) as batch_op:
        batch_op.drop_column("max_discount_percent")
        batch_op.drop_column("void_window_minutes")
