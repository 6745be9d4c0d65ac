"""RQ entry points: thin functions that take ids and call services (the worker gives them an app
context), and the requests to run them.

Report roll-ups: in production every worker's sweep refreshes them once they are
REPORTS_ROLLUP_MAX_AGE old (or `flask reports refresh`). Without Redis (the embedded default) there
is no worker, so report views refresh inline when the last refresh is older than that.
"""
from flask import current_app

from webapp.infra import redisconn, replica
from webapp.jobs.queueing import enqueue
from webapp.services import audit, imports, report_rollups, sync, webhooks


def drain_audit():
    """Move every pending audit event from the outbox to the log."""
    audit.clear_drain_request()
    return audit.drain_all()


def run_sync(job_id):
    """Apply a sync batch's pending items, then have their audit events drained."""
    counts = sync.run(job_id)
    request_audit_drain()
    return counts


def run_import(job_id):
    """Apply a confirmed bulk import (progress is committed as it goes), then drain its audit."""
    counts = imports.run(job_id)
    request_audit_drain()
    return counts


def request_audit_drain():
    """Ask a worker to drain the outbox: at most one drain job waits at a time."""
    if current_app.config["REDIS_URL"]:
        flag = redisconn.prefixed(audit.DRAIN_FLAG)
        first = redisconn.run(lambda r: r.set(flag, 1, nx=True, ex=audit.DRAIN_FLAG_SECONDS))
        if not first:
            return False
    return enqueue("audit", drain_audit)


def send_webhook(delivery_id):
    """Hand a webhook delivery to this process's sender threads (webapp/jobs/senders.py)."""
    from webapp.jobs import senders

    senders.submit(delivery_id)


def queue_webhooks(sender, ids=(), **kwargs):
    """webhooks.deliveries_ready receiver: queue each new delivery (after the commit that made
    it). A lost enqueue is harmless: the sweep queues due deliveries."""
    for delivery_id in ids:
        enqueue("webhooks", send_webhook, delivery_id)


def queue_flagged_drain(sender, **kwargs):
    """audit.drain_flagged receiver: the flag is set (by the stock cache's one Redis call after a
    write), so no drain job was waiting: queue one."""
    enqueue("audit", drain_audit)


def init_app(app):
    webhooks.deliveries_ready.connect(queue_webhooks)
    audit.drain_flagged.connect(queue_flagged_drain)
    if webhooks.fan_out not in audit.DRAIN_HOOKS:
        audit.DRAIN_HOOKS.append(webhooks.fan_out)

    @app.after_request
    def drain_audit_after_commit(response):
        # Still noted when no stock write's cache invalidation took the request along
        # (stock_cache._on_stock_changed), or when Redis is not there.
        if audit.take_pending():
            request_audit_drain()
        return response


def refresh_report_rollups(full=False):
    """RQ entry point (runs inside the worker's app context); returns how many days it redid."""
    days = report_rollups.refresh(full=full)
    return None if days is None else len(days)


def refresh_inline_without_worker():
    """Embedded mode: no worker refreshes the roll-ups, so the request that finds them stale does."""
    if current_app.config["REDIS_URL"]:
        return
    with replica.primary():
        report_rollups.refresh_if_stale(current_app.config["REPORTS_ROLLUP_MAX_AGE"])
