"""Closed-loop load at a fixed concurrency: HTTP through aiohttp, or raw SQL through psycopg2.

Each runs in PROCESSES processes (one client process would be the bottleneck), records
latencies after a warm-up, and returns (latencies in ms, errors, statuses). Only answered
requests (status below 400) have a latency: an error is counted in `errors` and `statuses`
and never as throughput (a server refusing fast would otherwise look like a fast server).
"""
import asyncio
import gc
import json
import multiprocessing
import random
import threading
import time
from collections import Counter

PROCESSES = 2


def failed(status):
    """A request that did not do its work: no answer, or a 4xx/5xx."""
    return status == "connection" or status >= 400


def _split(concurrency):
    return [concurrency // PROCESSES + (1 if i < concurrency % PROCESSES else 0)
            for i in range(PROCESSES)]


def _quiet_collector():
    """No garbage collection in a load process: it was forked from a parent that loaded the
    whole app (~150,000 objects), and one full collection stopped its event loop for ~250 ms,
    which the open loop then counted as the server's latency. What a run allocates is freed by
    reference counting; the process ends with the run."""
    gc.freeze()
    gc.disable()


def _run_processes(target, args, concurrency):
    context = multiprocessing.get_context("fork")
    with context.Pool(PROCESSES, initializer=_quiet_collector) as pool:
        parts = pool.starmap(target, [(n, seed, *args)
                                      for seed, n in enumerate(_split(concurrency))])
    latencies, errors, statuses = [], 0, Counter()
    for part_latencies, part_errors, part_statuses in parts:
        latencies.extend(part_latencies)
        errors += part_errors
        statuses.update(part_statuses)
    return latencies, errors, dict(statuses)


# --- HTTP ------------------------------------------------------------------------------------

def http(base_url, token, make_request, concurrency, duration, warmup):
    """Drive make_request(rng) -> (method, path, body) against base_url."""
    return _run_processes(_http_process, (base_url, token, make_request, duration, warmup),
                          concurrency)


def _event_loop_run(coroutine):
    """Run on uvloop: the load clients share the machine's two cores with the servers they
    measure, and each core-millisecond the client spends is one the server under test loses
    (the phones' client in fleet.py runs on it too)."""
    import uvloop

    return uvloop.run(coroutine)


def _http_process(clients, seed, base_url, token, make_request, duration, warmup):
    return _event_loop_run(_http_clients(clients, seed, base_url, token, make_request, duration,
                                         warmup))


async def _http_clients(clients, seed, base_url, token, make_request, duration, warmup):
    import aiohttp

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = time.perf_counter()
    record_from, deadline = start + warmup, start + warmup + duration
    latencies, statuses = [], Counter()
    errors = [0]
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout,
                                     headers=headers) as session:
        async def client(rng):
            while (now := time.perf_counter()) < deadline:
                method, path, body = make_request(rng)
                data = None if body is None else json.dumps(body)
                try:
                    async with session.request(method, path, data=data) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    status = "connection"
                if now >= record_from:
                    statuses[status] += 1
                    if failed(status):
                        errors[0] += 1
                    else:
                        latencies.append((time.perf_counter() - now) * 1000)

        await asyncio.gather(*(client(random.Random(seed * 1000 + i)) for i in range(clients)))
    return latencies, errors[0], statuses


# --- raw SQL ---------------------------------------------------------------------------------

def raw_sql(database_url, work, concurrency, duration, warmup):
    """Drive work(cursor, rng) (one transaction, committed here) on psycopg2 connections."""
    return _run_processes(_sql_process, (database_url, work, duration, warmup), concurrency)


def _sql_process(threads, seed, database_url, work, duration, warmup):
    import psycopg2

    start = time.perf_counter()
    record_from, deadline = start + warmup, start + warmup + duration
    latencies, statuses, lock = [], Counter(), threading.Lock()
    errors = [0]

    def thread(rng):
        conn = psycopg2.connect(database_url)
        cursor = conn.cursor()
        mine, outcome = [], Counter()
        while (now := time.perf_counter()) < deadline:
            try:
                work(cursor, rng)
                conn.commit()
                status = "ok"
            except psycopg2.Error as error:
                conn.rollback()
                status = type(error).__name__
            if now >= record_from:
                outcome[status] += 1
                if status == "ok":
                    mine.append((time.perf_counter() - now) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)
            statuses.update(outcome)
            errors[0] += sum(n for s, n in outcome.items() if s != "ok")

    workers = [threading.Thread(target=thread, args=(random.Random(seed * 1000 + i),))
               for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, errors[0], statuses


# --- open loop: requests on a fixed schedule --------------------------------------------------

def open_loop(base_url, token, make_request, rate, duration, warmup):
    """Send make_request(rng) at `rate` requests/s in total, whatever the server's pace; each
    latency counts from when the request was due, so a stall shows up instead of slowing the
    client down (closed-loop clients hide it: coordinated omission)."""
    return _run_processes(_open_process, (base_url, token, make_request, rate / PROCESSES,
                                          duration, warmup), PROCESSES)


def _open_process(_clients, seed, base_url, token, make_request, rate, duration, warmup):
    return _event_loop_run(_open_clients(seed, base_url, token, make_request, rate, duration,
                                         warmup))


async def _open_clients(seed, base_url, token, make_request, rate, duration, warmup):
    import aiohttp

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    rng = random.Random(seed)
    latencies, statuses, errors, tasks = [], Counter(), [0], []
    # Idle connections are closed by the client before gunicorn's keep-alive (2 s) closes them,
    # so a request never goes out on a connection the server is closing.
    connector = aiohttp.TCPConnector(limit=512, keepalive_timeout=1)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout,
                                     headers=headers) as session:
        async def one(due, record, method, path, body):
            try:
                async with session.request(method, path, data=body) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                status = "connection"
                statuses[f"connection: {type(error).__name__}"] += record
            if record:
                statuses[status] += 1
                if failed(status):
                    errors[0] += 1
                else:
                    latencies.append((time.perf_counter() - due) * 1000)

        start = time.perf_counter() + 0.05 * seed / max(rate, 1)
        total = int((warmup + duration) * rate)
        for i in range(total):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            method, path, body = make_request(rng)
            tasks.append(asyncio.create_task(one(due, i >= warmup * rate, method, path,
                                                 None if body is None else json.dumps(body))))
        await asyncio.gather(*tasks)
    return latencies, errors[0], statuses
