"""`python -m bench.compare A B [scenarios] [rounds]`: two servers side by side, same load, same
minutes: CPU per request of each, and B's over A's.

On a machine shared with other work, two runs a few minutes apart differ by more than most
changes are worth; two gunicorns measured over the same window under the same closed-loop load
(half the clients each) see the same machine, so B/A is trustworthy to a few per cent. A and
B are each a checkout directory (`.` is this one; another must use the same migrations) or
`.` with settings, e.g. `.:API_RATE_LIMIT_BATCH=1,BENCH_THREADS=4`. Seeds one bench database
(BENCH_STORES / BENCH_PRODUCTS, default 200 × 100 here) and drops it afterwards.

    python -m bench.compare /work/main . sale_random,basket5,level_read,trivial 3
"""
import os
import statistics
import sys
import threading
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

os.environ.setdefault("BENCH_STORES", "200")
os.environ.setdefault("BENCH_PRODUCTS", "100")

from bench import database, load, run, scenarios  # noqa: E402

SECONDS = float(os.environ.get("BENCH_DURATION", "6"))
WARMUP = float(os.environ.get("BENCH_WARMUP", "1.5"))


def _parse(side):
    directory, _, settings = side.partition(":")
    env = dict(item.split("=", 1) for item in settings.split(",") if item)
    return Path(directory).resolve(), env


@contextmanager
def _server(url, directory, env):
    """bench.run's gunicorn, started from `directory` with `env` (BENCH_WORKERS, BENCH_THREADS
    and BENCH_WORKER_CLASS too)."""
    saved, here = dict(os.environ), Path.cwd()
    workers, threads, worker_class = run.WORKERS, run.THREADS, run.WORKER_CLASS
    os.environ.update(env)
    run.WORKERS = int(env.get("BENCH_WORKERS", run.WORKERS))
    run.THREADS = int(env.get("BENCH_THREADS", run.THREADS))
    run.WORKER_CLASS = env.get("BENCH_WORKER_CLASS", run.WORKER_CLASS)
    os.chdir(directory)  # python -m gunicorn imports bench.wsgi and webapp from here
    try:
        with run.gunicorn(url, f"kiryana-compare-{uuid.uuid4().hex[:8]}") as server:
            os.chdir(here)
            os.environ.clear()
            os.environ.update(saved)
            run.WORKERS, run.THREADS, run.WORKER_CLASS = workers, threads, worker_class
            yield server
    finally:
        os.chdir(here)


def _measure(server, token, make, out, side):
    base_url, pid = server
    latencies, errors, statuses, spent = run._measured(lambda: load.http(
        base_url, token, make, run.CONCURRENCY // 2, SECONDS, WARMUP), pid, WARMUP)
    out[side] = (len(latencies) / SECONDS, spent["app"] * 1000 / max(len(latencies), 1),
                 errors, statuses)


def main(a, b, names="sale_random,basket5,level_read,trivial", rounds=3):
    sides = [_parse(a), _parse(b)]
    url = database.create()
    per_request = {name: ([], []) for name in names.split(",")}
    try:
        token = database.migrate_and_make_token(url)
        database.seed(url)
        with ExitStack() as stack:
            servers = [stack.enter_context(_server(url, d, env)) for d, env in sides]
            for round_ in range(int(rounds)):
                for name in per_request:
                    out = {}
                    threads = [threading.Thread(target=_measure, args=(
                        servers[i], token, getattr(scenarios, name), out, i)) for i in (0, 1)]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join()
                    for i in (0, 1):
                        per_request[name][i].append(out[i][1])
                        if out[i][2]:
                            print(f"  {'AB'[i]} errors: {out[i][3]}")
                    print(f"round {round_} {name:<12} A {out[0][0]:7.1f}/s {out[0][1]:6.3f} ms"
                          f"  B {out[1][0]:7.1f}/s {out[1][1]:6.3f} ms CPU/request"
                          f"  B/A {out[1][1] / out[0][1]:.3f}  (load {os.getloadavg()[0]:.1f})",
                          flush=True)
    finally:
        database.drop(url)
    for name, (ours, theirs) in per_request.items():
        a_ms, b_ms = statistics.median(ours), statistics.median(theirs)
        print(f"{name}: median CPU per request A {a_ms:.3f} ms, B {b_ms:.3f} ms, "
              f"B/A {b_ms / a_ms:.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
