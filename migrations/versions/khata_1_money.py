"""khata: customers and their append-only ledger (udhaar), how each sale was paid, what each
store owes its suppliers, the daily cash closing; store setting opening_float

Existing sales were all paid in cash: paid_cash is set to their total.

Revision ID: khata_1
Revises: watch_1
"""
import sqlalchemy as sa
from alembic import op

revision = "khata_1"
down_revision = "watch_1"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(precision=12, scale=2)
SUM = sa.Numeric(precision=22, scale=2)  # models/types.SumMoney
TIME = sa.DateTime(timezone=True)


def _entry_columns():
    return [
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("amount", SUM, nullable=False),
        sa.Column("balance_after", SUM, nullable=False),
        sa.Column("method", sa.String(length=8), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
    ]


def upgrade():
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("credit_limit", MONEY, nullable=True),
        sa.Column("balance", SUM, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.CheckConstraint("credit_limit IS NULL OR credit_limit >= 0",
                           name=op.f("ck_customers_limit_not_negative")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_customers_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("store_id", "phone", name=op.f("uq_customers_store_id")),
    )
    op.create_index("ix_customers_store_balance", "customers", ["store_id", "balance"])

    op.create_table(
        "daily_closings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("opening_float", MONEY, nullable=False),
        *[sa.Column(name, SUM, nullable=False) for name in (
            "sales_cash", "sales_card", "sales_wallet", "sales_credit",
            "cash_paid_back", "credit_reversed", "received_cash", "received_card",
            "received_wallet", "paid_to_suppliers", "expected_cash", "counted_cash",
            "difference")],
        sa.Column("notes_count", sa.Text(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"],
                                name=op.f("fk_daily_closings_closed_by_id_users")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_daily_closings_store_id_stores")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daily_closings")),
        sa.UniqueConstraint("store_id", "business_date",
                            name=op.f("uq_daily_closings_store_id")),
    )
    op.create_table(
        "supplier_balances",
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("balance", SUM, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_supplier_balances_store_id_stores")),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                                name=op.f("fk_supplier_balances_supplier_id_suppliers")),
        sa.PrimaryKeyConstraint("supplier_id", "store_id", name=op.f("pk_supplier_balances")),
    )
    op.create_table(
        "customer_entries",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("sale_id", BIG_ID, nullable=True),
        *_entry_columns(),
        sa.CheckConstraint("kind IN ('sale', 'payment', 'void', 'return')",
                           name=op.f("ck_customer_entries_kind_known")),
        sa.CheckConstraint("method IS NULL OR method IN ('cash', 'card', 'wallet')",
                           name=op.f("ck_customer_entries_method_known")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_customer_entries_customer_id_customers")),
        sa.ForeignKeyConstraint(["sale_id"], ["sales.id"],
                                name=op.f("fk_customer_entries_sale_id_sales")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_customer_entries_store_id_stores")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_customer_entries_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_entries")),
    )
    op.create_index("ix_customer_entries_customer", "customer_entries", ["customer_id", "id"])
    op.create_index("ix_customer_entries_sale", "customer_entries", ["sale_id"])
    op.create_index("ix_customer_entries_store_created", "customer_entries",
                    ["store_id", "created_at"])
    op.create_table(
        "supplier_entries",
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("purchase_receipt_id", sa.Integer(), nullable=True),
        *_entry_columns(),
        sa.CheckConstraint("kind IN ('receipt', 'payment')",
                           name=op.f("ck_supplier_entries_kind_known")),
        sa.CheckConstraint("method IS NULL OR method IN ('cash', 'card', 'wallet')",
                           name=op.f("ck_supplier_entries_method_known")),
        sa.ForeignKeyConstraint(
            ["purchase_receipt_id"], ["purchase_receipts.id"],
            name=op.f("fk_supplier_entries_purchase_receipt_id_purchase_receipts")),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_supplier_entries_store_id_stores")),
        sa.ForeignKeyConstraint(["supplier_id"], ["suppliers.id"],
                                name=op.f("fk_supplier_entries_supplier_id_suppliers")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_supplier_entries_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_entries")),
    )
    op.create_index("ix_supplier_entries_pair", "supplier_entries",
                    ["supplier_id", "store_id", "id"])
    op.create_index("ix_supplier_entries_store_created", "supplier_entries",
                    ["store_id", "created_at"])

    # Plain ALTER TABLE ADD/DROP COLUMN on both engines: SQLite's batch mode would copy and
    # drop `sales` and `stores`, and dropping `sales` deletes its lines and reversals (ON DELETE
    # CASCADE). So sales.customer_id is an indexed integer without a foreign key: the sale's
    # transaction checks the customer (services/khata.py), as the ledger does for movement ids.
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("sales", sa.Column("customer_id", sa.Integer(), nullable=True))
    for name in ("paid_cash", "paid_card", "paid_wallet", "paid_credit"):
        op.add_column("sales", sa.Column(name, MONEY, nullable=False, server_default="0"))
    op.execute("UPDATE sales SET paid_cash = total")
    op.create_index("ix_sales_customer", "sales", ["customer_id"])
    if not sqlite:  # SQLite cannot add a CHECK to a table; its rows come from the same code
        op.create_check_constraint(op.f("ck_sales_paid_in_full"), "sales",
                                   "paid_cash + paid_card + paid_wallet + paid_credit = total")
        op.create_check_constraint(op.f("ck_sales_credit_has_customer"), "sales",
                                   "paid_credit = 0 OR customer_id IS NOT NULL")
    op.add_column("stores", sa.Column("opening_float", MONEY, nullable=False,
                                      server_default="0"))


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_sales_customer", table_name="sales")
    if not sqlite:
        op.drop_constraint(op.f("ck_sales_credit_has_customer"), "sales", type_="check")
        op.drop_constraint(op.f("ck_sales_paid_in_full"), "sales", type_="check")
    for table, name in (("stores", "opening_float"), ("sales", "paid_credit"),
                        ("sales", "paid_wallet"), ("sales", "paid_card"), ("sales", "paid_cash"),
                        ("sales", "customer_id")):
        if sqlite:  # SQLite 3.35+ drops a plain column in place (see upgrade)
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
        else:
            op.drop_column(table, name)
    op.drop_table("supplier_entries")
    op.drop_table("customer_entries")
    op.drop_table("supplier_balances")
    op.drop_table("daily_closings")
    op.drop_table("customers")
