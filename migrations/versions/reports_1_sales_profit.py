"""daily summary and roll-ups: cost and without_cost (profit), and the sale side of voids/returns

Revision ID: reports_1
Revises: sec_1

The sales report shows profit (sales value − the cost recorded on each sale movement) and nets
out voids and customer returns. Both come from daily_stock_summary and its roll-ups, so they
gain `cost` and `without_cost`, filled here from the ledger; the voids and returns already
recorded become `sale_void` / `sale_return` rows (see models/stock.py). The roll-ups are
rebuilt by the next refresh (the state row is removed, which asks for a full rebuild).
"""
from alembic import op
import sqlalchemy as sa

revision = "reports_1"
down_revision = "draft_1"
branch_labels = None
depends_on = None

TABLES = ("daily_stock_summary", "daily_store_summary", "daily_product_summary",
          "daily_type_summary", "monthly_store_summary", "monthly_product_summary")
OLD_TOTALS = ["quantity", "delta", "amount", "movements"]
TOTALS = OLD_TOTALS + ["cost", "without_cost"]
COVERING = (("daily_store_summary", "store_id"), ("daily_product_summary", "product_id"))


def _day(column):
    if op.get_bind().dialect.name == "postgresql":
        return f"date(timezone('Asia/Karachi', {column}))"
    return f"date({column}, '+5 hours')"  # Pakistan has kept UTC+5 all year since 2009


def _covering(include):
    for table, key in COVERING:
        op.drop_index(f"ix_{table}_type_day", table_name=table)
        op.create_index(f"ix_{table}_type_day", table, ["type", "day", key],
                        postgresql_include=include)


def upgrade():
    for table in TABLES:
        op.add_column(table, sa.Column("cost", sa.Numeric(precision=12, scale=2),
                                       nullable=False, server_default="0"))
        op.add_column(table, sa.Column("without_cost", sa.Integer(), nullable=False,
                                       server_default="0"))
    _covering(TOTALS)
    moment = "coalesce(m.occurred_at, m.created_at)"
    op.execute(f"""
        UPDATE daily_stock_summary SET cost = c.cost, without_cost = c.without_cost
        FROM (SELECT {_day(moment)} AS day, m.store_id, m.product_id, m.type,
                     coalesce(sum(round(m.quantity * m.unit_cost, 2)), 0) AS cost,
                     sum(CASE WHEN m.unit_cost IS NULL THEN 1 ELSE 0 END) AS without_cost
              FROM stock_movements m
              GROUP BY {_day(moment)}, m.store_id, m.product_id, m.type) AS c
        WHERE daily_stock_summary.day = c.day AND daily_stock_summary.store_id = c.store_id
          AND daily_stock_summary.product_id = c.product_id
          AND daily_stock_summary.type = c.type""")
    op.execute(f"""
        INSERT INTO daily_stock_summary (day, store_id, product_id, type, quantity, delta, amount,
                                         movements, cost, without_cost)
        SELECT {_day("r.created_at")}, s.store_id, l.product_id, 'sale_' || r.kind,
               sum(r.quantity), 0, sum(r.amount), count(*),
               coalesce(sum(round(r.quantity * m.unit_cost, 2)), 0),
               sum(CASE WHEN m.unit_cost IS NULL THEN 1 ELSE 0 END)
        FROM sale_reversals r JOIN sales s ON s.id = r.sale_id
             JOIN sale_lines l ON l.id = r.sale_line_id
             LEFT JOIN stock_movements m ON m.id = r.original_movement_id
        GROUP BY {_day("r.created_at")}, s.store_id, l.product_id, r.kind""")
    op.execute("DELETE FROM report_rollup_state")


def downgrade():
    op.execute("DELETE FROM daily_stock_summary WHERE type IN ('sale_void', 'sale_return')")
    op.execute("DELETE FROM report_rollup_state")
    _covering(OLD_TOTALS)
    for table in TABLES:
        # Not batch mode: SQLite drops a column in place (a rebuild would lose indexes).
        op.execute(f"ALTER TABLE {table} DROP COLUMN without_cost")
        op.execute(f"ALTER TABLE {table} DROP COLUMN cost")
