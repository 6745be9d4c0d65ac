"""The worker's sweep: every WORKER_SWEEP_SECONDS each worker makes sure no durable work is
stranded (an enqueue lost while Redis was down, a worker that died mid-job)."""
import logging

from webapp.extensions import db
from webapp.jobs import tasks
from webapp.jobs.queueing import enqueue
from webapp.services import audit, idempotency, imports, partitions, report_rollups, sync

log = logging.getLogger("kiryana.worker")


def sweep_once(app):
    """Drain the outbox, restart stalled syncs and imports, refresh roll-ups, purge old
    idempotency keys, make ledger partitions ahead."""
    with app.app_context():
        try:
            moved = audit.drain_all()
            if moved:
                log.info("sweep moved %s audit events", moved)
            for job_id in sync.stalled_jobs(app.config["SYNC_STALL_SECONDS"]):
                log.warning("sync job %s stalled; queueing it again", job_id)
                enqueue("sync", tasks.run_sync, job_id)
            for job_id in imports.stalled_jobs(app.config["IMPORT_STALL_SECONDS"]):
                log.warning("import job %s stalled; queueing it again", job_id)
                enqueue("default", tasks.run_import, job_id)
            # Report roll-ups: every worker may try; the state row lock lets one refresh at a time.
            report_rollups.refresh_if_stale(app.config["REPORTS_ROLLUP_MAX_AGE"])
            purged = idempotency.purge(db.session.connection(),
                                       app.config["IDEMPOTENCY_RETENTION_DAYS"])
            db.session.commit()
            made = partitions.ensure_ahead(db.session.connection(),
                                           app.config["PARTITIONS_MONTHS_AHEAD"])
            db.session.commit()
            if made:
                log.info("sweep made ledger partitions %s", ", ".join(made))
            if purged:
                log.info("sweep purged %s old idempotency records", purged)
        except Exception:
            db.session.rollback()
            log.exception("sweep failed")
        finally:
            db.session.remove()
