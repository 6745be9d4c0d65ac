"""`python -m bench.profile [scenario] [requests]`: where one API request's time goes.

Seeds a fresh bench database, then sends the scenario's requests through the WSGI app in
this process under pyinstrument and prints the call tree (no HTTP server, no network).
"""
import os
import random
import sys
import time
import uuid

from bench import database, scenarios


def main(scenario="sale_random", count=2000):
    url = database.create()
    try:
        token = database.migrate_and_make_token(url)
        database.seed(url)
        os.environ.update(BENCH_DATABASE_URL=database.sqlalchemy_url(url),
                          REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                          BENCH_KEY_PREFIX=f"kiryana-profile-{uuid.uuid4().hex[:8]}")
        from pyinstrument import Profiler

        from bench.wsgi import app

        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        make, rng = getattr(scenarios, scenario), random.Random(1)
        for _ in range(50):
            _send(client, headers, *make(rng))
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(count):
            _send(client, headers, *make(rng))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{scenario}: {wall / count * 1000:.3f} ms wall, {cpu / count * 1000:.3f} ms CPU "
              f"of this process per request (no profiler)")
        profiler = Profiler(interval=0.0002)
        started = time.perf_counter()
        profiler.start()
        for _ in range(count):
            _send(client, headers, *make(rng))
        profiler.stop()
        elapsed = time.perf_counter() - started
        print(f"{scenario}: {count} requests, {elapsed / count * 1000:.3f} ms each under the "
              f"profiler")
        print(profiler.output_text(unicode=True, color=False, show_all=False))
        from webapp.extensions import db
        with app.app_context():
            db.engine.dispose()
    finally:
        database.drop(url)


def _send(client, headers, method, path, body):
    response = client.open(path, method=method, json=body, headers=headers)
    assert response.status_code < 400, response.get_data(as_text=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sale_random",
         int(sys.argv[2]) if len(sys.argv) > 2 else 2000)
