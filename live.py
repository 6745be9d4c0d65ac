"""Live events: `python live.py [--host H] [--port P]` (LIVE_HOST, LIVE_PORT: 127.0.0.1:8091).

Server-Sent Events for the live stock list of store pages (webapp/blueprints/stock/
live_events.py): `GET /stores/<id>/events?t=<token>`, also under /live for a proxy that routes
by prefix. A page open all day holds one stream and is sent one `version` event per change of
its store, where it used to poll every second or so.

One asyncio process holds every stream. The Flask app is built once, for its config, secret
key and session serializer: a stream is allowed by the signed session cookie, checked as
polls.EarlyAnswer checks it, and the token the store page was given for this login and store;
no SQL. What changes a store's version is PUBLISHed by the app in the same Redis call
(stock_cache.LIVE_CHANNEL); this process holds ONE subscription, and one task reads the
versions of the stores named (an MGET for all of them) and writes them to those stores'
streams. A stream's own coroutine only sleeps until it has something to write, a heartbeat is
due or its LIVE_MAX_SECONDS are up.

A message lost while the subscription was down must never leave a page stale: after
reconnecting, every open stream is sent its store's current version. While Redis cannot be
reached the streams are closed and new ones refused (503): pages poll instead.
"""
import argparse
import asyncio
import logging
import time

import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from webapp import create_app
from webapp.blueprints.stock import live_events, polls
from webapp.services import stock_cache

log = logging.getLogger("kiryana.live")
CLOSE = object()
HEARTBEAT = b": \n\n"
RECONNECT_SECONDS = 1.0
STARTUP_WAIT_SECONDS = 5.0


class Stream:
    """One open event stream: what is waiting to be written, and the last version sent."""

    __slots__ = ("pending", "sent", "store_id", "wake")

    def __init__(self, store_id):
        self.store_id, self.pending, self.wake, self.sent = store_id, [], None, None

    def push(self, item):
        self.pending.append(item)
        if self.wake is not None and not self.wake.done():
            self.wake.set_result(None)

    def send(self, version):
        if version != self.sent:
            self.sent = version
            self.push(f"event: version\ndata: {version}\n\n".encode())


class Hub:
    """The open streams by store, the subscription, and the task that reads versions."""

    def __init__(self, app):
        self.app = app
        config = app.config
        self.url = config["REDIS_URL"]
        self.timeout = max(config["REDIS_SOCKET_TIMEOUT"], 2.0)
        self.heartbeat = config["LIVE_HEARTBEAT_SECONDS"]
        self.max_seconds = config["LIVE_MAX_SECONDS"]
        self.channel = config["REDIS_KEY_PREFIX"] + stock_cache.LIVE_CHANNEL
        self.streams = {}  # store id -> set of Stream
        self.known = {}  # store id -> its version, read since the subscription last started
        self.dirty = set()
        self.dirty_event = asyncio.Event()
        self.subscribed = False
        self.first_subscription = asyncio.Event()
        self.redis = aioredis.Redis.from_url(self.url, socket_timeout=self.timeout,
                                             socket_connect_timeout=self.timeout)
        self.tasks = []

    def start(self):
        self.tasks = [asyncio.create_task(self._listen(), name="live-subscription"),
                      asyncio.create_task(self._refresh(), name="live-versions")]

    async def stop(self):
        self.close_all()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.redis.aclose()

    # --- streams --------------------------------------------------------------------------

    def add(self, stream):
        self.streams.setdefault(stream.store_id, set()).add(stream)
        version = self.known.get(stream.store_id)
        if version is not None:
            stream.send(version)
        else:
            self._mark([stream.store_id])

    def remove(self, stream):
        streams = self.streams.get(stream.store_id)
        if streams is not None:
            streams.discard(stream)
            if not streams:  # no longer followed: its version is no longer kept up to date
                del self.streams[stream.store_id]
                self.known.pop(stream.store_id, None)

    def close_all(self):
        for streams in self.streams.values():
            for stream in streams:
                stream.push(CLOSE)

    def count(self):
        return sum(len(s) for s in self.streams.values())

    # --- versions -------------------------------------------------------------------------

    def _mark(self, store_ids):
        self.dirty.update(store_ids)
        self.dirty_event.set()

    def _note(self, data):
        """A message on the channel: the changed stores' ids, or "*" for every store."""
        if data == b"*":
            self._mark(self.streams)
            return
        followed = self.streams
        self._mark(s for s in map(int, data.split()) if s in followed)

    async def _refresh(self):
        """Read the versions of the stores marked and send them to their streams. One task
        reads in turn, so a later read is never overtaken by an earlier one."""
        while True:
            await self.dirty_event.wait()
            self.dirty_event.clear()
            ids = [s for s in self.dirty if s in self.streams]
            self.dirty.clear()
            if not ids or not self.subscribed:
                continue
            try:
                found = await self._read(ids)
            except RedisError as exc:
                log.warning("reading store versions failed (%s)", exc.__class__.__name__)
                self._mark(ids)
                await asyncio.sleep(RECONNECT_SECONDS)
                continue
            for store_id, version in zip(ids, found):
                streams = self.streams.get(store_id)
                if streams:
                    self.known[store_id] = version
                    for stream in streams:
                        stream.send(version)

    async def _read(self, ids):
        with self.app.app_context():
            keys = stock_cache.version_keys(ids)
        values = await self.redis.mget(keys)
        if values[0] is None:  # no epoch yet: made as stock_cache.store_version makes it
            await self.redis.set(keys[0], time.time_ns(), nx=True)
            values = await self.redis.mget(keys)
        return stock_cache.versions(values)

    # --- the subscription -----------------------------------------------------------------

    async def _listen(self):
        """Hold the subscription; after it drops, subscribe again and send every open stream
        its current version, or, when Redis cannot be reached, close them all."""
        while True:
            client = aioredis.Redis.from_url(
                self.url, socket_connect_timeout=self.timeout, socket_timeout=None,
                client_name=f"live:{self.channel}",
                retry=Retry(NoBackoff(), 0))  # a silent reconnect would hide lost messages
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._subscribed()
                await self._receive(pubsub)
            except (RedisError, OSError) as exc:
                self.known.clear()
                if self.subscribed:
                    log.warning("live subscription dropped (%s); subscribing again",
                                exc.__class__.__name__)
                    self.subscribed = False
                else:
                    if self.streams:
                        log.warning("redis unreachable (%s): closing %d streams",
                                    exc.__class__.__name__, self.count())
                    self.close_all()
                    await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                await pubsub.aclose()
                await client.aclose()

    def _subscribed(self):
        self.subscribed = True
        self.first_subscription.set()
        self.known.clear()
        for streams in self.streams.values():
            for stream in streams:
                stream.sent = None  # sent again even if unchanged
        self._mark(self.streams)

    async def _receive(self, pubsub):
        """Messages until the connection fails; a PING after a quiet heartbeat, and a second
        quiet one means the connection is dead though no error said so."""
        quiet = 0
        while True:
            message = await pubsub.get_message(timeout=self.heartbeat)
            if message is None:
                quiet += 1
                if quiet > 1:
                    raise ConnectionError("no answer to PING on the live subscription")
                await pubsub.ping()
                continue
            quiet = 0
            if message["type"] == "message":
                self._note(message["data"])


HUB = web.AppKey("hub", Hub)


async def _pump(response, stream, close_at, heartbeat):
    """Write what the stream is sent, a heartbeat after each quiet `heartbeat`, until it is
    closed (by the hub or at close_at)."""
    loop = asyncio.get_running_loop()
    while True:
        while stream.pending:
            item = stream.pending.pop(0)
            if item is CLOSE:
                return
            await response.write(item)
        now = loop.time()
        if now >= close_at:
            return
        stream.wake = loop.create_future()
        timer = loop.call_at(min(now + heartbeat, close_at), _wake, stream.wake)
        try:
            await stream.wake
        finally:
            timer.cancel()
            stream.wake = None
        if not stream.pending and loop.time() < close_at:
            stream.pending.append(HEARTBEAT)


def _wake(future):
    if not future.done():
        future.set_result(None)


async def events(request):
    hub = request.app[HUB]
    store_id = int(request.match_info["store_id"])
    login_id = polls.session_login(hub.app, request.headers.get("Cookie", ""))
    if login_id is None or not live_events.token_ok(hub.app, login_id, store_id,
                                                    request.query.get("t", "")):
        return web.Response(status=403, text="Forbidden: sign in again.\n")
    if not hub.subscribed:
        return web.Response(status=503, text="Live updates are unavailable.\n",
                            headers={"Retry-After": "30"})
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    await response.prepare(request)
    await response.write(b"retry: 5000\n\n")
    stream = Stream(store_id)
    hub.add(stream)
    try:
        await _pump(response, stream, asyncio.get_running_loop().time() + hub.max_seconds,
                    hub.heartbeat)
    except (ConnectionError, asyncio.CancelledError):
        pass  # the client went away
    finally:
        hub.remove(stream)
    return response


async def healthz(request):
    hub = request.app[HUB]
    return web.json_response({"subscribed": hub.subscribed, "streams": hub.count(),
                              "stores": len(hub.streams)},
                             status=200 if hub.subscribed else 503)


def make_app(flask_app=None):
    """The aiohttp application around the Flask app (built here when not given)."""
    flask_app = flask_app or create_app()
    if not flask_app.config["REDIS_URL"]:
        raise SystemExit("REDIS_URL is not set: without Redis store pages poll; no live "
                         "server is needed.")
    app = web.Application()
    app[HUB] = Hub(flask_app)
    for prefix in ("", "/live"):
        app.router.add_get(prefix + r"/stores/{store_id:\d{1,9}}/events", events)
        app.router.add_get(prefix + "/healthz", healthz)

    async def started(app):
        # Listen once subscribed (a few ms), so that a port that answers is a server that
        # streams; a Redis still down after STARTUP_WAIT_SECONDS: listen anyway, answer 503.
        hub = app[HUB]
        hub.start()
        try:
            await asyncio.wait_for(hub.first_subscription.wait(), STARTUP_WAIT_SECONDS)
        except TimeoutError:
            log.warning("no Redis subscription yet: streams are refused (503) until there is")

    async def stopping(app):
        await app[HUB].stop()

    app.on_startup.append(started)
    app.on_shutdown.append(stopping)
    return app


def main(argv=None):
    flask_app = create_app()
    config = flask_app.config
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default=config["LIVE_HOST"])
    parser.add_argument("--port", type=int, default=config["LIVE_PORT"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=config["LOG_LEVEL"],
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # handler_cancellation: a client that goes away ends its stream at once, not at the next
    # heartbeat's failed write.
    web.run_app(make_app(flask_app), host=args.host, port=args.port, access_log=None,
                handler_cancellation=True, shutdown_timeout=5,
                print=lambda line: log.info("%s", line))


if __name__ == "__main__":
    main()
