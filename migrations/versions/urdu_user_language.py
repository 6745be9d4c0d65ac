"""users.language: the interface language a user picked (NULL = as the browser says)

Revision ID: urdu_1
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "urdu_1"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade():
    # SQLite (3.35+) drops a column in place; a batch copy of the table would try to rebuild
    # the expression index on lower(username), which it cannot reflect.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE users DROP COLUMN language")
    else:
        op.drop_column("users", "language")
