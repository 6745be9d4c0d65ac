"""Prometheus counters and histograms, updated where things happen; multiprocess-safe when
PROMETHEUS_MULTIPROC_DIR is set (gunicorn, workers). The /metrics exposition, with the gauges
read at scrape time, is in blueprints/ops/exposition.py."""
from prometheus_client import Counter, Histogram

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
SWEEP_FAILURES = Counter("kiryana_sweep_failures_total",
                         "Steps of the worker's sweep that failed (each is retried next sweep).",
                         ["step"])


_children = {}


def child(metric, *labels):
    """metric.labels(*labels), kept: the child for a set of labels is always the same object
    (prometheus_client keeps it too, behind a lock and a check of every label's value, which
    cost every request a few microseconds; multiprocess values follow a fork by themselves)."""
    key = (metric, labels)
    found = _children.get(key)
    if found is None:
        found = _children[key] = metric.labels(*labels)
    return found


def count_movements(sender, data=None, **kwargs):
    """ledger.stock_changed receiver: count the movements a committed write recorded."""
    for movement in _movements(data):
        child(MOVEMENTS, movement["type"], movement.get("source") or "unknown").inc()


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
