"""`python -m bench.run`: seed, load gunicorn and raw SQL, compare, check invariant 1.

Environment: BENCH_DURATION (s per scenario and round, 8), BENCH_WARMUP (2), BENCH_ROUNDS (3:
every scenario is measured that many times, each ratio is the median of its rounds'; within
a round a scenario and its ceiling run as halves in the order A B B A), BENCH_CONCURRENCY (32),
BENCH_WORKERS (4), BENCH_WORKER_CLASS (gthread), BENCH_THREADS (8), REDIS_URL,
BENCH_ONLY (comma-separated scenario names, for quick experiments; targets need them all),
BENCH_PROFILE=1 (py-spy profiles of the workers per HTTP scenario into bench/profile-*.txt),
BENCH_OPEN_LOOP=0 to skip the open-loop phase, BENCH_TARGET_FACTOR (1: every minimum ratio is
multiplied and every p99 limit divided by it; tests/test_bench_gate.py gives an impossible one),
BENCH_RESULTS (the file the report is merged into, bench/results.json).

It cannot pass by accident: the exit status is 1 when a target it judged was missed, when any
request of any scenario failed (errors are never counted as throughput: bench/load.py), when the
warm-up mark a measured window starts from never fired, or when invariant 1 does not hold.
With BENCH_ONLY, a target whose scenarios were left out is reported as not judged.

Besides requests/s, each HTTP scenario records the gunicorn workers' CPU time per request
(utime + stime from /proc over the measured window ÷ requests), to set beside the in-process
figure of `python -m bench.profile`. The open-loop phase then sends sales on a fixed schedule
at half the measured sale_random rate, latency counted from when each request was due.
"""
import collections
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from bench import cpu, database, load, scenarios, spy

HERE = Path(__file__).resolve().parent
DURATION = float(os.environ.get("BENCH_DURATION", "8"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "2"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "gthread")
THREADS = int(os.environ.get("BENCH_THREADS", "8"))
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
OPEN_LOOP = os.environ.get("BENCH_OPEN_LOOP", "1") == "1"
TARGET_FACTOR = float(os.environ.get("BENCH_TARGET_FACTOR", "1"))
OPEN_LOOP_P99_MS = 50.0 / TARGET_FACTOR
RESULTS = Path(os.environ.get("BENCH_RESULTS", HERE / "results.json"))


def save(**sections):
    """Merge these top-level sections into RESULTS: each benchmark keeps its own."""
    kept = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps({**kept, **sections}, indent=2, ensure_ascii=False) + "\n")

# In pairs, a scenario then its ceiling: each ratio's two figures are taken together, A B B A
# (_slices). On a shared machine the pace drifts by tens of per cent over minutes, and within
# one (docs/performance.md): a ratio of figures taken apart measured the drift as much as the
# app. raw_* is SQL, the rest HTTP.
SCENARIOS = [
    ("sale_random", scenarios.sale_random),
    ("raw_sale_random", scenarios.raw_sale_random),
    ("sale_hot", scenarios.sale_hot),
    ("raw_sale_hot", scenarios.raw_sale_hot),
    ("basket5", scenarios.basket5),
    ("raw_basket5", scenarios.raw_basket5),
    ("level_read", scenarios.level_read),
    ("trivial", scenarios.trivial),
    ("level_read_cold", scenarios.level_read_cold),
    ("raw_level_read", scenarios.raw_level_read),
    ("stock_page", scenarios.stock_page),
    ("raw_stock_page", scenarios.raw_stock_page),
]
# (measured, ceiling, minimum ratio, p99 limit in ms or None)
TARGETS = [
    ("sale_random", "raw_sale_random", 0.35, None),  # latency: the open-loop phase
    ("sale_hot", "raw_sale_hot", 0.5, None),
    ("basket5", "raw_basket5", 0.35, None),  # POST /sales, 5 lines, against its statements
    ("level_read", "trivial", 0.6, None),
]
INFO_RATIOS = [("level_read", "raw_level_read"), ("level_read_cold", "raw_level_read"),
               ("stock_page", "raw_stock_page"), ("stock_page", "trivial")]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(database_url, key_prefix):
    """gunicorn serving bench.wsgi:app on a free port; yields its base URL."""
    port = _free_port()
    env = {**os.environ, "BENCH_DATABASE_URL": database.sqlalchemy_url(database_url),
           "REDIS_URL": REDIS_URL, "BENCH_KEY_PREFIX": key_prefix, "APP_ENV": "production"}
    command = [sys.executable, "-m", "gunicorn", "--workers", str(WORKERS),
               "--worker-class", WORKER_CLASS, "--threads", str(THREADS),
               "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning",
               "--preload", "bench.wsgi:app"]
    log = open(HERE / "gunicorn.log", "w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(port, server)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a worker stuck past its graceful timeout
            server.kill()
            server.wait(timeout=10)
        log.close()


def _wait_until_up(port, server, seconds=120):
    import urllib.request

    deadline = time.time() + seconds
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited; see bench/gunicorn.log")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz in time")


def _measured(run_load, pid=None, warmup=WARMUP):
    """run_load() plus the CPU each part of the machine spent over its measured window (after
    `warmup` seconds; bench/cpu.py): (latencies, errors, statuses, spent)."""
    marks = {}
    timer = threading.Timer(warmup, lambda: marks.setdefault("start", cpu.snapshot(pid)))
    timer.start()
    measured = run_load()
    timer.cancel()
    end = cpu.snapshot(pid)
    if "start" not in marks:  # a window measured from nothing would pass by accident
        raise RuntimeError(f"the warm-up mark ({warmup} s) never fired: the load ended first")
    return (*measured, cpu.spent(marks["start"], end))


def _slices():
    """One round's measurements in order, (name, work, seconds): a scenario and its ceiling
    (adjacent in SCENARIOS) as halves in the order A B B A, so a drift in the machine's pace
    over the pair's half-minute falls on both alike (a steady one cancels out) instead of on
    whichever ran second; a scenario run without its partner (BENCH_ONLY), whole."""
    chosen = dict(_chosen(SCENARIOS))
    order = []
    for (a, _), (b, _) in zip(SCENARIOS[::2], SCENARIOS[1::2]):
        if a in chosen and b in chosen:
            half = DURATION / 2
            order += [(a, chosen[a], half), (b, chosen[b], half), (b, chosen[b], half),
                      (a, chosen[a], half)]
        else:
            order += [(name, chosen[name], DURATION) for name in (a, b) if name in chosen]
    return order


def _joined(slices):
    """A round's slices of one scenario [(latencies, errors, statuses, CPU spent)] as one."""
    statuses = collections.Counter()
    for s in slices:
        statuses.update(s[2])
    spent = {part: None if slices[0][3][part] is None else sum(s[3][part] for s in slices)
             for part in slices[0][3]}
    return ([ms for s in slices for ms in s[0]], sum(s[1] for s in slices), dict(statuses),
            spent)


def _merged(rounds):
    """One scenario's rounds [(latencies, errors, statuses, CPU spent)] as one
    summary, with each round's rate beside it."""
    latencies = [ms for r in rounds for ms in r[0]]
    statuses = collections.Counter()
    for r in rounds:
        statuses.update(r[2])
    result = summarise(latencies, sum(r[1] for r in rounds), statuses,
                       seconds=DURATION * len(rounds))
    result["rounds_rps"] = [round(len(r[0]) / DURATION, 1) for r in rounds]
    if latencies:
        budget = cpu.per_request([r[3] for r in rounds], len(latencies))
        if "app" in budget:
            result["cpu_ms_per_request"] = budget["app"]
        result["cpu_budget_ms_per_request"] = budget
    return result


def summarise(latencies, errors, statuses, seconds=None):
    ordered = sorted(latencies)

    def percentile(p):
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2) if ordered else None

    return {"requests": len(ordered), "rps": round(len(ordered) / (seconds or DURATION), 1),
            "p50_ms": percentile(0.50), "p99_ms": percentile(0.99),
            "p999_ms": percentile(0.999),
            "mean_ms": round(statistics.fmean(ordered), 2) if ordered else None,
            "errors": errors, "statuses": {str(k): v for k, v in statuses.items()}}


def _chosen(named):
    return [(name, thing) for name, thing in named if not ONLY or name in ONLY]


def _ratio(results, measured, ceiling):
    """The median over rounds of measured ÷ ceiling, each round's pair measured A B B A."""
    if measured not in results or ceiling not in results:
        return None
    pairs = zip(results[measured]["rounds_rps"], results[ceiling]["rounds_rps"])
    ratios = [m / c for m, c in pairs if c]
    return round(statistics.median(ratios), 3) if ratios else None


def _machine():
    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def _clear_redis(prefix):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def main():
    started = time.time()
    url = database.create()
    prefix = f"kiryana-bench-{uuid.uuid4().hex[:8]}"
    try:
        token = database.migrate_and_make_token(url)
        seeded_at = time.time()
        seeded_max = database.seed(url)
        print(f"seeded {database.STORES} stores x {database.PRODUCTS} products "
              f"in {time.time() - seeded_at:.1f} s", flush=True)
        results = {}
        with gunicorn(url, prefix) as (base_url, pid):
            rounds = collections.defaultdict(list)
            for round_ in range(ROUNDS):
                parts = collections.defaultdict(list)
                for name, work, seconds in _slices():
                    if name.startswith("raw_"):
                        parts[name].append(_measured(lambda: load.raw_sql(
                            url, work, CONCURRENCY, seconds, WARMUP)))
                    else:
                        # The last round: the first one also samples each worker's first
                        # requests (imports, SQL compiled once), which steady load never pays.
                        profiled = PROFILE and round_ == ROUNDS - 1 and not parts[name]
                        if profiled:
                            recorder = spy.start(pid, name, WARMUP + seconds)
                        parts[name].append(_measured(lambda: load.http(
                            base_url, token, work, CONCURRENCY, seconds, WARMUP), pid))
                        if profiled:
                            spy.finish(*recorder, name)
                for name, measured in parts.items():
                    rounds[name].append(_joined(measured))
                    _print_row(f"{name} ({round_ + 1}/{ROUNDS})", _merged(rounds[name][-1:]))
            for name, measured in rounds.items():
                results[name] = _merged(measured)
                _print_row(name, results[name])
            if OPEN_LOOP and "sale_random" in results:
                rate = results["sale_random"]["rps"] / 2
                results["sale_open_loop"] = summarise(*load.open_loop(
                    base_url, token, scenarios.sale_random, rate, DURATION, WARMUP))
                results["sale_open_loop"]["rate"] = rate
                _print_row("sale_open_loop", results["sale_open_loop"])
        invariant = database.check_invariant(url, seeded_max)
    finally:
        database.drop(url)
        _clear_redis(prefix)
    report = _report(results, invariant, time.time() - started)
    save(**report)
    _print_summary(report)
    return 1 if report["failures"] else 0


def failures(results, targets, invariant):
    """Why this run must not pass: every missed target, every scenario with an error, a
    broken invariant. Empty when it passed."""
    reasons = [f"target missed: {t['measured']} / {t['against']}" for t in targets
               if t["met"] is False]
    reasons += [f"{name}: {r['errors']} failed requests {r['statuses']}"
                for name, r in results.items() if r["errors"]]
    if invariant["balance_after_violations"] or invariant["level_violations"]:
        reasons.append(f"invariant 1 violated: {invariant}")
    if not any(t["met"] is not None for t in targets):
        reasons.append("no target was judged")
    return reasons


def _report(results, invariant, elapsed):
    targets = []
    for measured, ceiling, minimum, p99_limit in TARGETS:
        minimum *= TARGET_FACTOR
        p99_limit = p99_limit and p99_limit / TARGET_FACTOR
        ratio = _ratio(results, measured, ceiling)
        p99 = results.get(measured, {}).get("p99_ms")
        left_out = bool(ONLY) and not {measured, ceiling} <= ONLY
        met = None if left_out else (
            ratio is not None and ratio >= minimum and (p99_limit is None or p99 < p99_limit))
        targets.append({"measured": measured, "against": ceiling, "ratio": ratio,
                        "minimum": minimum, "p99_ms": p99, "p99_limit_ms": p99_limit,
                        "met": met})
    if "sale_open_loop" in results:
        p99 = results["sale_open_loop"]["p99_ms"]
        targets.append({"measured": "sale_open_loop", "against": "half the sale_random rate",
                        "rate": results["sale_open_loop"]["rate"], "p99_ms": p99,
                        "p999_ms": results["sale_open_loop"]["p999_ms"],
                        "p99_limit_ms": OPEN_LOOP_P99_MS,
                        "met": p99 is not None and p99 < OPEN_LOOP_P99_MS})
    return {
        "machine": _machine(),
        "settings": {"duration_s": DURATION, "warmup_s": WARMUP, "rounds": ROUNDS,
                     "concurrency": CONCURRENCY,
                     "gunicorn": f"{WORKERS} x {WORKER_CLASS}"
                                 + (f" x {THREADS} threads" if THREADS > 1 else ""),
                     "load_processes": load.PROCESSES},
        "results": results,
        "targets": targets,
        "other_ratios": {f"{m}/{c}": _ratio(results, m, c) for m, c in INFO_RATIOS},
        "invariant_1": invariant,
        "failures": failures(results, targets, invariant),
        "elapsed_s": round(elapsed, 1),
    }


def _print_row(name, r):
    budget = r.get("cpu_budget_ms_per_request")
    spent = ("  cpu ms/req " + " ".join(f"{part} {ms}" for part, ms in budget.items())) \
        if budget else ""
    print(f"{name:<22} {r['rps']:>8.1f} req/s  p50 {r['p50_ms']!s:>7} ms  p99 {r['p99_ms']!s:>7}"
          f" ms  p99.9 {r['p999_ms']!s:>7} ms  errors {r['errors']} {r['statuses']}{spent}",
          flush=True)


def _print_summary(report):
    print()
    for t in report["targets"]:
        if t["measured"] == "sale_open_loop":
            print(f"open-loop sales at {t['rate']:.0f}/s: p99 {t['p99_ms']} ms (target < "
                  f"{t['p99_limit_ms']}), p99.9 {t['p999_ms']} ms "
                  f"{'MET' if t['met'] else 'MISSED'}")
            continue
        limit = f", p99 {t['p99_ms']} ms < {t['p99_limit_ms']}" if t["p99_limit_ms"] else ""
        verdict = {True: "MET", False: "MISSED", None: "not judged (BENCH_ONLY)"}[t["met"]]
        print(f"{t['measured']} / {t['against']}: {t['ratio']} (target >= {t['minimum']}"
              f"{limit}) {verdict}")
    for name, ratio in report["other_ratios"].items():
        print(f"{name}: {ratio}")
    inv = report["invariant_1"]
    print(f"invariant 1 over {inv['rows_touched']} touched rows, {inv['movements_written']} "
          f"movements: {inv['balance_after_violations']} balance_after and "
          f"{inv['level_violations']} level violations")
    for reason in report["failures"]:
        print(f"FAILED: {reason}")
    print(f"total {report['elapsed_s']} s; written to {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
