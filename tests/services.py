"""Finding the real services tests need: skip with a reason on a laptop, fail loudly in CI."""
import os
import shutil
import socket
import uuid

import pytest

IN_CI = os.environ.get("CI") == "true"
# `make test-fast` sets this: the unit layer must need no server, so a test that reaches for
# one without its marker (postgres / redis / browser) fails instead of quietly using it.
UNIT_ONLY = os.environ.get("KIRYANA_UNIT_ONLY") == "1"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def missing(reason):
    """Skip the test with `reason`, except under CI=true, where a missing service is a failure."""
    if UNIT_ONLY:
        pytest.fail(f"unit layer (make test-fast) reached for a server: {reason}; "
                    "mark the test postgres, redis or browser", pytrace=False)
    if IN_CI:
        pytest.fail(f"required service missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def port_open(host, port):
    if UNIT_ONLY:
        return False
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def postgres_available():
    return port_open("127.0.0.1", 5432)


def redis_available():
    return port_open("127.0.0.1", 6379)


def chromium_available():
    if UNIT_ONLY:
        return False
    return shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM)


def create_database(prefix="kiryana_test"):
    """A fresh, empty PostgreSQL database (tests, benchmarks); returns its URL."""
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(PG_ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url):
    import psycopg2

    name = url.rsplit("/", 1)[1]
    conn = psycopg2.connect(PG_ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


def forget_keys(prefix, url=None):
    """Delete the Redis keys a test wrote under its own prefix (the shared Redis by default)."""
    import redis

    r = redis.Redis.from_url(url or REDIS_URL)
    keys = list(r.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        r.delete(*keys)
