"""/metrics: every process's counters merged, plus gauges read fresh at scrape time (queue depth,
failed jobs, audit outbox lag), so every process reports the same."""
import logging
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from webapp.infra.queue import QUEUE_NAMES, get_queue
from webapp.models.types import utcnow
from webapp.services import audit, integrity

log = logging.getLogger(__name__)


class LiveCollector:
    """Gauges read at scrape time: queue depth and failures, audit outbox lag, the ledger
    check's violations and age."""

    def collect(self):
        depth = GaugeMetricFamily("kiryana_queue_depth", "Jobs waiting in a queue.",
                                  labels=["queue"])
        failed = GaugeMetricFamily("kiryana_queue_failed_jobs", "Jobs in the failed registry.",
                                   labels=["queue"])
        for name in QUEUE_NAMES:
            queue = get_queue(name)
            try:
                depth.add_metric([name], len(queue))
                failed.add_metric([name], queue.failed_job_registry.count
                                  if hasattr(queue, "failed_job_registry") else 0)
            except Exception as exc:  # Redis down: leave the series out rather than fail
                log.warning("queue metrics unavailable: %s", exc.__class__.__name__)
        yield depth
        yield failed
        pending, age = audit.outbox_lag()
        yield GaugeMetricFamily("kiryana_audit_outbox_pending",
                                "Audit events not yet moved to the log.", value=pending)
        yield GaugeMetricFamily("kiryana_audit_outbox_lag_seconds",
                                "Age of the oldest audit event still in the outbox.", value=age)
        violations, _, checked_at = integrity.watch_summary_now()
        yield GaugeMetricFamily("kiryana_ledger_violations",
                                "Breaches of invariants 1, 8 and 9 the continuous ledger check knows of "
                                "(alert on > 0).", value=violations)
        yield GaugeMetricFamily("kiryana_ledger_check_age_seconds",
                                "Seconds since the last round of the continuous ledger check "
                                "(-1: never ran).",
                                value=(utcnow() - checked_at).total_seconds()
                                if checked_at else -1)


def exposition():
    """(body, content type) for /metrics, merging every process's samples when multiprocess."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        base = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    live = CollectorRegistry()
    live.register(LiveCollector())
    return generate_latest(base) + generate_latest(live), CONTENT_TYPE_LATEST
