"""The benchmark cannot pass by accident: a missed target fails `make bench`'s entry point, and
a failed request is an error, never throughput."""
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import load, run, scenarios
from tests import services

ROOT = Path(__file__).resolve().parent.parent


class _HalfFailing(BaseHTTPRequestHandler):
    """Answers 500 to every other request, at once (a server refusing fast)."""
    protocol_version = "HTTP/1.1"
    count = 0
    lock = threading.Lock()

    def do_GET(self):  # noqa: N802  (http.server's name)
        with self.lock:
            _HalfFailing.count += 1
            status = 500 if _HalfFailing.count % 2 else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_failed_requests_are_errors_and_not_throughput():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HalfFailing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        latencies, errors, statuses = load.http(base, "t", scenarios.trivial, 4,
                                                0.6, 0.1)
    finally:
        server.shutdown()
    assert statuses.get(500) and statuses.get(200)
    assert errors == statuses[500]
    assert len(latencies) == statuses[200]  # only the answered requests have a latency
    summary = run.summarise(latencies, errors, statuses, seconds=0.6)
    assert summary["requests"] == statuses[200]
    reasons = run.failures({"x": summary}, [{"measured": "x", "against": "y", "met": True}],
                           {"balance_after_violations": 0, "level_violations": 0})
    assert reasons == [f"x: {errors} failed requests {summary['statuses']}"]


def test_a_run_with_no_judged_target_fails():
    ok = {"balance_after_violations": 0, "level_violations": 0}
    assert run.failures({}, [{"measured": "a", "against": "b", "met": None}], ok) == [
        "no target was judged"]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_make_bench_fails_when_a_target_cannot_be_met(tmp_path):
    """A tiny real run (gunicorn, PostgreSQL, Redis) of the cached read against its ceiling,
    with every target multiplied out of reach: the exit status is 1, and the only reason is
    the missed target (no error, invariant 1 holds)."""
    if not services.postgres_available():
        services.missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    if not services.redis_available():
        services.missing("Redis is not reachable on 127.0.0.1:6379")
    results = tmp_path / "results.json"
    env = {**os.environ, "BENCH_STORES": "20", "BENCH_PRODUCTS": "50",
           "BENCH_ONLY": "level_read,trivial", "BENCH_DURATION": "1", "BENCH_WARMUP": "0.5",
           "BENCH_ROUNDS": "1", "BENCH_CONCURRENCY": "4", "BENCH_WORKERS": "1",
           "BENCH_THREADS": "2", "BENCH_OPEN_LOOP": "0", "BENCH_TARGET_FACTOR": "1000",
           "BENCH_RESULTS": str(results), "REDIS_URL": services.REDIS_URL}
    done = subprocess.run([sys.executable, "-m", "bench.run"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(results.read_text())
    judged = [t for t in report["targets"] if t["met"] is not None]
    assert [(t["measured"], t["against"], t["met"]) for t in judged] == [
        ("level_read", "trivial", False)]
    assert judged[0]["ratio"] > 0 and judged[0]["minimum"] == 600
    assert report["failures"] == ["target missed: level_read / trivial"]
    assert report["results"]["level_read"]["requests"] > 0
    assert "FAILED: target missed: level_read / trivial" in done.stdout
