"""The app's Redis client in a freshly forked process (a gunicorn worker after --preload) with
many threads asking for it at once: no request may see an exception, and every one must really
reach Redis (a fallback would hide a broken pool as well as a dead server would)."""
import os
import threading
import traceback

import pytest

from config import TestingConfig
from tests import services
from tests.processes import unique_prefix
from webapp import create_app
from webapp.infra import redisconn

THREADS = 32
FORKS = 12


@pytest.fixture
def redis_app():
    if not services.redis_available():
        services.missing("Redis is not reachable on 127.0.0.1:6379")
    prefix = unique_prefix()
    app = create_app(type("Config", (TestingConfig,), {"REDIS_URL": services.REDIS_URL,
                                                       "REDIS_KEY_PREFIX": prefix}))
    yield app
    services.forget_keys(prefix)


def _hammer(app, errors):
    """THREADS threads released together, each asking for a client and running commands."""
    barrier = threading.Barrier(THREADS)

    def one():
        try:
            with app.app_context():
                key = redisconn.prefixed("fork-hammer")
                barrier.wait()
                for _ in range(4):
                    if redisconn.client() is None:
                        errors.append("client() gave None: Redis was taken for down")
                    if redisconn.run(lambda r: r.incr(key)) is None:
                        errors.append("run() fell back: Redis was taken for down")
        except BaseException as exc:  # noqa: BLE001 - any escape is the failure
            errors.append("".join(traceback.format_exception(exc)))

    threads = [threading.Thread(target=one) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _in_forked_child(app):
    """Fork; the child hammers and writes what went wrong to a pipe; the parent reads it."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        errors = []
        try:
            _hammer(app, errors)
        except BaseException as exc:  # noqa: BLE001 - reported, never "ok"
            errors.append("".join(traceback.format_exception(exc)))
        finally:
            os.write(write, "\n".join(errors[:3]).encode()[:60000] or b"ok")
            os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


@pytest.mark.redis
@pytest.mark.parametrize("parent_used_redis", [False, True],
                         ids=["pool-untouched-before-fork", "pool-used-before-fork"])
def test_many_threads_of_a_forked_child_get_working_clients_at_once(redis_app,
                                                                    parent_used_redis):
    """A gunicorn worker's first requests arrive on several threads together. The master
    (preload) may or may not have used Redis before forking; either way each forked child
    must build one pool of its own and hand every thread a working connection."""
    if parent_used_redis:
        with redis_app.app_context():
            assert redisconn.run(lambda r: r.ping()) is True
    for _ in range(FORKS):
        assert _in_forked_child(redis_app) == "ok"
    if parent_used_redis:  # the parent's own connection survived its children
        with redis_app.app_context():
            assert redisconn.run(lambda r: r.ping()) is True


@pytest.mark.parametrize("failure", ["refused", "closed-file"])
def test_failing_to_get_a_client_is_a_redis_failure_the_caller_falls_back_from(failure,
                                                                              monkeypatch):
    """A connection that cannot be opened (nothing listening; a socket closed under it) makes
    run() answer its default and rests Redis like any failed command, never a 500."""
    app = create_app(type("Config", (TestingConfig,), {
        "REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_SOCKET_TIMEOUT": 0.2,
        "REDIS_KEY_PREFIX": unique_prefix()}))
    with app.app_context():
        if failure == "closed-file":
            def broken(*args, **kwargs):
                raise ValueError("I/O operation on closed file.")
            monkeypatch.setattr(redisconn.raw_client(app).connection_pool, "get_connection",
                                broken)
        assert redisconn.run(lambda r: r.get("x"), default="fallback") == "fallback"
        assert redisconn.client() is None  # resting: the next request does not try again
