"""Sync job heartbeat; audit outbox ids never reused on SQLite.

The worker sweep restarts a batch whose heartbeat went stale. On SQLite an outbox id freed by a
drain would otherwise be handed out again and the new event dropped as a duplicate.

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
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("audit_outbox", recreate="always",
                                  table_kwargs={"sqlite_autoincrement": True}):
            pass
        # Start after every id ever handed out, drained ones included.
        op.execute("DELETE FROM sqlite_sequence WHERE name = 'audit_outbox'")
        op.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'audit_outbox', max(coalesce("
                   "(SELECT max(id) FROM audit_outbox), 0), coalesce((SELECT max(outbox_id) "
                   "FROM audit_log), 0))")


def downgrade():
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table("audit_outbox", recreate="always",
                                  table_kwargs={"sqlite_autoincrement": False}):
            pass
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_jobs_status")
        batch_op.drop_column("heartbeat_at")
