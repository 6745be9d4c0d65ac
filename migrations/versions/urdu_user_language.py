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
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
