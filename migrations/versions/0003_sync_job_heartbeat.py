"""Sync job heartbeat, so the worker sweep can restart a batch whose worker died.

Revision ID: 0003
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_sync_jobs_status", ["status"], unique=False)


def downgrade():
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_jobs_status")
        batch_op.drop_column("heartbeat_at")
