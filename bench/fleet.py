"""`python -m bench.fleet` (`make bench-fleet`): how many shops one machine carries.

Each simulated shop is a logged-in phone with the store page open all evening, doing what the
page does (static/js/live.js and static/js/app.js): the live stock list polls on a 1 s tick,
asking again every tick while answers change and every 2nd, then 4th tick once 2 and 5 answers
in a row were 304, and every 8th, 15th, then 30th once nobody has touched the page for a
minute (a sale, a basket's tap and a search are touches; the first touch after that asks at
once); each poll is htmx's GET with its headers, the page's ETag in If-None-Match, the CSRF
header from <body hx-headers> and the session cookie; a write on the page (HX-Trigger:
stock-changed) refreshes the list at once. The shop sells at the evening peak,
one sale a minute (FLEET_SALES_PER_MINUTE), four in five a quick sale from the store page and
one in five a 3-5 line basket at the counter (an add per line, then Complete: the basket lives
in the session cookie, which the phone keeps as the server sets it; one basket at a time and
one write in flight at a time, a quick sale going between a basket's taps); it searches the
picker now and then (two keystrokes' requests a search, FLEET_SEARCHES_PER_MINUTE), and
FLEET_MANAGERS managers open a report every FLEET_REPORT_SECONDS. Everything is sent on schedule (open loop),
each latency counted from when the request was due; a poll still in flight when the next tick
wants one is not sent twice (htmx waits for the element's request), and is counted as skipped.

With the push channel (the default; FLEET_PUSH=0 for the pages polling as before) each phone
also holds its list's event stream open (live.py, started here on its own port, its CPU
counted as "live"), as live.js does when the page names one: a `version` event other than the
list's own refreshes the list at once, and one timed poll in 5 minutes is sent while the
stream is open (a dropped stream is opened again after 5 s, polling meanwhile). "push" latency
is from a sale being sent to its store's stream announcing the change.

Production mode on this machine: PostgreSQL, Redis, the RQ worker (worker.py), gunicorn with
gunicorn.conf.py (bench.run.gunicorn: BENCH_WORKERS × BENCH_THREADS). The client is aiohttp in
FLEET_PROCESSES processes, one connection per request in flight (thousands at once at the
larger sizes), its own CPU measured beside the rest.

For each N in FLEET_SIZES (500,1000,2000,3000): a warm-up in which the phones open their page
at random, FLEET_ARRIVALS_PER_SECOND (50) of them a second (each first list read is a full
render), then FLEET_SETTLE s (10; the warm-up is at least FLEET_WARMUP, 15 s), as in an evening
under way rather than every page opened at once; then FLEET_SECONDS measured:
sale p50/p99 (and, not a limit, the sales' p99 while the phones were arriving), poll p99, errors, requests/s by kind, and CPU per shop-minute split app (gunicorn
workers) / PostgreSQL / Redis / worker / client (bench/cpu.py reads /proc). `max_shops` is the
largest N with sale p99 < 100 ms, poll p99 < 250 ms and no error (and, for each smaller N, the
same held); written to bench/results.json (BENCH_RESULTS) under "fleet". Exits 1 when an N had
an error or max_shops is below FLEET_TARGET_SHOPS (2000).
"""
import asyncio
import gc
import json
import multiprocessing
import os
import random
import re
import resource
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

SIZES = [int(n) for n in os.environ.get("FLEET_SIZES", "500,1000,2000,3000").split(",")]
os.environ.setdefault("BENCH_STORES", str(max(SIZES)))
os.environ.setdefault("BENCH_PRODUCTS", os.environ.get("FLEET_PRODUCTS", "60"))

from bench import cpu, database, run, soak

HERE = Path(__file__).resolve().parent
SECONDS = float(os.environ.get("FLEET_SECONDS", "60"))
WARMUP = float(os.environ.get("FLEET_WARMUP", "15"))
# The phones open their store page at this rate over the warm-up, which lasts until the last
# has come and then FLEET_SETTLE s more (at least FLEET_WARMUP): 2,000 pages opened in 10 s
# filled the machine for ~25 s, and the peak measured after it was that queue draining.
ARRIVALS_PER_SECOND = float(os.environ.get("FLEET_ARRIVALS_PER_SECOND", "50"))
SETTLE = float(os.environ.get("FLEET_SETTLE", "10"))
PROCESSES = int(os.environ.get("FLEET_PROCESSES", "2"))
SALES_PER_MINUTE = float(os.environ.get("FLEET_SALES_PER_MINUTE", "1"))
BASKET_SHARE = 0.2
SEARCHES_PER_MINUTE = float(os.environ.get("FLEET_SEARCHES_PER_MINUTE", "0.5"))
MANAGERS = int(os.environ.get("FLEET_MANAGERS", "3"))
REPORT_SECONDS = float(os.environ.get("FLEET_REPORT_SECONDS", "60"))
TARGET_SHOPS = int(os.environ.get("FLEET_TARGET_SHOPS", "2000"))
# The live list's push channel (live.py); FLEET_PUSH=0 measures the pages polling instead.
PUSH = os.environ.get("FLEET_PUSH", "1") == "1"
SALE_P99_MS, POLL_P99_MS = 100.0, 250.0
# A cheap Android phone's Chrome.
VERSION = re.compile(rb'data-version="([^"]*)"')
REFUSAL = re.compile(rb'class="[^"]*(?:error|alert)[^"]*"[^>]*>\s*([^<]+)<')
USER_AGENT = ("Mozilla/5.0 (Linux; Android 11; SM-A025F) AppleWebKit/537.36 (KHTML, like "
              "Gecko) Chrome/119.0.0.0 Mobile Safari/537.36")


# --- live.js's schedule ----------------------------------------------------------------------

IDLE_AFTER_S = 60
STREAM_POLL_S = 300  # live.js: one poll every 5 minutes even while the stream is open


def poll_every(quiet, idle_for):
    """Seconds (1 s ticks) between polls after `quiet` unchanged answers in a row, `idle_for`
    seconds after the shopkeeper last touched the page (live.js's interval())."""
    if idle_for >= IDLE_AFTER_S:
        beyond = idle_for - IDLE_AFTER_S
        return 30 if beyond >= 240 else (15 if beyond >= 120 else 8)
    return 4 if quiet >= 5 else (2 if quiet >= 2 else 1)


# --- setup: shops, their shopkeepers, their sessions -----------------------------------------

def seed_people(url, shops, managers):
    """One shopkeeper per store (user i+1 keeps store i... as ids: shopkeeper of store s is
    user s + 1, user 1 being the bench admin), then the managers. All share one real password
    hash: nobody logs in with it, the sessions are made by the app's own login code."""
    import psycopg2
    from werkzeug.security import generate_password_hash

    digest = generate_password_hash("fleet-password")
    now = "2026-01-01 00:00:00+00"
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        rows = [(s + 1, f"shop{s:05d}", f"Shopkeeper {s}", digest, "shopkeeper", "t", now, now)
                for s in range(1, shops + 1)]
        rows += [(shops + 1 + m, f"manager{m}", f"Manager {m}", digest, "manager", "t", now, now)
                 for m in range(1, managers + 1)]
        database._copy(cur, "users", ["id", "username", "full_name", "password_hash", "role",
                                      "active", "created_at", "updated_at"], rows)
        database._copy(cur, "user_stores", ["user_id", "store_id"],
                       ((s + 1, s) for s in range(1, shops + 1)))
        cur.execute("SELECT setval(pg_get_serial_sequence('users', 'id'), "
                    "(SELECT max(id) FROM users))")
    # Statistics for what was just copied in, as autovacuum keeps them on a live database:
    # without them every request's user load (users ⟕ user_stores ⨝ stores) was planned as a
    # scan of every store, 0.67 ms of PostgreSQL per request instead of 0.1.
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("ANALYZE users, user_stores")
    conn.close()


@contextmanager
def shops_database(stores, managers, prefix, live_url=None):
    """A fresh bench database of `stores` shops (bench.database.seed), a logged-in shopkeeper
    for each and `managers` managers (sessions below), this process's environment pointing
    bench.wsgi at it; yields (database URL, sessions, cookie name). Dropped afterwards, with
    the Redis keys under `prefix`."""
    url = database.create()
    try:
        database.migrate_and_make_token(url)
        database.seed(url)
        seed_people(url, stores, managers)
        os.environ.update(BENCH_DATABASE_URL=database.sqlalchemy_url(url),
                          REDIS_URL=run.REDIS_URL, BENCH_KEY_PREFIX=prefix)
        if live_url:  # gunicorn's app reads it: its store pages name the stream
            os.environ["LIVE_URL"] = live_url
        made, cookie_name = sessions(stores, managers, live_url)
        yield url, made, cookie_name
    finally:
        database.drop(url)
        run._clear_redis(prefix.rstrip(":"))


def sessions(shops, managers, live_url=None):
    """{user id: (cookie header, CSRF token, URLs)} made by the app's own login (sessions.start)
    in a request like the phone's: the same cookie, of the same size, a real login sets."""
    from flask import url_for
    from flask_wtf.csrf import generate_csrf

    from bench.wsgi import app
    from webapp.blueprints.stock import live_events
    from webapp.extensions import db
    from webapp.models import User
    from webapp.web import sessions as web_sessions

    cookie_name = app.config["SESSION_COOKIE_NAME"]
    serializer = app.session_interface.get_signing_serializer(app)
    made = {}
    with app.app_context():
        users = {u.id: u for u in db.session.query(User).filter(User.id > 1)}
        for uid, user in users.items():
            with app.test_request_context("/login", method="POST",
                                          headers={"User-Agent": USER_AGENT},
                                          environ_base={"REMOTE_ADDR": "127.0.0.1"}):
                from flask import session
                web_sessions.start(user)
                token = generate_csrf()
                cookie = f"{cookie_name}={serializer.dumps(dict(session))}"
                store = uid - 1
                urls = {"home": url_for("stock.home", store_id=store),
                        "poll": url_for("stock.stock_list", store_id=store),
                        "sale": url_for("stock.record_movement", store_id=store),
                        "picker": url_for("stock.picker", store_id=store),
                        "add": url_for("counter.add", store_id=store),
                        "complete": url_for("counter.complete", store_id=store),
                        "reports": [url_for("reports.sales"), url_for("reports.low_stock"),
                                    url_for("reports.stock")]}
                if live_url:  # the store page's data-events (live_events.py)
                    urls["events"] = (f"{live_url}/stores/{store}/events?t="
                                      + live_events.token(app, session["_user_id"], store))
                made[uid] = (cookie, token, urls, user.role)
        db.session.remove()
        db.engine.dispose()
    return made, cookie_name


# --- the client ------------------------------------------------------------------------------

class Recorder:
    def __init__(self, record_from):
        self.record_from = record_from
        self.latencies = {}
        self.statuses = Counter()
        self.errors = Counter()
        self.skipped = 0
        self.drops = 0  # push streams that ended (server closed or failed) in the window
        self.arriving = []  # the sales' latencies while the phones were still opening pages

    def add(self, kind, due, status):
        if due < self.record_from:
            if kind == "sale" and status != "connection" and status < 400:
                self.arriving.append((time.perf_counter() - due) * 1000)
            return
        self.statuses[f"{kind} {status}"] += 1
        if status == "connection" or status >= 400:
            self.errors[kind] += 1
        else:
            self.latencies.setdefault(kind, []).append((time.perf_counter() - due) * 1000)


async def _fleet(people, cookie_name, base_url, seed, warmup, seconds, arrival_s):
    import aiohttp

    rng = random.Random(seed)
    start = time.perf_counter() + 0.5
    recorder = Recorder(start + warmup)
    deadline = start + warmup + seconds
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=1.5)
    timeout = aiohttp.ClientTimeout(total=30)
    stream_timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)  # held all evening
    tasks = []
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout,
                                     cookie_jar=aiohttp.DummyCookieJar(),
                                     auto_decompress=True) as client:

        async def send(kind, due, shop, method, url, data=None, extra=None):
            headers = {"User-Agent": USER_AGENT, "Accept": "*/*",
                       "Accept-Language": "en-PK,en;q=0.9,ur;q=0.8",
                       "Accept-Encoding": "gzip, deflate, br", "Cookie": shop["cookie"],
                       "X-CSRFToken": shop["token"], "HX-Request": "true",
                       "HX-Current-URL": base_url + shop["urls"]["home"], **(extra or {})}
            sent = time.perf_counter()
            try:
                async with client.request(method, url, data=data, headers=headers,
                                          allow_redirects=False) as response:
                    response.body = await response.read()
                    status = response.status
                    for morsel in response.cookies.values():
                        if morsel.key == cookie_name and morsel.value:
                            shop["cookie"] = f"{cookie_name}={morsel.value}"
                    recorder.add(kind, due, status)
                    if kind == "sale":  # the server's share: from the wire, not from due
                        recorder.add("sale_sent", sent, status)
                    if status == 422 and due >= recorder.record_from:  # say what was refused
                        said = REFUSAL.search(response.body)
                        recorder.statuses[f"{kind} 422: " + (
                            said[1].decode(errors="replace").strip()[:80] if said else "?")] += 1
                    return response
            except (TimeoutError, aiohttp.ClientError) as error:
                recorder.add(kind, due, "connection")
                if due >= recorder.record_from:
                    recorder.statuses[f"{kind} connection: {type(error).__name__}"] += 1
                return None

        async def poll(shop, due):
            shop["polling"], shop["polled"] = True, due
            extra = {"HX-Target": "stock-list", "HX-Trigger": "stock-list"}
            if shop["etag"]:
                extra["If-None-Match"] = shop["etag"]
            response = await send("poll", due, shop, "GET", shop["urls"]["poll"], extra=extra)
            shop["polling"] = False
            if response is None:
                return
            if response.status == 304:
                shop["quiet"] += 1
            else:
                shop["quiet"] = 0
                if response.headers.get("ETag"):
                    shop["etag"] = response.headers["ETag"]
                shown = VERSION.search(response.body)
                if shown:
                    shop["version"] = shown[1]

        async def stream(shop):
            """The list's push channel (live.js with data-events): one EventSource held open;
            a `version` event other than the list's refreshes it at once; while it is open
            the timed polls are not sent; dropped, it is opened again after the server's
            `retry` (5 s) and the polls run meanwhile."""
            headers = {"User-Agent": USER_AGENT, "Accept": "text/event-stream",
                       "Cache-Control": "no-cache", "Cookie": shop["cookie"]}
            await asyncio.sleep(max(0.0, shop["arrives"] - time.perf_counter()))
            while time.perf_counter() < deadline:
                try:
                    async with client.get(shop["urls"]["events"], headers=headers,
                                          timeout=stream_timeout) as response:
                        if response.status != 200:
                            recorder.add("stream", time.perf_counter(), response.status)
                            raise ConnectionError(response.status)
                        shop["streaming"] = True
                        event = None
                        async for line in response.content:
                            line = line.rstrip(b"\r\n")
                            if line.startswith(b"event:"):
                                event = line[6:].strip()
                            elif line.startswith(b"data:") and event == b"version":
                                on_version(shop, line[5:].strip())
                            elif not line:
                                event = None
                except (ConnectionError, aiohttp.ClientError, TimeoutError) as error:
                    if time.perf_counter() >= recorder.record_from:
                        recorder.statuses[f"stream ended: {type(error).__name__}"] += 1
                shop["streaming"] = False
                recorder.drops += time.perf_counter() >= recorder.record_from
                await asyncio.sleep(5)

        def on_version(shop, version):
            now = time.perf_counter()
            sent = shop.pop("sale_sent", None)
            if sent is not None:  # the shop's own sale, announced back to its page
                recorder.add("push", sent, 200)
            if version != shop["version"]:
                shop["version"] = version
                if not shop["polling"]:
                    tasks.append(asyncio.create_task(poll(shop, now)))

        def touch(shop):
            """A tap on the page (a sale, a basket's product, a search): after a minute
            untouched the list asks at once and the active schedule starts over (live.js)."""
            now = time.perf_counter()
            was_idle = now - shop["touched"] >= IDLE_AFTER_S
            shop["touched"] = now
            if was_idle:
                shop["quiet"] = 0
                refresh(shop)

        def refresh(shop):
            """The stock-changed event: the list asks at once, the tick count starts over."""
            now = time.perf_counter()
            shop["next_poll"] = now + 1
            if not shop["polling"]:
                tasks.append(asyncio.create_task(poll(shop, now)))

        async def write(kind, due, shop, url, data, extra=None):
            # One phone sends one write at a time: a write due while the last is still in
            # flight waits for its answer (and its latency counts from when it was due); two
            # at once would race for the session cookie the basket lives in. The cashier's
            # pauses between a basket's taps hold nothing: a quick sale due then goes at once,
            # as the shopkeeper would switch to the store page and back (the basket is kept).
            async with shop["writing"]:
                return await send(kind, due, shop, "POST", url, data=data, extra=extra)

        async def quick_sale(shop, due):
            touch(shop)
            shop["sale_sent"] = time.perf_counter()
            form = {"csrf_token": shop["token"], "type": "sale", "quantity": "1",
                    "product_id": str(rng.randint(1, database.PRODUCTS)),
                    "key": uuid.uuid4().hex}
            response = await write("sale", due, shop, shop["urls"]["sale"], form,
                                   extra={"HX-Target": "panel"})
            if response is not None and response.status < 400:
                refresh(shop)

        async def basket(shop, due):
            # One basket at a time at the counter: a customer who comes while another's basket
            # is being rung up waits their turn (a queue of people, not of the server: their
            # latency counts from when the counter is free). Quick sales on the store page go
            # on meanwhile.
            async with shop["counter"]:
                await ring_up(shop, max(due, time.perf_counter()))

        async def ring_up(shop, due):
            products = rng.sample(range(1, database.PRODUCTS + 1), rng.randint(3, 5))
            for product in products:  # the cashier taps each product (a second or two apart)
                touch(shop)
                response = await write("basket_add", due, shop, shop["urls"]["add"],
                                       {"csrf_token": shop["token"], "product_id": str(product)})
                if response is None or response.status >= 400:
                    return
                await asyncio.sleep(rng.uniform(0.5, 2.0))
                due = time.perf_counter()
            shop["sale_sent"] = time.perf_counter()
            response = await write("sale", due, shop, shop["urls"]["complete"],
                                   {"csrf_token": shop["token"], "key": uuid.uuid4().hex})
            if response is not None and response.status < 400:
                refresh(shop)

        async def search(shop, due):
            # Active search (hx-trigger "input changed delay:300ms"): a request per pause in
            # the typing, here two.
            for q in ("ben", f"bench+product+00{rng.randint(1, 5)}"):
                touch(shop)
                await send("search", due, shop, "GET", f"{shop['urls']['picker']}?q={q}",
                           extra={"HX-Target": "picker-results"})
                await asyncio.sleep(rng.uniform(0.5, 1.5))
                due = time.perf_counter()

        async def phone(shop):
            sale_rate = SALES_PER_MINUTE / 60
            search_rate = SEARCHES_PER_MINUTE / 60
            now = shop["arrives"]
            shop["next_poll"] = now
            shop["touched"] = now - rng.uniform(0, IDLE_AFTER_S)  # the evening is under way
            next_sale = now + rng.expovariate(sale_rate) if sale_rate else float("inf")
            next_search = now + rng.expovariate(search_rate) if search_rate else float("inf")
            while True:
                due = min(shop["next_poll"], next_sale, next_search)
                if due >= deadline:
                    return
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if due == next_sale:
                    work = basket if rng.random() < BASKET_SHARE else quick_sale
                    tasks.append(asyncio.create_task(work(shop, due)))
                    next_sale += rng.expovariate(sale_rate)
                elif due == next_search:
                    tasks.append(asyncio.create_task(search(shop, due)))
                    next_search += rng.expovariate(search_rate)
                else:
                    if shop["streaming"] and due - shop["polled"] < STREAM_POLL_S:
                        pass  # the push channel is open: no timed poll (live.js)
                    elif shop["polling"]:
                        if due >= recorder.record_from:
                            recorder.skipped += 1
                    else:
                        tasks.append(asyncio.create_task(poll(shop, due)))
                    shop["next_poll"] = due + poll_every(shop["quiet"], due - shop["touched"])

        async def manager(person):
            due = start + rng.uniform(0, REPORT_SECONDS)
            while due < deadline:
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                url = rng.choice(person["urls"]["reports"])
                tasks.append(asyncio.create_task(send("report", due, person, "GET", url,
                                                      extra={"HX-Request": "false"})))
                due += REPORT_SECONDS

        shops = [{"cookie": c, "token": t, "urls": u, "etag": None, "quiet": 0,
                  "polling": False, "touched": 0.0, "writing": asyncio.Lock(),
                  "counter": asyncio.Lock(),
                  "streaming": False, "version": None, "polled": 0.0}
                 for c, t, u, role in people if role == "shopkeeper"]
        managers = [{"cookie": c, "token": t, "urls": u} for c, t, u, role in people
                    if role == "manager"]
        usage = resource.getrusage(resource.RUSAGE_SELF)
        for shop in shops:  # the phones come in over the warm-up, not all in one second
            shop["arrives"] = start + rng.uniform(0, arrival_s)
        async def loop_lag():
            """How late this client's own event loop wakes a 10 ms timer: a late loop would
            count its own lag as the server's latency."""
            while time.perf_counter() < deadline:
                asked = time.perf_counter() + 0.01
                await asyncio.sleep(0.01)
                recorder.add("client_lag", asked, 200)

        runners = [phone(s) for s in shops] + [manager(m) for m in managers]
        streams = [asyncio.create_task(stream(s)) for s in shops if s["urls"].get("events")]
        lag = asyncio.create_task(loop_lag())
        await asyncio.gather(*runners)
        await lag
        measured_usage = resource.getrusage(resource.RUSAGE_SELF)
        for task in streams:  # held open all evening: the evening is over
            task.cancel()
        await asyncio.gather(*streams, return_exceptions=True)
        while tasks:  # whatever is still in flight is answered (or times out) before the end
            pending, tasks[:] = list(tasks), []
            await asyncio.gather(*pending)
    client_seconds = (measured_usage.ru_utime + measured_usage.ru_stime
                      - usage.ru_utime - usage.ru_stime)
    return (recorder.latencies, dict(recorder.errors), dict(recorder.statuses),
            recorder.skipped, recorder.drops, recorder.arriving, client_seconds * seconds / (warmup + seconds + 0.5))


def _client_process(people, cookie_name, base_url, seed, warmup, seconds, arrival_s):
    gc.freeze()  # bench/load.py: no collection pause counted as the server's latency
    gc.disable()
    # uvloop: the phones' client shares this machine's two cores with the servers it measures;
    # on asyncio's own loop it spent ~15 % of the machine at 2,000 shops.
    import uvloop

    return uvloop.run(_fleet(people, cookie_name, base_url, seed, warmup, seconds, arrival_s))


def _percentile(values, p):
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else None


def _worker_seconds(pid):
    """CPU seconds of a process and its children (worker.py forks RQ's scheduler)."""
    try:
        own = cpu._ticks(Path(f"/proc/{pid}/stat").read_text()) / cpu.TICKS
        return own + cpu.workers_seconds(pid)
    except OSError:
        return 0.0


def _start_live(url, port):
    """live.py on `port`, configured as the app gunicorn serves (bench.wsgi's secret)."""
    import subprocess

    env = {**os.environ, "APP_ENV": "production", "SECRET_KEY": "bench-only-secret",
           "DATABASE_URL": url, "REDIS_URL": run.REDIS_URL, "LOG_LEVEL": "WARNING"}
    with open(HERE / "fleet-live.log", "w") as log:  # the child keeps its own descriptor
        server = subprocess.Popen([sys.executable, "live.py", "--port", str(port)],
                                  cwd=HERE.parent, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            raise RuntimeError("live.py exited; see bench/fleet-live.log")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("live.py did not listen in time")


def measure(n, made, cookie_name, base_url, gunicorn_pid, worker_pid, live_pid=None):
    """One fleet of n shops (and the managers): its warm-up (the phones arriving at
    ARRIVALS_PER_SECOND, then SETTLE s), then SECONDS measured; its figures."""
    arrival_s = n / ARRIVALS_PER_SECOND
    warmup = max(WARMUP, arrival_s + SETTLE)
    people = [made[s + 1] for s in range(1, n + 1)] + [
        made[uid] for uid in sorted(made) if made[uid][3] == "manager"]
    parts = [people[i::PROCESSES] for i in range(PROCESSES)]
    marks = {}
    timer = threading.Timer(warmup + 0.5, lambda: marks.update(
        start=cpu.snapshot(gunicorn_pid), worker=_worker_seconds(worker_pid),
        live=_worker_seconds(live_pid) if live_pid else 0.0))
    timer.start()
    context = multiprocessing.get_context("fork")
    with context.Pool(PROCESSES) as pool:
        results = pool.starmap(_client_process, [
            ([p[:4] for p in part], cookie_name, base_url, seed, warmup, SECONDS, arrival_s)
            for seed, part in enumerate(parts)])
    end, worker_end = cpu.snapshot(gunicorn_pid), _worker_seconds(worker_pid)
    live_end = _worker_seconds(live_pid) if live_pid else 0.0
    timer.cancel()
    if "start" not in marks:
        raise RuntimeError("the fleet's warm-up mark never fired")
    latencies, errors, statuses, skipped, drops, client = {}, Counter(), Counter(), 0, 0, 0.0
    arriving = []
    for (part_latencies, part_errors, part_statuses, part_skipped, part_drops, part_arriving,
         part_client) in results:
        arriving += part_arriving
        for kind, values in part_latencies.items():
            latencies.setdefault(kind, []).extend(values)
        errors.update(part_errors)
        statuses.update(part_statuses)
        skipped += part_skipped
        drops += part_drops
        client += part_client
    spent = cpu.spent(marks["start"], end)
    shop_minutes = n * SECONDS / 60
    per_shop_minute = {"app": spent["app"], "postgres": spent["postgres"],
                       "redis": spent["redis"], "worker": worker_end - marks["worker"],
                       "live": live_end - marks["live"], "client": client}
    per_shop_minute = {k: round(v * 1000 / shop_minutes, 2) for k, v in per_shop_minute.items()}
    per_shop_minute["machine"] = round(spent["machine"] * 1000 / shop_minutes, 2)
    sales = latencies.get("sale", [])
    figures = {
        "shops": n, "seconds": SECONDS, "warmup_s": round(warmup, 1),
        "sale_p50_ms": _percentile(sales, 0.5), "sale_p99_ms": _percentile(sales, 0.99),
        "poll_p50_ms": _percentile(latencies.get("poll", []), 0.5),
        "poll_p99_ms": _percentile(latencies.get("poll", []), 0.99),
        # A sale's latency from when it was sent (the rest of sale_p99 is the phone's own
        # queue: a write due while its last one is in flight waits for it), and how late the
        # client's own event loop woke a 10 ms timer.
        "sale_sent_p99_ms": _percentile(latencies.get("sale_sent", []), 0.99),
        "client_lag_p99_ms": _percentile(latencies.get("client_lag", []), 0.99),
        # Not a limit, for the record: sales while the phones were still opening their pages.
        "arriving_sale_p99_ms": _percentile(arriving, 0.99),
        "search_p99_ms": _percentile(latencies.get("search", []), 0.99),
        "report_p99_ms": _percentile(latencies.get("report", []), 0.99),
        "per_second": {kind: round(len(v) / SECONDS, 1) for kind, v in latencies.items()
                       if kind not in ("sale_sent", "client_lag")},
        "errors": sum(errors.values()), "errors_by_kind": dict(errors),
        "push_p99_ms": _percentile(latencies.get("push", []), 0.99),
        "polls_skipped_in_flight": skipped, "streams_dropped": drops,
        "statuses": dict(statuses),
        "cpu_ms_per_shop_minute": per_shop_minute,
        "cpu_ms_per_sale_machine": round(spent["machine"] * 1000 / max(len(sales), 1), 2),
        "stolen_s": round(spent["stolen"], 1), "load_average": os.getloadavg()[0],
    }
    figures["met"] = (figures["errors"] == 0 and bool(sales)
                      and figures["sale_p99_ms"] < SALE_P99_MS
                      and figures["poll_p99_ms"] is not None
                      and figures["poll_p99_ms"] < POLL_P99_MS)
    return figures


def main():
    started = time.time()
    prefix = f"kiryana-fleet-{uuid.uuid4().hex[:8]}:"
    os.environ.update(REDIS_KEY_PREFIX=prefix, RQ_QUEUE_PREFIX=prefix)
    live_port = run._free_port()
    live_url = f"http://127.0.0.1:{live_port}" if PUSH else None
    worker = live = None
    by_size = {}
    with shops_database(max(SIZES), MANAGERS, prefix, live_url) as (url, made, cookie_name):
        print(f"seeded {database.STORES} stores x {database.PRODUCTS} products, "
              f"{len(made)} sessions", flush=True)
        try:
            with run.gunicorn(url, prefix) as (base_url, pid):
                worker = soak._start_worker(url, prefix)
                live = _start_live(url, live_port) if PUSH else None
                for n in SIZES:
                    figures = measure(n, made, cookie_name, base_url, pid, worker.pid,
                                      live.pid if live else None)
                    by_size[str(n)] = figures
                    print(json.dumps({k: figures[k] for k in (
                        "shops", "sale_p50_ms", "sale_p99_ms", "sale_sent_p99_ms", "poll_p99_ms", "push_p99_ms",
                        "client_lag_p99_ms", "arriving_sale_p99_ms", "warmup_s",
                        "errors", "per_second", "cpu_ms_per_shop_minute", "met")}), flush=True)
            invariant = database.check_invariant(url, 0)
        finally:
            for process in (worker, live):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=30)
    max_shops = 0
    for n in SIZES:  # the largest N such that it and every smaller N met the limits
        if not by_size[str(n)]["met"]:
            break
        max_shops = n
    failures = [f"N={n}: {f['errors']} errors {f['errors_by_kind']}"
                for n, f in by_size.items() if f["errors"]]
    if max_shops < TARGET_SHOPS:
        failures.append(f"max_shops {max_shops} < target {TARGET_SHOPS}")
    if invariant["balance_after_violations"] or invariant["level_violations"]:
        failures.append(f"invariant 1 violated: {invariant}")
    report = {
        "max_shops": max_shops, "target_shops": TARGET_SHOPS,
        "limits": {"sale_p99_ms": SALE_P99_MS, "poll_p99_ms": POLL_P99_MS, "errors": 0},
        "sizes": by_size, "invariant_1": invariant, "failures": failures,
        "settings": {"seconds": SECONDS, "warmup_min_s": WARMUP, "settle_s": SETTLE,
                     "arrivals_per_second": ARRIVALS_PER_SECOND, "products": database.PRODUCTS,
                     "sales_per_shop_minute": SALES_PER_MINUTE, "basket_share": BASKET_SHARE,
                     "searches_per_shop_minute": SEARCHES_PER_MINUTE, "managers": MANAGERS,
                     "report_every_s": REPORT_SECONDS, "client_processes": PROCESSES,
                     "live_list": "push (live.py)" if PUSH else "polling",
                     "gunicorn": f"{run.WORKERS} x {run.WORKER_CLASS} x {run.THREADS}"},
        "machine": run._machine(), "elapsed_s": round(time.time() - started, 1),
    }
    run.save(fleet=report)
    print(f"max_shops {max_shops} (target {TARGET_SHOPS}); written to {run.RESULTS}")
    for reason in failures:
        print(f"FAILED: {reason}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
