"""The worker's sweep: every WORKER_SWEEP_SECONDS each worker makes sure no durable work is
stranded (an enqueue lost while Redis was down, a worker that died mid-job).

Each step runs in its own transaction and its own `try`: a step that fails is rolled back,
logged and counted (`kiryana_sweep_failures_total{step}`), and the steps after it still run.
Once the roll-up refresh failing on every sweep also stopped the idempotency purge and the
ledger's partitions for the months ahead, which sat after it in one `try` (issue 23).
"""
import logging

from webapp.extensions import db
from webapp.infra.metrics import SWEEP_FAILURES
from webapp.jobs import tasks
from webapp.jobs.queueing import enqueue
from webapp.models.types import utcnow
from webapp.services import (
    audit,
    expiry,
    idempotency,
    imports,
    integrity,
    partitions,
    report_rollups,
    sync,
    webhooks,
)

log = logging.getLogger("kiryana.worker")


def _raise_expiry_events(app):
    """The day's stock.expiring events, once per Pakistan day (services/expiry.py): before the
    outbox step, so the same sweep drains them into webhook deliveries."""
    told = expiry.raise_daily(db.session.connection())
    db.session.commit()
    if told:
        log.info("sweep raised stock.expiring for %s store(s)", told)


def _drain_outbox(app):
    moved = audit.drain_all()
    if moved:
        log.info("sweep moved %s audit events", moved)


def _requeue_syncs(app):
    for job_id in sync.stalled_jobs(app.config["SYNC_STALL_SECONDS"]):
        log.warning("sync job %s stalled; queueing it again", job_id)
        enqueue("sync", tasks.run_sync, job_id)


def _requeue_imports(app):
    for job_id in imports.stalled_jobs(app.config["IMPORT_STALL_SECONDS"]):
        log.warning("import job %s stalled; queueing it again", job_id)
        enqueue("default", tasks.run_import, job_id)


def _refresh_rollups(app):
    # Every worker may try; the state row lock lets one refresh at a time.
    report_rollups.refresh_if_stale(app.config["REPORTS_ROLLUP_MAX_AGE"])


def _purge_idempotency(app):
    purged = idempotency.purge(db.session.connection(), app.config["IDEMPOTENCY_RETENTION_DAYS"])
    db.session.commit()
    if purged:
        log.info("sweep purged %s old idempotency records", purged)


def _make_partitions(app):
    made = partitions.ensure_ahead(db.session.connection(), app.config["PARTITIONS_MONTHS_AHEAD"])
    db.session.commit()
    if made:
        log.info("sweep made ledger partitions %s", ", ".join(made))


def _check_ledger(app):
    """A round of the continuous check of invariants 1, 8 and 9 when one is due
    (LEDGER_CHECK_SECONDS; one worker at a time): the movements and customer entries since the
    last round and a few stores' levels, balances and batches."""
    config = app.config
    summary = integrity.watch_once(
        db.session.connection(), utcnow(),
        settle_seconds=config["LEDGER_CHECK_SETTLE_SECONDS"],
        stores_per_round=config["LEDGER_CHECK_STORES_PER_ROUND"],
        max_movements=config["LEDGER_CHECK_MAX_MOVEMENTS"],
        every_seconds=config["LEDGER_CHECK_SECONDS"])
    db.session.commit()
    if summary:
        log.debug("ledger check: %s", summary)


def _queue_webhooks(app):
    """Queue the webhook deliveries that are due and that no sender holds: a retry whose time
    came, an enqueue lost while Redis was down, a sender killed mid-send."""
    for delivery_id in webhooks.due():
        enqueue("webhooks", tasks.send_webhook, delivery_id)


# (label of kiryana_sweep_failures_total, step), in the order they run.
STEPS = (("expiry", _raise_expiry_events), ("outbox", _drain_outbox), ("sync", _requeue_syncs), ("imports", _requeue_imports),
         ("rollups", _refresh_rollups), ("idempotency", _purge_idempotency),
         ("partitions", _make_partitions), ("ledger_check", _check_ledger),
         ("webhooks", _queue_webhooks))


def sweep_once(app):
    """Raise the day's expiry events, drain the outbox, restart stalled syncs and imports,
    refresh roll-ups, purge old idempotency keys, make ledger partitions ahead, check the
    ledger, queue due webhooks: each step on its own → the names of the steps that failed."""
    failed = []
    with app.app_context():
        for name, step in STEPS:
            try:
                step(app)
                db.session.commit()
            except Exception:
                db.session.rollback()
                SWEEP_FAILURES.labels(name).inc()
                log.exception("sweep step %s failed", name)
                failed.append(name)
            finally:
                db.session.remove()
    return failed
