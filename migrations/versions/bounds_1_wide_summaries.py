"""summaries and roll-ups wide enough for the largest sums the bounds allow (issue 23)

Revision ID: bounds_1
Revises: reports_1

One sale at Rs 9,999,999,999.99 (the most one price may be) filled daily_stock_summary's
`amount` (Numeric(12,2)): every later sale of that product in that store failed, and the
worker's roll-up refresh with it. The sums are now Numeric(22,2) (money), Numeric(22,3)
(quantities) and Numeric(30,2) (a store's stock value): see models/types.py for the arithmetic.

PostgreSQL widens a numeric's precision at the same scale without rewriting the table. SQLite
does not enforce a numeric's precision, but the declared type is rebuilt (batch mode) so that
the schema says what the models say.
"""
from alembic import op
import sqlalchemy as sa

revision = "bounds_1"
down_revision = "reports_1"
branch_labels = None
depends_on = None

SUMS = ("daily_stock_summary", "daily_store_summary", "daily_product_summary",
        "daily_type_summary", "monthly_store_summary", "monthly_product_summary")


def _columns(wide):
    money = sa.Numeric(22, 2) if wide else sa.Numeric(12, 2)
    quantity = sa.Numeric(22, 3) if wide else sa.Numeric(14, 3)
    value = sa.Numeric(30, 2) if wide else sa.Numeric(12, 2)
    for table in SUMS:
        yield table, {"quantity": quantity, "delta": quantity, "amount": money, "cost": money}
    yield "store_stock_summary", {"units": quantity, "value_cost": value, "value_sale": value}


def _alter(wide):
    old = dict(_columns(not wide))
    for table, columns in _columns(wide):
        with op.batch_alter_table(table) as batch:
            for name, type_ in columns.items():
                batch.alter_column(name, type_=type_, existing_type=old[table][name],
                                   existing_nullable=False)


def upgrade():
    _alter(wide=True)


def downgrade():
    # Narrowing fails if a sum no longer fits (PostgreSQL refuses; nothing is lost).
    _alter(wide=False)
