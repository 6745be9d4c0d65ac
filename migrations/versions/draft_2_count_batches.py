"""count_drafts.batches: a tracked product's shelf count kept date by date while counting

Revision ID: draft_2
Revises: owing_1
"""
import sqlalchemy as sa
from alembic import op

revision = "draft_2"
down_revision = "owing_1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("count_drafts") as batch:
        batch.add_column(sa.Column("batches", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("count_drafts") as batch:
        batch.drop_column("batches")
