"""purchasing: how products are bought, purchase orders with lines and receipts, import jobs

receipt lines keep the stock_in's id as a plain indexed integer, not a foreign key: the ledger
is being partitioned by month (composite primary key), and its id alone cannot be referenced.

Revision ID: purchasing_1
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "purchasing_1"
down_revision = "counter_1"
branch_labels = None
depends_on = None

ORDER_STATUSES = "('draft', 'sent', 'partly_received', 'received', 'cancelled')"
IMPORT_KINDS = "('products', 'opening_stock', 'supplier_prices')"
IMPORT_STATUSES = "('checked', 'queued', 'running', 'done', 'failed')"


def _when(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade():
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferred_supplier_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pack_size", sa.Numeric(precision=14, scale=3),
                                      server_default="1", nullable=False))
        batch_op.add_column(sa.Column("last_cost", sa.Numeric(precision=12, scale=2),
                                      nullable=True))
        batch_op.create_foreign_key(op.f("fk_products_preferred_supplier_id_suppliers"),
                                    "suppliers", ["preferred_supplier_id"], ["id"])
        batch_op.create_index(op.f("ix_products_preferred_supplier_id"),
                              ["preferred_supplier_id"], unique=False)
        batch_op.create_check_constraint(op.f("ck_products_pack_size_positive"), "pack_size > 0")
    _restore_sku_index()

    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _when("created_at", False), _when("updated_at", False), _when("sent_at"),
        _when("closed_at"),
        sa.CheckConstraint(f"status IN {ORDER_STATUSES}",
                           name=op.f("ck_purchase_orders_status_known")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_purchase_orders_created_by_users")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_purchase_orders_store_id_stores")),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                                name=op.f("fk_purchase_orders_supplier_id_suppliers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
    )
    op.create_index("ix_purchase_orders_store_status", "purchase_orders", ["store_id", "status"])
    op.create_index("ix_purchase_orders_supplier", "purchase_orders", ["supplier_id"])

    op.create_table(
        "purchase_order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("packs", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("pack_size", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("received_quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("added_at_receipt", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["purchase_orders.id"], ondelete="CASCADE",
                                name=op.f("fk_purchase_order_lines_order_id_purchase_orders")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_purchase_order_lines_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
    )
    op.create_index("ix_purchase_order_lines_order", "purchase_order_lines",
                    ["order_id", "position"])

    op.create_table(
        "purchase_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("over_received", sa.Boolean(), nullable=False),
        _when("created_at", False),
        sa.ForeignKeyConstraint(["order_id"], ["purchase_orders.id"], ondelete="CASCADE",
                                name=op.f("fk_purchase_receipts_order_id_purchase_orders")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_purchase_receipts_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_receipts")),
    )
    op.create_index("ix_purchase_receipts_order", "purchase_receipts", ["order_id"])

    op.create_table(
        "purchase_receipt_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=12, scale=2), nullable=True),
        # No foreign key to stock_movements on purpose (see the module docstring).
        sa.Column("movement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=True),
        sa.Column("over_received", sa.Boolean(), nullable=False),
        sa.Column("substitute", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_line_id"], ["purchase_order_lines.id"],
            name=op.f("fk_purchase_receipt_lines_order_line_id_purchase_order_lines")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_purchase_receipt_lines_product_id_products")),
        sa.ForeignKeyConstraint(
            ["receipt_id"], ["purchase_receipts.id"], ondelete="CASCADE",
            name=op.f("fk_purchase_receipt_lines_receipt_id_purchase_receipts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_receipt_lines")),
    )
    op.create_index("ix_purchase_receipt_lines_receipt", "purchase_receipt_lines",
                    ["receipt_id"])
    op.create_index("ix_purchase_receipt_lines_movement", "purchase_receipt_lines",
                    ["movement_id"])

    op.create_table(
        "import_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=True),
        sa.Column("supplier_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False)
          for name in ("total", "processed", "created", "updated", "unchanged", "refused")],
        sa.Column("refusals", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        _when("created_at", False), _when("started_at"), _when("finished_at"),
        _when("heartbeat_at"),
        sa.Column("runner", sa.String(length=36), nullable=True),
        sa.CheckConstraint(f"kind IN {IMPORT_KINDS}", name=op.f("ck_import_jobs_kind_known")),
        sa.CheckConstraint(f"status IN {IMPORT_STATUSES}",
                           name=op.f("ck_import_jobs_status_known")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_import_jobs_store_id_stores")),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                                name=op.f("fk_import_jobs_supplier_id_suppliers")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_import_jobs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index("ix_import_jobs_user_created", "import_jobs", ["user_id", "created_at"])


def downgrade():
    op.drop_table("import_jobs")
    op.drop_table("purchase_receipt_lines")
    op.drop_table("purchase_receipts")
    op.drop_table("purchase_order_lines")
    op.drop_table("purchase_orders")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_products_pack_size_positive"), type_="check")
        batch_op.drop_index(op.f("ix_products_preferred_supplier_id"))
        batch_op.drop_constraint(op.f("fk_products_preferred_supplier_id_suppliers"),
                                 type_="foreignkey")
        batch_op.drop_column("last_cost")
        batch_op.drop_column("pack_size")
        batch_op.drop_column("preferred_supplier_id")
    _restore_sku_index()


def _restore_sku_index():
    """SQLite's batch mode rebuilds the table and cannot carry an expression index over."""
    if op.get_context().dialect.name == "sqlite":
        op.execute("CREATE UNIQUE INDEX IF NOT EXISTS uq_products_sku_lower ON products (lower(sku))")
