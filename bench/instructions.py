"""`python -m bench.instructions`: CPU instructions per sale, basket and cached read, counted by
valgrind's callgrind with the app in-process: the same figure every run, however busy the
machine, so a small change can be judged without `python -m bench.compare`'s side by side.

Seeds a small bench database (INSTRUCTIONS_STORES × INSTRUCTIONS_PRODUCTS, 50 × 50), then runs
this module again under `valgrind --tool=callgrind --instr-atstart=no`: the app is built and
warmed up (WARMUP requests of each kind) uninstrumented, and each kind's COUNT requests
(INSTRUCTIONS_COUNT, 100) are counted between callgrind's client requests (a five-line C
helper compiled here with the system's valgrind/callgrind.h and called through ctypes): zero
the counters, run, dump. Only this process's instructions are counted: PostgreSQL's and
Redis's work is theirs (bench/cpu.py splits the machine's time under load).

The requests are the API's, through the WSGI app (no HTTP server, no socket to a client):
  sale        POST /api/v1/movements, one unit of a random row (bench.scenarios.sale_random)
  basket      POST /api/v1/sales, five lines (bench.scenarios.basket5)
  cached_read GET /api/v1/stores/1/stock/1, the same row each time: always the cache's answer
  healthz     GET /healthz: `make bench`'s ceiling for the cached read
  poll_unchanged  the store page's live list asking again (GET /stores/1/stock, htmx headers,
              If-None-Match, a logged-in session cookie): 304 (static/js/live.js's poll)
  page_list   the same list when it changed: 200, its 50 rows rendered
  page_search the picker's active search (GET /stores/1/picker?q=bench+product+00…)
  page_sale   a quick sale from the store page (htmx form POST: CSRF token, `key`), answered
              with the panel and the stock-changed trigger
  page_basket_add  a tap on a product at the counter (htmx POST /stores/1/basket/add, CSRF
              token, product_id), answered with the basket; the basket lives in the session
              cookie the client keeps, and starts empty again every BASKET_LINES adds (the
              fleet's baskets are 3-5 lines)
  page_basket_complete  Complete on a basket of BASKET_LINES lines (htmx POST
              /stores/1/basket/complete, CSRF token, `key`): the sale, answered 204 with
              HX-Redirect to its receipt; each request's cookie carries its own basket
The page kinds are what `make bench-fleet`'s phones send; docs/scaling.md multiplies them by
a shop's requests per minute.
INSTRUCTIONS_KINDS picks some of them. Merged into bench/results.json (BENCH_RESULTS) under
"instructions". Needs valgrind and a C
compiler (`apt-get install -y valgrind gcc`).
"""
import ctypes
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("BENCH_STORES", os.environ.get("INSTRUCTIONS_STORES", "50"))
os.environ.setdefault("BENCH_PRODUCTS", os.environ.get("INSTRUCTIONS_PRODUCTS", "50"))

HERE = Path(__file__).resolve().parent
COUNT = int(os.environ.get("INSTRUCTIONS_COUNT", "100"))
WARMUP = int(os.environ.get("INSTRUCTIONS_WARMUP", "60"))
KINDS = ("sale", "basket", "cached_read", "healthz", "poll_unchanged", "page_list",
         "page_search", "page_sale", "page_basket_add", "page_basket_complete")
PAGE_KINDS = ("poll_unchanged", "page_list", "page_search", "page_sale", "page_basket_add",
              "page_basket_complete")
BASKET_LINES = 4
# A few of them only (comma-separated), for a quick before/after of one path.
KINDS = tuple(k for k in KINDS if k in os.environ.get("INSTRUCTIONS_KINDS", ",".join(KINDS))
              .split(","))

HELPER_C = r"""
#include <valgrind/callgrind.h>
void kiryana_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void kiryana_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
void kiryana_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; }
"""


POLL = ("GET", "/stores/1/stock", None)


def _requests(kind, cookie):
    """`cookie(baskets)`: the logged-in session cookie with these baskets in it."""
    from bench import scenarios

    if kind in ("poll_unchanged", "page_list"):
        return lambda rng: POLL
    if kind == "page_search":
        return lambda rng: ("GET", f"/stores/1/picker?q=bench+product+00{rng.randint(1, 4)}",
                            None)
    if kind == "page_sale":
        from bench import database

        return lambda rng: ("POST", "/stores/1/movements", {"form": {
            "type": "sale", "quantity": "1", "product_id": str(rng.randint(1, database.PRODUCTS)),
            "key": uuid.uuid4().hex}})
    if kind == "page_basket_add":
        from bench import database

        added = iter(range(10**9))
        empty = cookie({})

        def add(rng):
            body = {"form": {"product_id": str(rng.randint(1, database.PRODUCTS))}}
            if next(added) % BASKET_LINES == 0:  # the last basket was completed
                body["cookie"] = empty
            return "POST", "/stores/1/basket/add", body
        return add
    if kind == "page_basket_complete":
        from bench import database

        def complete(rng):
            products = rng.sample(range(1, database.PRODUCTS + 1), BASKET_LINES)
            lines = [[pid, "q", "1"] for pid in products]
            return "POST", "/stores/1/basket/complete", {
                "form": {"key": uuid.uuid4().hex},
                "cookie": cookie({"1": {"lines": lines, "key": uuid.uuid4().hex}})}
        return complete
    if kind == "healthz":
        return scenarios.trivial
    if kind == "sale":
        return scenarios.sale_random
    if kind == "basket":
        return scenarios.basket5
    return lambda rng: ("GET", "/api/v1/stores/1/stock/1", None)


def _compile(folder):
    source, library = folder / "callgrind_helper.c", folder / "callgrind_helper.so"
    source.write_text(HELPER_C)
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)],
                   check=True)
    return library


def child(library, token):
    """Under callgrind: build the app, warm each kind up, count COUNT requests of each."""
    import gc

    from bench.wsgi import app
    from config import Config

    helper = ctypes.CDLL(library)
    # As a gunicorn worker (gunicorn.conf.py): what the app loaded is out of the collector's
    # way, and young objects are collected every GC_YOUNG allocations.
    gc.freeze()
    gc.set_threshold(Config.GC_YOUNG, *gc.get_threshold()[1:])

    api, browser = app.test_client(), app.test_client()
    page_headers, cookie = _logged_in(app, browser)
    for kind in KINDS:
        client, headers = api, {"Authorization": f"Bearer {token}"}
        if kind in PAGE_KINDS:
            client, headers = browser, dict(page_headers)
            if kind == "poll_unchanged":  # the list as it is now (the sales above moved it)
                headers["If-None-Match"] = browser.get(POLL[1], headers=headers).headers["ETag"]
        make, rng = _requests(kind, cookie), random.Random(KINDS.index(kind) + 1)
        for _ in range(WARMUP):
            _send(client, headers, *make(rng))
        requests = [make(rng) for _ in range(COUNT)]
        gc.collect()
        helper.kiryana_start()
        for request in requests:
            _send(client, headers, *request)
        helper.kiryana_dump(kind.encode())
        helper.kiryana_stop()


def _logged_in(app, client):
    """The bench admin's browser session on `client`, made by the app's own login; the
    headers htmx sends with the live list's poll, its ETag included, and cookie(baskets): the
    same session's cookie value with these baskets (the counter's) in it."""
    from flask import session
    from flask_wtf.csrf import generate_csrf

    from webapp.extensions import db
    from webapp.models import User
    from webapp.web import sessions

    with app.test_request_context("/login", method="POST",
                                  environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        sessions.start(db.session.get(User, 1))
        token = generate_csrf()
        serializer = app.session_interface.get_signing_serializer(app)
        logged_in = dict(session)
        value = serializer.dumps(logged_in)
        db.session.remove()
    client.set_cookie(app.config["SESSION_COOKIE_NAME"], value)
    headers = {"HX-Request": "true", "HX-Target": "stock-list", "HX-Trigger": "stock-list",
               "X-CSRFToken": token, "HX-Current-URL": "http://localhost/stores/1/"}

    def cookie(baskets):
        return serializer.dumps({**logged_in, "baskets": baskets} if baskets else logged_in)
    return headers, cookie


def _send(client, headers, method, path, body):
    if body and "cookie" in body:  # the phone's cookie as this request finds it
        client.set_cookie(client.application.config["SESSION_COOKIE_NAME"], body["cookie"])
    if body and "form" in body:
        form = {**body["form"], "csrf_token": headers["X-CSRFToken"]}
        response = client.open(path, method=method, data=form, headers=headers)
    else:
        response = client.open(path, method=method, json=body, headers=headers)
    expected = 304 if "If-None-Match" in headers else 200
    if path == POLL[1] and response.status_code != expected:
        raise SystemExit(f"the live list was answered {response.status_code}, not {expected}")
    if response.status_code >= 400:  # a refused request would count the wrong work
        raise SystemExit(f"{method} {path}: {response.status_code} "
                         f"{response.get_data(as_text=True)[:300]}")


def _totals(folder):
    """{kind: instructions} from the dumps callgrind wrote (one per kiryana_dump)."""
    found = {}
    for dump in folder.glob("callgrind.out*"):
        text = dump.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: Client Request: (\S+)", text, re.MULTILINE)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
        if trigger and total and trigger.group(1) in KINDS:
            found[trigger.group(1)] = int(total.group(1))
    return found


def main():
    from bench import database, run

    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    started = time.time()
    url = database.create()
    prefix = f"kiryana-instructions-{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp(prefix="kiryana-callgrind-"))
    try:
        token = database.migrate_and_make_token(url)
        database.seed(url)
        library = _compile(folder)
        # Under valgrind a request takes ~50 times as long, so the API's 5 s token cache
        # expired every few dozen requests and its lookups (ORM queries) were counted into a
        # sale as the machine's load happened to stretch the run (3.6 M one run, 4.2 M another):
        # an hour, as a cache warm under production load behaves.
        env = {"API_TOKEN_CACHE_SECONDS": "3600", **os.environ,
               "BENCH_DATABASE_URL": database.sqlalchemy_url(url),
               "REDIS_URL": run.REDIS_URL, "BENCH_KEY_PREFIX": prefix, "APP_ENV": "production",
               "PYTHONHASHSEED": "0"}
        command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={folder}/callgrind.out.%p",
                   sys.executable, "-m", "bench.instructions", "--child", str(library), token]
        done = subprocess.run(command, cwd=HERE.parent, env=env, capture_output=True, text=True,
                              check=False)
        if done.returncode:
            raise SystemExit(f"the counted run failed ({done.returncode}):\n"
                             + done.stdout[-3000:] + done.stderr[-3000:])
        totals = _totals(folder)
    finally:
        database.drop(url)
        run._clear_redis(prefix)
        shutil.rmtree(folder, ignore_errors=True)
    missing = [kind for kind in KINDS if kind not in totals]
    if missing:
        raise SystemExit(f"callgrind wrote no count for {missing}")
    report = {"per_request": {kind: round(totals[kind] / COUNT) for kind in KINDS},
              "requests_counted": COUNT, "warmup_requests": WARMUP,
              "stores": database.STORES, "products": database.PRODUCTS,
              "python": sys.version.split()[0], "elapsed_s": round(time.time() - started, 1),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    run.save(instructions=report)
    for kind, n in report["per_request"].items():
        print(f"{kind:<12} {n:>12,} instructions per request")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
