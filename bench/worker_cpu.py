"""`python -m bench.worker_cpu [sales] [per_second]`: the RQ worker's CPU per sale.

A fresh bench database (WORKER_CPU_STORES stores), the real worker (worker.py, as bench/soak.py
starts it) on the real Redis, and quick sales from the store page (POST
/stores/<id>/movements, htmx, a shopkeeper's session made by the app's own login) sent through
the WSGI app in this process at `per_second`, spread over the stores like the fleet's shops.
The worker's utime + stime (/proc) is read before the first sale and once every event has left
the outbox; the same window's length of idle worker (its sweep alone) is measured first and
reported beside it, so the per-sale figure is the worker's whole cost and the idle rate says
how much of it is the sweep's clock rather than the sales.
"""
import os
import random
import sys
import time
import uuid

os.environ.setdefault("BENCH_STORES", os.environ.get("WORKER_CPU_STORES", "50"))
os.environ.setdefault("BENCH_PRODUCTS", "60")
# Before config.py is imported: the app in this process and the worker must share the queues.
PREFIX = f"kiryana-wcpu-{uuid.uuid4().hex[:8]}:"
os.environ.update(REDIS_KEY_PREFIX=PREFIX, RQ_QUEUE_PREFIX=PREFIX)

from bench import database, fleet, soak  # after the sizes and prefixes it reads


def _outbox_rows(url):
    import psycopg2

    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM audit_outbox")
        count = cur.fetchone()[0]
    conn.close()
    return count


def _settle(url, seconds=60):
    deadline = time.time() + seconds
    while _outbox_rows(url) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the drain's hooks and the job's own bookkeeping finish


def main(sales=300, per_second=10.0):
    with fleet.shops_database(database.STORES, 0, PREFIX) as (url, made, _):
        worker = soak._start_worker(url, PREFIX)
        try:
            measure(url, made, worker, sales, per_second)
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def measure(url, made, worker, sales, per_second):
    """The worker's CPU idle, then over `sales` quick sales sent at `per_second`."""
    from bench.wsgi import app

    assert app.config["RQ_QUEUE_PREFIX"] == PREFIX
    client = app.test_client(use_cookies=False)  # each sale sends its own shop's cookie
    time.sleep(15)  # the worker is up and has swept twice
    window = sales / per_second
    idle_start = fleet._worker_seconds(worker.pid)
    time.sleep(window)
    idle = fleet._worker_seconds(worker.pid) - idle_start
    rng = random.Random(7)
    people = list(made.values())
    start, began = fleet._worker_seconds(worker.pid), time.perf_counter()
    for i in range(sales):
        due = began + i / per_second
        if (delay := due - time.perf_counter()) > 0:
            time.sleep(delay)
        cookie, token, urls, _ = rng.choice(people)
        response = client.post(urls["sale"], data={
            "csrf_token": token, "type": "sale", "quantity": "1",
            "product_id": str(rng.randint(1, database.PRODUCTS)), "key": uuid.uuid4().hex},
            headers={"Cookie": cookie, "X-CSRFToken": token, "HX-Request": "true",
                     "User-Agent": fleet.USER_AGENT,
                     "HX-Target": "panel"})
        assert response.status_code < 400, response.get_data(as_text=True)[:2000]
    _settle(url)
    spent = fleet._worker_seconds(worker.pid) - start
    elapsed = time.perf_counter() - began
    idle_rate = idle / window
    print(f"{sales} sales at {per_second}/s over {elapsed:.1f} s: worker "
          f"{spent * 1000 / sales:.2f} ms CPU per sale (all of it); idle worker "
          f"{idle_rate * 1000:.1f} ms CPU per second; per sale above idle "
          f"{(spent - idle_rate * elapsed) * 1000 / sales:.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300,
         float(sys.argv[2]) if len(sys.argv) > 2 else 10.0)
