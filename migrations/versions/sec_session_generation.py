"""users.session_generation: bumped to end every session and remember cookie of a user

Revision ID: sec_1
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "sec_1"
down_revision = "perf_1"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("session_generation", sa.Integer(), nullable=False,
                                     server_default="1"))


def downgrade():
    # Not batch mode: rebuilding the table on SQLite would lose the lower(username) index.
    op.execute("ALTER TABLE users DROP COLUMN session_generation")
