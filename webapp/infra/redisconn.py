"""The app's Redis client, with short timeouts and a breaker.

Redis is an accelerator here, never the source of truth: when it fails, callers fall back (to
the database, to memory, to the worker's sweep) and Redis is left alone for
REDIS_RETRY_SECONDS, so a dead server costs at most one timeout every few seconds per process.
When a cache invalidation was lost during an outage, the first successful contact afterwards
starts a new cache epoch, so nothing cached before the outage is ever served again.
"""
import logging
import os
import threading
import time

import redis
from flask import current_app

from webapp.infra.current import app_config

log = logging.getLogger(__name__)
EPOCH_KEY = "stock:epoch"
# Every store's version moves with the epoch: live.py's streams are told on this channel
# (services/stock_cache.py publishes there too).
LIVE_CHANNEL = "stock:live"


def _state():
    return current_app.extensions.setdefault("kiryana_redis_state",
                                             {"down_until": 0.0, "dirty": False})


def configured():
    return bool(current_app.config["REDIS_URL"])


def prefixed(key):
    return app_config()["REDIS_KEY_PREFIX"] + key


def raw_client(app):
    """This process's pooled Redis client itself, without the breaker (RQ keeps its own error
    handling)."""
    return _process(app).client


class _Process:
    """One process's Redis client (its pool) and its threads' own clients."""

    def __init__(self, app):
        timeout = app.config["REDIS_SOCKET_TIMEOUT"]
        self.client = redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=timeout,
                                           socket_connect_timeout=timeout,
                                           health_check_interval=15)
        self.threads = threading.local()
        self.forks = _forks


# Built once per process under this lock. Built lazily without one, a gunicorn worker's first
# requests (several threads at once) each built a client and stored it over the others'; a
# client made by from_url closes its pool when it is garbage, so a lost one disconnected the
# connections other threads were just opening on its pool (EBADF, then "I/O operation on closed
# file" in HELLO: 500s at every worker start of a fleet run, tests/test_redis_fork.py).
_lock = threading.Lock()
_forks = 0  # the forks this process descends from: a forked child builds its own pool


def _after_fork():
    global _lock, _forks
    _forks += 1
    _lock = threading.Lock()  # a thread of the parent may have held it as the fork happened


os.register_at_fork(after_in_child=_after_fork)


def _process(app):
    mine = app.extensions.get("kiryana_redis")
    if mine is None or mine.forks != _forks:
        with _lock:
            mine = app.extensions.get("kiryana_redis")
            if mine is None or mine.forks != _forks:
                mine = app.extensions["kiryana_redis"] = _Process(app)
    return mine


def _thread_client(app):
    """This thread's client: one connection of the process's pool held for the thread's life.

    A pooled command checks a connection out, probes it for unread data (three system calls)
    and puts it back: a third of the client's CPU for a sale's one Redis call. A thread runs
    one command at a time, so a connection of its own needs none of that. A forked child (a
    gunicorn worker forked from the master that loaded the app) has a pool of its own, so it
    never touches its parent's sockets; a thread's connection goes back to the pool when the
    thread ends."""
    process = _process(app)
    got = getattr(process.threads, "client", None)
    if got is None:
        got = process.threads.client = redis.Redis(
            connection_pool=process.client.connection_pool, single_connection_client=True)
    return got


class Script:
    """A Lua script, sent as EVALSHA straight on a thread's own connection (_thread_client)
    below redis-py's command layer: its retry closure, connection lock and timing and error
    hooks cost about a third of the Redis call's client CPU, the largest part of a cached level
    read after Flask's own (python -m bench.instructions). Kept from that layer: a connection
    that fails is dropped and the command sent once more on a new one, and a server that no
    longer knows the script (restarted, SCRIPT FLUSH) is given it again."""

    def __init__(self, client, source):
        self.client, self.script = client, client.register_script(source)

    def __call__(self, keys, args):
        conn = self.client.connection
        if conn is None:  # a pooled client: the ordinary way
            return self.script(keys=keys, args=args)
        try:
            return _send(conn, ("EVALSHA", self.script.sha, len(keys), *keys, *args))
        except redis.exceptions.NoScriptError:
            self.script.sha = self.client.script_load(self.script.script)
            return _send(conn, ("EVALSHA", self.script.sha, len(keys), *keys, *args))


def _send(conn, command):
    """One command's reply on `conn`; sent once more after a connection error (the failed
    connection disconnects itself, and sending connects again)."""
    try:
        conn.send_command(*command)
        return conn.read_response()
    except (redis.ConnectionError, redis.TimeoutError):
        conn.disconnect()
    conn.send_command(*command)
    return conn.read_response()


def client():
    """The Redis client, or None when Redis is not configured or is resting after a failure."""
    app = current_app._get_current_object()
    state = _state()
    if not app.config["REDIS_URL"] or time.monotonic() < state["down_until"]:
        return None
    try:
        r = _thread_client(app)
    except (redis.RedisError, OSError, ValueError) as exc:  # connecting is a Redis failure too
        failed(exc)
        return None
    if state["dirty"]:
        try:
            r.set(prefixed(EPOCH_KEY), time.time_ns())
            r.publish(prefixed(LIVE_CHANNEL), "*")
        except redis.RedisError as exc:
            failed(exc)
            return None
        state["dirty"] = False
        log.warning("redis is back; started a new stock cache epoch")
    return r


def failed(exc, lost_invalidation=False):
    """Note a Redis failure: skip Redis for a while; remember a lost cache invalidation."""
    state = _state()
    if time.monotonic() >= state["down_until"]:
        log.warning("redis unavailable (%s); falling back for %ss", exc.__class__.__name__,
                    current_app.config["REDIS_RETRY_SECONDS"])
    state["down_until"] = time.monotonic() + current_app.config["REDIS_RETRY_SECONDS"]
    if lost_invalidation:
        state["dirty"] = True


def run(operation, default=None, invalidation=False):
    """operation(client) → its result; `default` when Redis is absent or fails."""
    r = client()
    if r is None:
        if invalidation and current_app.config["REDIS_URL"]:
            _state()["dirty"] = True
        return default
    try:
        return operation(r)
    except redis.RedisError as exc:
        failed(exc, lost_invalidation=invalidation)
        return default


def ping():
    """True when Redis answers now (ignores the breaker); None when not configured."""
    app = current_app._get_current_object()
    if not app.config["REDIS_URL"]:
        return None
    try:
        return bool(raw_client(app).ping())
    except redis.RedisError:
        return False
