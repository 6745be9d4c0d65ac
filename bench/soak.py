"""`python -m bench.soak` (`make soak`): the whole system under a steady mixed load for a while.

gunicorn (the bench app) + one RQ worker process + PostgreSQL + Redis, 2,000 stores ×
SOAK_PRODUCTS products, requests sent open-loop at SOAK_RATE/s for SOAK_SECONDS (default 600):
single sales 50 % and 5-line baskets 20 %, level and stock-page reads 25 %, counts / transfers /
sync batches 5 %. At the end: 0 errors, invariant 1 over every row, exactly one audit event for
every movement written (a basket's lines: the sale's event, which lists their movement ids),
every RQ queue the app has (infra/queue.QUEUE_NAMES) drained with no job failed, the audit
outbox drained, and web and worker memory (RSS) grown by less than 10 % between the end of
warm-up and the end. Merges its figures into bench/results.json (BENCH_RESULTS) under "soak";
exits 1 if a check fails, and `failures` says which: a warm-up memory mark that never fired
fails too (growth measured from the end would be 0 and pass by accident).
"""
import json
import os
import sys
import time
import uuid
from pathlib import Path

os.environ.setdefault("BENCH_STORES", "2000")
os.environ.setdefault("BENCH_PRODUCTS", os.environ.get("SOAK_PRODUCTS", "25"))

from bench import cpu, database, load, run, scenarios  # noqa: E402  (sizes above read at import)

HERE = Path(__file__).resolve().parent
SECONDS = float(os.environ.get("SOAK_SECONDS", "600"))
RATE = float(os.environ.get("SOAK_RATE", "60"))
WARMUP = float(os.environ.get("SOAK_WARMUP", str(min(120.0, SECONDS / 4))))
MEMORY_GROWTH_LIMIT = 0.10


def mixed(rng):
    """One request of the soak's mix."""
    store, product = rng.randint(1, database.STORES), rng.randint(1, database.PRODUCTS)
    roll = rng.random()
    if roll < 0.50:
        return "POST", "/api/v1/movements", {"store_id": store, "product_id": product,
                                             "type": "sale", "quantity": "1"}
    if roll < 0.70:
        return scenarios.basket5(rng)
    if roll < 0.85:
        return "GET", f"/api/v1/stores/{store}/stock/{product}", None
    if roll < 0.95:
        return "GET", f"/api/v1/stores/{store}/stock?per_page=25", None
    if roll < 0.967:
        return "POST", f"/api/v1/stores/{store}/counts", {
            "counts": [{"product_id": product, "quantity": str(900_000 + rng.randint(0, 1000))}]}
    if roll < 0.984:
        return "POST", "/api/v1/transfers", {
            "from_store_id": store, "to_store_id": store % database.STORES + 1,
            "product_id": product, "quantity": "1"}
    return "POST", "/api/v1/sync", {"movements": [
        {"id": uuid.uuid4().hex, "store_id": store, "product_id": rng.randint(1, database.PRODUCTS),
         "type": "sale", "quantity": "1"} for _ in range(5)]}


def _rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _gunicorn_workers(master):
    return [int(c) for task in Path(f"/proc/{master}/task").iterdir()
            for c in (task / "children").read_text().split()]


def _memory(master, worker_pid):
    return {"web_kb": sum(_rss_kb(p) for p in _gunicorn_workers(master)),
            "worker_kb": _rss_kb(worker_pid)}


def _start_worker(url, prefix):
    import subprocess

    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "soak-only-secret",
           "DATABASE_URL": url, "REDIS_URL": run.REDIS_URL, "LOG_LEVEL": "WARNING"}
    log = open(HERE / "soak-worker.log", "w")
    return subprocess.Popen([sys.executable, "worker.py"], cwd=HERE.parent, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _rq_state(prefix):
    """Per queue of the app: jobs waiting, running and failed."""
    import redis
    from rq import Queue
    from rq.registry import FailedJobRegistry, StartedJobRegistry

    from webapp.infra.queue import QUEUE_NAMES

    connection = redis.Redis.from_url(run.REDIS_URL)
    state = {}
    for name in QUEUE_NAMES:
        queue = Queue(prefix + name, connection=connection)
        state[name] = {"queued": queue.count,
                       "running": StartedJobRegistry(queue=queue).count,
                       "failed": FailedJobRegistry(queue=queue).count}
    return state


def _drained(url, prefix):
    """What is still to do: 0 everywhere once the system has caught up."""
    import psycopg2

    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM audit_outbox), (SELECT count(*) FROM sync_jobs"
                    " WHERE status IN ('queued', 'running'))")
        outbox, jobs = cur.fetchone()
    conn.close()
    pending = {f"rq_{name}_{what}": n for name, counts in _rq_state(prefix).items()
               for what, n in counts.items() if what != "failed"}
    return {**pending, "audit_outbox": outbox, "sync_jobs_pending": jobs}


AUDIT_COVERAGE = """
WITH m AS (SELECT id, type, transfer_id, reason FROM stock_movements WHERE id > %(after)s),
single AS (
    SELECT m.id, (SELECT count(*) FROM audit_log a WHERE a.entity_type = 'stock_movement'
                  AND a.entity_id = m.id::text) AS events
    FROM m WHERE m.transfer_id IS NULL AND m.reason IS DISTINCT FROM 'count'
      AND NOT EXISTS (SELECT 1 FROM sale_lines l WHERE l.movement_id = m.id)),
-- A basket's lines are listed, with their movement ids, in the sale's own event; a count's
-- adjustments in the count's. Both are expanded once and joined (asked per movement with @>,
-- the check took longer than a 10-minute soak itself).
basket_events AS (
    SELECT (line ->> 'movement_id')::bigint AS id, count(*) AS events
    FROM audit_log a CROSS JOIN LATERAL jsonb_array_elements(a.after -> 'lines') AS line
    WHERE a.action = 'sale.complete' GROUP BY 1),
basket AS (
    SELECT m.id, coalesce(b.events, 0) AS events
    FROM m JOIN sale_lines l ON l.movement_id = m.id LEFT JOIN basket_events b ON b.id = m.id),
transfer AS (
    SELECT m.id, (SELECT count(*) FROM audit_log a WHERE a.action = 'transfer.create'
                  AND a.entity_id = m.transfer_id) AS events
    FROM m WHERE m.transfer_id IS NOT NULL),
count_events AS (
    SELECT adjusted::bigint AS id, count(*) AS events
    FROM audit_log a
    CROSS JOIN LATERAL jsonb_array_elements_text(a.after -> 'adjustments') AS adjusted
    WHERE a.action = 'count.apply' GROUP BY 1),
counted AS (
    SELECT m.id, coalesce(c.events, 0) AS events
    FROM m LEFT JOIN count_events c ON c.id = m.id
    WHERE m.reason = 'count' AND m.transfer_id IS NULL)
SELECT count(*), count(*) FILTER (WHERE events <> 1)
FROM (SELECT * FROM single UNION ALL SELECT * FROM basket UNION ALL SELECT * FROM transfer
      UNION ALL SELECT * FROM counted) x
"""


def _audit_check(url, seeded_max):
    import psycopg2

    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(AUDIT_COVERAGE, {"after": seeded_max})
        movements, wrong = cur.fetchone()
    conn.close()
    return {"movements": movements, "without_exactly_one_event": wrong}


def main():
    started = time.time()
    url = database.create()
    prefix = f"kiryana-soak-{uuid.uuid4().hex[:8]}:"
    os.environ.update(REDIS_KEY_PREFIX=prefix, RQ_QUEUE_PREFIX=prefix)
    worker = None
    try:
        token = database.migrate_and_make_token(url)
        seeded_max = database.seed(url)
        print(f"seeded {database.STORES} stores x {database.PRODUCTS} products", flush=True)
        with run.gunicorn(url, prefix) as (base_url, pid):
            worker = _start_worker(url, prefix)
            import threading

            marks = {}
            timer = threading.Timer(WARMUP, lambda: marks.update(
                warm=_memory(pid, worker.pid), cpu=cpu.workers_seconds(pid)))
            timer.start()
            load_result = run.summarise(*load.open_loop(base_url, token, mixed, RATE,
                                                        SECONDS, WARMUP))
            load_result["rps"] = round(load_result["requests"] / SECONDS, 1)
            timer.cancel()
            end_memory = _memory(pid, worker.pid)
            deadline = time.time() + 180
            while any((queues := _drained(url, prefix)).values()) and time.time() < deadline:
                time.sleep(1)
            end_memory_after_drain = _memory(pid, worker.pid)
        failed_jobs = {name: counts["failed"] for name, counts in _rq_state(prefix).items()}
        invariant = database.check_invariant(url, 0)
        audit = _audit_check(url, seeded_max)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        database.drop(url)
        run._clear_redis(prefix.rstrip(":"))
    warm = marks.get("warm")
    growth = {k: round((end_memory[k] - warm[k]) / warm[k], 4) if warm[k] else None
              for k in warm} if warm else {}
    report = {
        "settings": {"seconds": SECONDS, "rate": RATE, "warmup_s": WARMUP,
                     "stores": database.STORES, "products": database.PRODUCTS,
                     "mix": "sales 50 % and 5-line baskets 20 %, level reads 15 %, stock "
                            "pages 10 %, counts / transfers / sync batches of 5 sales 5 %",
                     "gunicorn": f"{run.WORKERS} x {run.WORKER_CLASS} x {run.THREADS}"},
        "load": load_result, "queues_at_end": queues, "rq_failed_jobs": failed_jobs,
        "memory_warm_kb": warm,
        "memory_end_kb": end_memory, "memory_after_drain_kb": end_memory_after_drain,
        "memory_growth": growth, "invariant_1": invariant, "audit": audit,
        "elapsed_s": round(time.time() - started, 1),
    }
    report["failures"] = failures(load_result, queues, failed_jobs, invariant, audit, warm,
                                  growth)
    report["passed"] = not report["failures"]
    run.save(soak=report)
    print(json.dumps(report, indent=2))
    return 0 if report["passed"] else 1


def failures(load_result, queues, failed_jobs, invariant, audit, warm, growth):
    """Every reason this soak must not pass; empty when it passed."""
    reasons = []
    if load_result["errors"]:
        reasons.append(f"{load_result['errors']} failed requests {load_result['statuses']}")
    if not load_result["requests"]:
        reasons.append("no request was answered")
    reasons += [f"not drained: {name} = {n}" for name, n in queues.items() if n]
    reasons += [f"RQ queue {name}: {n} failed jobs" for name, n in failed_jobs.items() if n]
    if invariant["balance_after_violations"] or invariant["level_violations"]:
        reasons.append(f"invariant 1 violated: {invariant}")
    if audit["without_exactly_one_event"]:
        reasons.append(f"{audit['without_exactly_one_event']} movements without exactly one "
                       "audit event")
    if warm is None:
        reasons.append(f"the warm-up memory mark ({WARMUP} s) never fired")
    reasons += [f"memory {part} grew {g}" for part, g in growth.items()
                if g is None or g >= MEMORY_GROWTH_LIMIT]
    return reasons


if __name__ == "__main__":
    sys.exit(main())
