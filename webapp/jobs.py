"""RQ entry points: thin wrappers that take ids and call services (the worker gives them an app context)."""
from webapp import background
from webapp.services import audit, sync


def drain_audit():
    """Move every pending audit event from the outbox to the log."""
    audit.clear_drain_request()
    return audit.drain_all()


def run_sync(job_id):
    """Apply a sync batch's pending items, then have their audit events drained."""
    counts = sync.run(job_id)
    background.request_audit_drain()
    return counts
