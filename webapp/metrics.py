"""Prometheus metrics; multiprocess-safe when PROMETHEUS_MULTIPROC_DIR is set (gunicorn, workers).

Counters and histograms are updated where things happen; queue depth, failed jobs and the audit
outbox lag are read fresh at scrape time by LiveCollector, so every process reports the same.
"""
import logging
import os

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter,
                               Histogram, generate_latest)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

REQUEST_SECONDS = Histogram(
    "kiryana_http_request_duration_seconds", "Time to answer a request, by endpoint.",
    ["method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
MOVEMENTS = Counter("kiryana_stock_movements_total", "Stock movements recorded.",
                    ["type", "source"])
CACHE = Counter("kiryana_stock_cache_requests_total",
                "Stock cache lookups: hit, miss, or bypass (Redis unavailable).",
                ["kind", "result"])
JOBS = Counter("kiryana_jobs_total", "Background jobs run by workers.", ["queue", "outcome"])


class LiveCollector:
    """Gauges read at scrape time: queue depth and failures, audit outbox lag."""

    def collect(self):
        from webapp.extensions import QUEUE_NAMES, get_queue
        from webapp.services import audit

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


def count_movements(sender, data=None, **kwargs):
    """ledger.stock_changed receiver: count the movements a committed write recorded."""
    for movement in _movements(data):
        MOVEMENTS.labels(movement["type"], movement.get("source") or "unknown").inc()


def _movements(data):
    if isinstance(data, dict):
        if "delta" in data and "type" in data and "balance_after" in data:
            yield data
            return
        for value in data.values():
            yield from _movements(value)
    elif isinstance(data, list):
        for value in data:
            yield from _movements(value)


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
