"""`python -m bench.page_roundtrips [requests]`: database and Redis round trips per page request
of the fleet's phone (bench/fleet.py): a quick sale from the store page (POST
/stores/<id>/movements, htmx), a live list refresh answered 200 (GET /stores/<id>/stock, no
If-None-Match) and one answered 304, and a picker search (GET /stores/<id>/picker?q=...).
Counted at the client libraries as bench/roundtrips.py counts them, on a fresh bench database
with shopkeepers' sessions made by the app's own login. `-v` prints one request's statements.
"""
import os
import random
import sys
import uuid

os.environ.setdefault("BENCH_STORES", "30")
os.environ.setdefault("BENCH_PRODUCTS", "60")
PREFIX = f"kiryana-prt-{uuid.uuid4().hex[:8]}:"
os.environ.update(REDIS_KEY_PREFIX=PREFIX, RQ_QUEUE_PREFIX=PREFIX)

import redis.connection

from bench import database, fleet, roundtrips  # after the settings above

STATEMENTS = []


def _requests(rng, people):
    cookie, token, urls, _ = rng.choice(people)
    headers = {"Cookie": cookie, "X-CSRFToken": token, "HX-Request": "true",
               "User-Agent": fleet.USER_AGENT}
    sale = {"csrf_token": token, "type": "sale", "quantity": "1",
            "product_id": str(rng.randint(1, database.PRODUCTS)), "key": uuid.uuid4().hex}
    return {
        "quick_sale": ("POST", urls["sale"], sale, {**headers, "HX-Target": "panel"}),
        "list_200": ("GET", urls["poll"], None, {**headers, "HX-Target": "stock-list"}),
        "list_304": ("GET", urls["poll"], None, {**headers, "HX-Target": "stock-list"}),
        "picker": ("GET", urls["picker"] + "?q=ben", None,
                   {**headers, "HX-Target": "picker-results"}),
    }


def measure(client, people, count, verbose=False):
    rng = random.Random(7)
    totals = {}
    etags = {}
    for i in range(count + 20):
        for kind, (method, url, data, headers) in _requests(rng, people).items():
            if kind == "list_304":
                if url not in etags:
                    continue
                headers = {**headers, "If-None-Match": etags[url]}
            roundtrips.COUNTS.update(database=0, redis=0)
            STATEMENTS.clear()
            response = client.open(url, method=method, data=data, headers=headers)
            assert response.status_code < 400, (kind, response.status_code)
            if kind == "list_200":
                etags[url] = response.headers.get("ETag")
            if kind == "list_304" and response.status_code != 304:
                continue
            if i >= 20:
                got = totals.setdefault(kind, {"database": 0, "redis": 0, "n": 0})
                got["database"] += roundtrips.COUNTS["database"]
                got["redis"] += roundtrips.COUNTS["redis"]
                got["n"] += 1
            if verbose and i == 20:
                print(f"--- {kind} ({response.status_code})")
                for statement in STATEMENTS:
                    print("   ", " ".join(statement.split())[:60], statement.split("  <- ")[-1]
                          if "  <- " in statement else "")
    return {kind: {k: round(v / got["n"], 2) for k, v in got.items() if k != "n"}
            for kind, got in totals.items()}


class _Cursor(roundtrips._Cursor):
    def execute(self, query, *args, **kwargs):
        text = query if isinstance(query, str) else query.decode()
        if os.environ.get("PAGE_RT_STACKS"):
            import traceback
            frames = [f for f in traceback.extract_stack()[:-1] if "/webapp/" in f.filename]
            text += "  <- " + " < ".join(f"{f.filename.split('/webapp/')[1]}:{f.lineno}"
                                         for f in frames[-4:])
        STATEMENTS.append(text)
        return super().execute(query, *args, **kwargs)


class _Connection(roundtrips._Connection):
    def cursor(self, *args, **kwargs):
        kwargs.setdefault("cursor_factory", _Cursor)
        return super().cursor(*args, **kwargs)


def main(count=200, verbose=False):
    with fleet.shops_database(database.STORES, 0, PREFIX) as (_, made, _):
        from bench.wsgi import BenchConfig
        from webapp import create_app

        app = create_app(type("PageRoundTrips", (BenchConfig,), {"SQLALCHEMY_ENGINE_OPTIONS": {
            "connect_args": {"connection_factory": _Connection}, "pool_recycle": 300}}))
        redis.connection.AbstractConnection.send_packed_command = roundtrips._counted_send
        try:
            found = measure(app.test_client(use_cookies=False), list(made.values()), count,
                            verbose)
        finally:
            redis.connection.AbstractConnection.send_packed_command = roundtrips._send
        for kind, counts in found.items():
            print(f"{kind:<11} database {counts['database']:>5}  redis {counts['redis']:>5}")
        return found


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "-v"]
    main(int(args[0]) if args else 200, "-v" in sys.argv)
