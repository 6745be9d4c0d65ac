"""report roll-ups: per day and month × store / product, per day, store stock totals; indexes

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


TOTALS = ["quantity", "delta", "amount", "movements"]


def _totals():
    return [
        sa.Column("quantity", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("delta", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("movements", sa.Integer(), nullable=False),
    ]


def upgrade():
    op.create_table(
        "daily_store_summary",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        *_totals(),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_daily_store_summary_store_id_stores")),
        sa.PrimaryKeyConstraint("day", "store_id", "type", name=op.f("pk_daily_store_summary")),
    )
    op.create_index("ix_daily_store_summary_store_day", "daily_store_summary", ["store_id", "day"])
    op.create_index("ix_daily_store_summary_type_day", "daily_store_summary",
                    ["type", "day", "store_id"], postgresql_include=TOTALS)
    op.create_table(
        "daily_product_summary",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        *_totals(),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"],
                                name=op.f("fk_daily_product_summary_product_id_products")),
        sa.PrimaryKeyConstraint("day", "product_id", "type",
                                name=op.f("pk_daily_product_summary")),
    )
    op.create_index("ix_daily_product_summary_type_day", "daily_product_summary",
                    ["type", "day", "product_id"], postgresql_include=TOTALS)
    op.create_table(
        "daily_type_summary",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        *_totals(),
        sa.PrimaryKeyConstraint("day", "type", name=op.f("pk_daily_type_summary")),
    )
    for name, key, parent in (("monthly_store_summary", "store_id", "stores"),
                              ("monthly_product_summary", "product_id", "products")):
        op.create_table(
            name,
            sa.Column("month", sa.Date(), nullable=False),
            sa.Column(key, sa.Integer(), nullable=False),
            sa.Column("type", sa.String(length=16), nullable=False),
            *_totals(),
            sa.ForeignKeyConstraint([key], [f"{parent}.id"],
                                    name=op.f(f"fk_{name}_{key}_{parent}")),
            sa.PrimaryKeyConstraint("month", key, "type", name=op.f(f"pk_{name}")),
        )
    op.create_table(
        "store_stock_summary",
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=80), nullable=False),
        sa.Column("levels", sa.Integer(), nullable=False),
        sa.Column("low", sa.Integer(), nullable=False),
        sa.Column("negative", sa.Integer(), nullable=False),
        sa.Column("without_cost", sa.Integer(), nullable=False),
        sa.Column("units", sa.Numeric(precision=14, scale=3), nullable=False),
        sa.Column("value_cost", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("value_sale", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"],
                                name=op.f("fk_store_stock_summary_store_id_stores")),
        sa.PrimaryKeyConstraint("store_id", "category", name=op.f("pk_store_stock_summary")),
    )
    op.create_table(
        "report_rollup_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("covered_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_rollup_state")),
    )
    moment = sa.text("coalesce(occurred_at, created_at)")
    only_removals = sa.text("type = 'removal'")
    op.create_index("ix_stock_movements_removal_time", "stock_movements", [moment],
                    postgresql_where=only_removals, sqlite_where=only_removals,
                    postgresql_include=["store_id", "reason", "quantity", "unit_cost",
                                        "occurred_at", "created_at"])
    op.create_index("ix_stock_movements_removal_store_time", "stock_movements",
                    [sa.text("store_id"), moment],
                    postgresql_where=only_removals, sqlite_where=only_removals,
                    postgresql_include=["reason", "quantity", "unit_cost", "occurred_at",
                                        "created_at"])
    op.create_index("ix_stock_levels_product_store", "stock_levels", ["product_id", "store_id"])


def downgrade():
    op.drop_index("ix_stock_levels_product_store", table_name="stock_levels")
    op.drop_index("ix_stock_movements_removal_store_time", table_name="stock_movements")
    op.drop_index("ix_stock_movements_removal_time", table_name="stock_movements")
    op.drop_table("report_rollup_state")
    op.drop_table("store_stock_summary")
    op.drop_table("monthly_product_summary")
    op.drop_table("monthly_store_summary")
    op.drop_table("daily_type_summary")
    op.drop_index("ix_daily_product_summary_type_day", table_name="daily_product_summary")
    op.drop_table("daily_product_summary")
    op.drop_index("ix_daily_store_summary_type_day", table_name="daily_store_summary")
    op.drop_index("ix_daily_store_summary_store_day", table_name="daily_store_summary")
    op.drop_table("daily_store_summary")
