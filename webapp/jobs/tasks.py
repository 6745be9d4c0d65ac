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
    """Move every pending audit event from the outbox to the log (the drainer's work, and an RQ
    job's: without Redis, and any queued before drainers)."""
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


# KEYS: the flag, the wake-up list; ARGV: the flag's TTL. Sets the flag when it is not set and
# then wakes a drainer; 1 when it did.
_REQUEST = """
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) then
  redis.call('RPUSH', KEYS[2], 1)
  redis.call('EXPIRE', KEYS[2], ARGV[1])
  return 1
end
return 0
"""
# KEYS: the wake-up list; ARGV: its TTL (nobody listening, one wake-up a flag's life at most).
_WAKE = """
redis.call('RPUSH', KEYS[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[1])
"""


def _script(r, name, source):
    scripts = r.__dict__.setdefault("_kiryana_scripts", {})
    if name not in scripts:
        scripts[name] = redisconn.Script(r, source)
    return scripts[name]


def request_audit_drain():
    """Ask a worker's drainer to drain the outbox: at most one request waits at a time. Without
    Redis the drain runs at once (the inline queue); when Redis fails the sweep drains."""
    if not current_app.config["REDIS_URL"]:
        return enqueue("audit", drain_audit)
    keys = [redisconn.prefixed(audit.DRAIN_FLAG), redisconn.prefixed(audit.DRAIN_WAKE)]
    return bool(redisconn.run(lambda r: _script(r, "request", _REQUEST)(
        keys=keys, args=[audit.DRAIN_FLAG_SECONDS])))


def send_webhook(delivery_id):
    """Hand a webhook delivery to this process's sender threads (webapp/jobs/senders.py)."""
    from webapp.jobs import senders

    senders.submit(delivery_id)


def queue_webhooks(sender, ids=(), **kwargs):
    """webhooks.deliveries_ready receiver: queue each new delivery (after the commit that made
    it). A lost enqueue is harmless: the sweep queues due deliveries."""
    for delivery_id in ids:
        enqueue("webhooks", send_webhook, delivery_id)


def wake_drainer(sender, **kwargs):
    """audit.drain_flagged receiver: the flag is set (by the stock cache's one Redis call after a
    write), so no drain was asked for: wake a drainer. Lost (Redis failing), the sweep drains."""
    wake = redisconn.prefixed(audit.DRAIN_WAKE)
    redisconn.run(lambda r: _script(r, "wake", _WAKE)(keys=[wake],
                                                      args=[audit.DRAIN_FLAG_SECONDS]))


def init_app(app):
    webhooks.deliveries_ready.connect(queue_webhooks)
    audit.drain_flagged.connect(wake_drainer)
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
