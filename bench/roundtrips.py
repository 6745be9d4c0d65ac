"""`python -m bench.roundtrips [requests]`: network round trips per API request, before and after.

Seeds a fresh bench database, then sends sale_random, sale_hot, basket5 and level_read requests
through the WSGI app in this process, counting every round trip at the client libraries: each
psycopg2 execute, commit and rollback (the pool's ping included), and each command or pipeline
redis-py sends. "before" is the configuration as it was (pool_pre_ping, the rate limit counted
in Redis on every request); "after" is the current one; "raw" is the bench's raw-SQL ceiling
for the same work, counted the same way. Merges into bench/results.json (BENCH_RESULTS).
"""
import os
import random
import sys
import uuid

import psycopg2
import psycopg2.extensions
import redis.connection

from bench import database, run, scenarios

COUNTS = {"database": 0, "redis": 0}


class _Cursor(psycopg2.extensions.cursor):
    def execute(self, *args, **kwargs):
        COUNTS["database"] += 1
        return super().execute(*args, **kwargs)


class _Connection(psycopg2.extensions.connection):
    def cursor(self, *args, **kwargs):
        kwargs.setdefault("cursor_factory", _Cursor)
        return super().cursor(*args, **kwargs)

    # psycopg2 sends COMMIT / ROLLBACK only inside a transaction (the pool's reset of an idle
    # connection costs nothing on the wire).
    def commit(self):
        COUNTS["database"] += self.status != psycopg2.extensions.STATUS_READY
        return super().commit()

    def rollback(self):
        COUNTS["database"] += self.status != psycopg2.extensions.STATUS_READY
        return super().rollback()


_send = redis.connection.AbstractConnection.send_packed_command


def _counted_send(self, command, check_health=True):
    COUNTS["redis"] += 1
    return _send(self, command, check_health)


def _app(variant):
    from bench.wsgi import BenchConfig
    from webapp import create_app

    options = {"connect_args": {"connection_factory": _Connection}}
    overrides = {"SQLALCHEMY_ENGINE_OPTIONS": {**options, "pool_recycle": 300}}
    if variant == "before":
        overrides = {"SQLALCHEMY_ENGINE_OPTIONS": {**options, "pool_pre_ping": True},
                     "API_RATE_LIMIT_BATCH": 1}
    return create_app(type(f"RoundTrips{variant}", (BenchConfig,), overrides))


def measure(app, token, scenario, count):
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    make, rng = getattr(scenarios, scenario), random.Random(7)
    for _ in range(100):  # warm: token cache, cache entries, rate-limit blocks
        _send_one(client, headers, make(rng))
    COUNTS.update(database=0, redis=0)
    for _ in range(count):
        response = _send_one(client, headers, make(rng))
        assert response.status_code < 400, response.get_data(as_text=True)
    return {k: round(v / count, 2) for k, v in COUNTS.items()}


def measure_raw(url, scenario, count):
    """Round trips of the raw-SQL ceiling's transaction (its COMMIT included)."""
    conn = psycopg2.connect(url, connection_factory=_Connection)
    cursor, rng = conn.cursor(), random.Random(7)
    COUNTS.update(database=0, redis=0)
    for _ in range(count):
        getattr(scenarios, "raw_" + scenario)(cursor, rng)
        conn.commit()
    conn.close()
    return {k: round(v / count, 2) for k, v in COUNTS.items()}


def _send_one(client, headers, request):
    method, path, body = request
    return client.open(path, method=method, json=body, headers=headers)


def main(count=500):
    url = database.create()
    try:
        token = database.migrate_and_make_token(url)
        database.seed(url)
        os.environ.update(BENCH_DATABASE_URL=database.sqlalchemy_url(url),
                          REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                          BENCH_KEY_PREFIX=f"kiryana-rt-{uuid.uuid4().hex[:8]}")
        redis.connection.AbstractConnection.send_packed_command = _counted_send
        found = {}
        for variant in ("before", "after"):
            app = _app(variant)
            found[variant] = {s: measure(app, token, s, count)
                              for s in ("sale_random", "sale_hot", "basket5", "level_read")}
            from webapp.extensions import db
            with app.app_context():
                db.engine.dispose()
        found["raw"] = {s: measure_raw(url, s, count) for s in ("sale_random", "basket5")}
        for variant, rows in found.items():
            for scenario, counts in rows.items():
                print(f"{variant:<7} {scenario:<12} database {counts['database']:>5}  "
                      f"redis {counts['redis']:>5}")
    finally:
        redis.connection.AbstractConnection.send_packed_command = _send
        database.drop(url)
    run.save(round_trips_per_request=found)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
