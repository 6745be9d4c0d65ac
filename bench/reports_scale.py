"""Reports at scale: build 2,000 stores × 1,000 products and 10,000,000 movements on
PostgreSQL, then time every report page and API call (p50/p95) and merge the figures into
bench/results.json (BENCH_RESULTS) under "reports".

    python -m bench.reports_scale            # full size (about 5 minutes on 2 cores)
    python -m bench.reports_scale --stores 200 --runs 10 --keep
    python -m bench.reports_scale --reuse kiryana_bench_reports_ab12cd34   # measure again
    python -m bench.reports_scale --stores 20 --products 100 --runs 1 --writes 20 --no-save

Beside the stock ledger the data set has the money and expiry side (bench/money_data.py):
counter sales paid every way, 100 customers a store with their khata, supplier dues, a month of
closings, and batches of the products that track expiry; the roll-ups and summaries are built
by the app's own refresh (report_rollups.refresh(full=True)).

Requests go through the whole Flask stack in-process (test client: routing, login, the
query, templates or JSON), one at a time, so the figures are server time without the network.
The database is dropped at the end unless --keep.
"""
import argparse
import json
import os
import random
import statistics
import time
import uuid
from datetime import datetime, timedelta, timezone

import psycopg2

from bench import reports_data
from bench import run as bench_run
from config import sqlalchemy_url
from tests.services import PG_ADMIN_URL as ADMIN_URL
from tests.services import create_database, drop_database

TARGET_P95_MS = 300  # every report but the 365-day all-store range (issue 28)


def _url(name):
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


# Redis as in production (the movement list keeps its closed months' counts there), under a
# prefix of this run's own, removed at the end.
PREFIX = f"kiryana-bench-reports-{uuid.uuid4().hex[:8]}:"


def _app(name):
    from config import TestingConfig
    from webapp import create_app

    overrides = {"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(_url(name)),
                 "REDIS_URL": bench_run.REDIS_URL, "REDIS_KEY_PREFIX": PREFIX,
                 "RQ_QUEUE_PREFIX": PREFIX,
                 # The worker's refresh is timed on its own below, not inside page timings.
                 "REPORTS_ROLLUP_MAX_AGE": 10 ** 9,
                 "LOG_LEVEL": "WARNING"}  # no request log line between the figures
    return create_app(type("BenchConfig", (TestingConfig,), overrides))


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _time(client, url, runs, headers=None):
    for _ in range(2):
        client.get(url, headers=headers).get_data()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        response.get_data()
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
    return {"p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(_percentile(samples, 0.95), 1), "max_ms": round(max(samples), 1)}


def _urls(today, store, keeper_store, customer, supplier):
    d = lambda days: (today - timedelta(days=days)).isoformat()  # noqa: E731
    pages = [
        ("stock, all stores, by product", "/reports/stock"),
        ("stock, by store", "/reports/stock?sort=store"),
        ("stock, category filter", "/reports/stock?category=Dairy"),
        ("stock, city filter, by store desc", "/reports/stock?city=Lahore&sort=store&desc=1"),
        ("stock, search", "/reports/stock?q=cheeni"),
        ("stock, one store by quantity", f"/reports/stock?store_id={store}&sort=quantity"),
        ("stock, page 200", "/reports/stock?page=200"),
        ("low stock, all stores", "/reports/low-stock"),
        ("low stock, one store", f"/reports/low-stock?store_id={store}"),
        ("low stock, city", "/reports/low-stock?city=Karachi"),
        ("low stock, category", "/reports/low-stock?category=Tea"),
        ("valuation, all stores", "/reports/valuation"),
        ("valuation, one store", f"/reports/valuation?store_id={store}"),
        ("valuation, city", "/reports/valuation?city=Multan"),
        ("sales, 28 days", "/reports/sales"),
        ("sales, 7 days", f"/reports/sales?from={d(6)}"),
        ("sales, 90 days", f"/reports/sales?from={d(89)}"),
        ("sales, one store, 365 days", f"/reports/sales?store_id={store}&from={d(364)}"),
        ("movements, 28 days", "/reports/movements"),
        ("movements, 90 days", f"/reports/movements?from={d(89)}"),
        ("movements, one store, 365 days", f"/reports/movements?store_id={store}&from={d(364)}"),
        ("history, all stores", "/history"),
        ("history, one store", f"/history?store={store}"),
        ("history, one product", "/history?product=7"),
        ("history, one store, sales, 90 days", f"/history?store={store}&type=sale"
                                               f"&date_from={d(89)}"),
        ("csv: sales by store, 28 days", "/reports/sales.csv?by=store"),
        ("csv: valuation", "/reports/valuation.csv"),
        ("csv: low stock, one store", f"/reports/low-stock.csv?store_id={store}"),
        # The money reports (issue 25) and the expiry report (issue 26).
        ("receivables, all stores", "/reports/receivables"),
        ("receivables, one store", f"/reports/receivables?store_id={store}"),
        ("csv: receivables, one store", f"/reports/receivables.csv?store_id={store}"),
        ("cash book, one store, yesterday", f"/reports/cash-book?store_id={store}&day={d(1)}"),
        ("cash book, one store, today", f"/reports/cash-book?store_id={store}"),
        ("csv: cash book, one store", f"/reports/cash-book.csv?store_id={store}&day={d(1)}"),
        ("csv: cash book, all stores, yesterday", f"/reports/cash-book.csv?day={d(1)}"),
        ("csv: sales by method, 28 days", "/reports/sales-methods.csv"),
        ("csv: sales by method, 90 days", f"/reports/sales-methods.csv?from={d(89)}"),
        ("money: owed to suppliers, receivables, closings", "/money"),
        ("money, closings page 10", "/money?page=10"),
        ("customers of one store, who owes most", f"/stores/{store}/customers"),
        ("a customer's ledger", f"/stores/{store}/customers/{customer}"),
        ("a customer's statement", f"/stores/{store}/customers/{customer}/statement"),
        ("expiring, all stores, 30 days", "/reports/expiring"),
        ("expiring, all stores, 7 days", "/reports/expiring?within_days=7"),
        ("expiring, one store", f"/reports/expiring?store_id={store}"),
        ("expiring, page 50", "/reports/expiring?page=50"),
        ("csv: expiring, one store", f"/reports/expiring.csv?store_id={store}"),
        ("store's expiring list", f"/stores/{store}/expiring"),
    ]
    keeper = [
        ("shopkeeper: sales, 28 days", "/reports/sales"),
        ("shopkeeper: valuation", "/reports/valuation"),
        ("shopkeeper: low stock", "/reports/low-stock"),
        ("shopkeeper: stock", "/reports/stock"),
        ("shopkeeper: api sales", f"/api/v1/reports/sales?store_id={keeper_store}"),
    ]
    api = [
        ("api: low stock, all stores", "/api/v1/reports/low-stock"),
        ("api: low stock, one store", f"/api/v1/reports/low-stock?store_id={store}"),
        ("api: valuation, all stores", "/api/v1/reports/valuation"),
        ("api: valuation, one store", f"/api/v1/reports/valuation?store_id={store}"),
        ("api: sales, 28 days", "/api/v1/reports/sales"),
        ("api: sales, 90 days", f"/api/v1/reports/sales?from={d(89)}"),
        ("api: sales, one store, 365 days",
         f"/api/v1/reports/sales?store_id={store}&from={d(364)}"),
        ("api: movements, 28 days", "/api/v1/reports/movements"),
        ("api: movement list, all stores (counted)", "/api/v1/movements"),
        ("api: movement list, one store", f"/api/v1/movements?store_id={store}"),
        ("api: movement list, one product", "/api/v1/movements?product_id=7"),
        ("api: movement list, sales, 7 days", f"/api/v1/movements?type=sale&from={d(6)}"),
        ("api: customers, all stores, who owes most", "/api/v1/customers"),
        ("api: customers, one store", f"/api/v1/customers?store_id={store}"),
        ("api: a customer's ledger", f"/api/v1/customers/{customer}/ledger"),
        ("api: closings, one store", f"/api/v1/stores/{store}/closings"),
        ("api: a supplier's ledger, one store",
         f"/api/v1/suppliers/{supplier}/ledger?store_id={store}"),
        ("api: expiring, all stores, 30 days", "/api/v1/reports/expiring"),
        ("api: expiring, one store, 7 days",
         f"/api/v1/reports/expiring?store_id={store}&within_days=7"),
    ]
    wide = [
        ("sales, all stores, 365 days (widest range)", f"/reports/sales?from={d(364)}"),
        ("api: sales, all stores, 365 days (widest range)", f"/api/v1/reports/sales?from={d(364)}"),
    ]
    # Every row of every store's book in one file (200,000 customers, ~36,000 batches): their
    # time grows with the data by nature, so they are timed (fewer runs) but not held to the
    # 300 ms a report page gets.
    exports = [
        ("export: receivables csv, every customer of every store", "/reports/receivables.csv"),
        ("export: expiring csv, all stores, 7 days", "/reports/expiring.csv?within_days=7"),
    ]
    return pages, keeper, api, wide, exports


def _login(client, user):
    from webapp.web.sessions import cookie_id

    with client.session_transaction() as session:
        session["_user_id"] = cookie_id(user)  # the id a real login stores (generation, time)
        session["_fresh"] = True


def _measure(app, runs, stores, log):
    from tests.factories import ADMIN, make_user
    from webapp.services import accounts, reports

    with app.app_context():
        suffix = uuid.uuid4().hex[:6]
        manager = make_user(role="manager", username=f"bench-manager-{suffix}")
        # The shopkeeper's two stores: 42 and 43 at full scale, the last two of a small build.
        keeper_store = min(42, max(1, stores - 1))
        from webapp.extensions import db
        from webapp.models import Store
        keeper = make_user(role="shopkeeper", username=f"bench-keeper-{suffix}",
                           stores=[db.session.get(Store, store_id) for store_id in
                                   (keeper_store, keeper_store + 1) if store_id <= stores])
        manager_token, _ = accounts.issue_token(ADMIN, manager, "bench", 1)
        keeper_token, _ = accounts.issue_token(ADMIN, keeper, "bench", 1)
        today = reports.today()
        manager_id, keeper_id = manager.id, keeper.id

    store = random.Random(6).randint(1, stores)
    with app.app_context():
        from webapp.models import Customer, SupplierBalance
        # The store's customer who owes most (the ledger a manager opens first), and one of its
        # suppliers.
        customer = db.session.execute(
            db.select(Customer.id).where(Customer.store_id == store)
            .order_by(Customer.balance.desc()).limit(1)).scalar()
        supplier = db.session.execute(
            db.select(SupplierBalance.supplier_id).where(SupplierBalance.store_id == store)
            .limit(1)).scalar()
    pages, keeper_pages, api, wide, exports = _urls(today, store, keeper_store, customer,
                                                    supplier)
    results = []

    def run(label, url, client, headers=None, runs=runs):
        figures = _time(client, url, runs, headers)
        results.append({"name": label, "url": url, "runs": runs, **figures})
        log(f"  {label:52s} p50 {figures['p50_ms']:7.1f} ms   p95 {figures['p95_ms']:7.1f} ms")

    manager_client, keeper_client = app.test_client(), app.test_client()
    with app.app_context():
        from webapp.extensions import db
        from webapp.models import User
        _login(manager_client, db.session.get(User, manager_id))
        _login(keeper_client, db.session.get(User, keeper_id))
    for label, url in pages:
        run(label, url, manager_client)
    for label, url in keeper_pages:
        headers = {"Authorization": f"Bearer {keeper_token}"} if url.startswith("/api") else None
        run(label, url, keeper_client, headers)
    for label, url in api + wide:
        headers = {"Authorization": f"Bearer {manager_token}"} if url.startswith("/api") else None
        run(label, url, manager_client, headers)
    for label, url in exports:
        run(label, url, manager_client, runs=min(runs, 3))
    return results


def _incremental_refresh(app, stores, products, count=500, log=print):
    """Record `count` sales through the ledger, then time the worker's incremental refresh."""
    from tests.factories import ADMIN
    from webapp.services import commands, ledger, report_rollups

    rng = random.Random(11)
    with app.app_context():
        started = time.perf_counter()
        for _ in range(count):
            product = rng.randint(1, products - 1)
            # Archived products take no stock; a product that tracks expiry would need a date.
            while product % 97 == 0 or product % 10 == reports_data.TRACKED:
                product = rng.randint(1, products - 1)
            ledger.record_movement(ADMIN, commands.Movement.parse(store_id=rng.randint(1, stores),
                                                                  product_id=product,
                                                                  type="stock_in", quantity="1"))
        writes = time.perf_counter() - started
        started = time.perf_counter()
        days = report_rollups.refresh()
        seconds = time.perf_counter() - started
    log(f"  {count} ledger writes {writes:.1f} s; incremental refresh of {len(days)} day(s): "
        f"{seconds * 1000:.0f} ms")
    return {"movements_since_last_refresh": count, "days_recomputed": len(days),
            "seconds": round(seconds, 2)}


def _size(name):
    conn = psycopg2.connect(_url(name))
    with conn.cursor() as cur:
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        size = cur.fetchone()[0]
        counts = {}
        for table in ("stores", "products", "stock_levels", "stock_movements",
                      "daily_stock_summary", "daily_store_summary", "daily_product_summary",
                      "store_stock_summary", *reports_data.MONEY_TABLES,
                      "daily_payment_summary", "receivable_ages", "customer_receivable_ages"):
            cur.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cur.fetchone()[0]
    conn.close()
    return size, counts


def _build(app, name, args):
    from flask_migrate import upgrade

    from webapp.services import report_rollups

    with app.app_context():
        upgrade()
    url = _url(name)
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=366)
    with app.app_context():
        from webapp.extensions import db
        from webapp.services import partitions

        # The year of history goes into its monthly partitions (PostgreSQL), as on an install
        # whose worker sweep has been making them month by month.
        made = partitions.ensure_ahead(db.session.connection(), 16, today=start)
        db.session.commit()
        if made:
            print(f"  partitions: {made[0]} .. {made[-1]}")
    began = time.perf_counter()
    build = reports_data.build(url, start, stores=args.stores, products=args.products,
                               customers=args.customers)
    build["vacuum analyze"] = reports_data.vacuum(url, reports_data.BIG_TABLES
                                                  + reports_data.MONEY_TABLES
                                                  + ("stores", "products", "suppliers"))
    with app.app_context():
        t = time.perf_counter()
        report_rollups.refresh(full=True)
        build["roll-ups, full rebuild"] = round(time.perf_counter() - t, 1)
        print(f"  roll-ups, full rebuild: {build['roll-ups, full rebuild']} s")
    build["vacuum analyze roll-ups"] = reports_data.vacuum(
        url, ("daily_store_summary", "daily_product_summary", "daily_type_summary",
              "monthly_store_summary", "monthly_product_summary", "store_stock_summary",
              "daily_payment_summary", "receivable_ages", "customer_receivable_ages"))
    build["total"] = round(time.perf_counter() - began, 1)
    return build


def _remember_build(name, build):
    """The build's timings as the database's comment, for a later --reuse."""
    conn = psycopg2.connect(_url(name))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"COMMENT ON DATABASE {name} IS %s", (json.dumps(build),))
    conn.close()


def _previous_build(name):
    conn = psycopg2.connect(_url(name))
    with conn.cursor() as cur:
        cur.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE datname = current_database()")
        comment = cur.fetchone()[0]
    conn.close()
    if comment:
        return json.loads(comment)
    return json.loads(bench_run.RESULTS.read_text())["reports"]["build_seconds"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=2000)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=100, help="Customers a store.")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    parser.add_argument("--writes", type=int, default=500,
                        help="Sales recorded before timing the incremental refresh.")
    parser.add_argument("--no-save", action="store_true",
                        help="Leave bench/results.json alone (a smoke run).")
    parser.add_argument("--reuse", metavar="DATABASE",
                        help="Measure a database kept by an earlier --keep run (no build).")
    args = parser.parse_args(argv)

    name = args.reuse or create_database("kiryana_bench_reports").rsplit("/", 1)[1]
    print(f"database {name}")
    try:
        app = _app(name)
        if args.reuse:
            from flask_migrate import upgrade

            with app.app_context():
                upgrade()  # an index added since the build
            build = _previous_build(name)
        else:
            build = _build(app, name, args)
            _remember_build(name, build)
        size, counts = _size(name)
        print(f"built in {build['total']} s: {size}, {counts}")
        load_before = os.getloadavg()
        requests = _measure(app, args.runs, args.stores, print)
        load_after = os.getloadavg()
        refresh = _incremental_refresh(app, args.stores, args.products, args.writes, log=print)
        held = [r for r in requests if "widest range" not in r["name"]
                and not r["name"].startswith("export:")]
        worst = max(held, key=lambda r: r["p95_ms"])
        figures = {
            "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "machine": "2 cores, PostgreSQL 15 (shared_buffers 128MB, work_mem 4MB)",
            # The machine is shared: other work running at the same time inflates the figures.
            "load_average_1min": {"before": round(load_before[0], 1),
                                  "after": round(load_after[0], 1)},
            "load_average_5min": {"before": round(load_before[1], 1),
                                  "after": round(load_after[1], 1)},
            "dataset": {"size": size, "rows": counts},
            "build_seconds": build,
            "incremental_refresh": refresh,
            "requests": requests,
            "worst_p95_ms": {"name": worst["name"], "p95_ms": worst["p95_ms"]},
            "target_p95_ms": TARGET_P95_MS,
            "over_target": [r["name"] for r in held if r["p95_ms"] >= TARGET_P95_MS],
        }
        if not args.no_save:
            bench_run.save(reports=figures)
        print(f"worst p95 (excluding the 365-day all-store range): {worst['name']} "
              f"{worst['p95_ms']} ms; over {TARGET_P95_MS} ms: {figures['over_target'] or 'none'}"
              f"{'' if args.no_save else f'; figures in {bench_run.RESULTS}'}")
        return name, figures
    finally:
        bench_run._clear_redis(PREFIX)
        if args.keep:
            print(f"kept database {name}")
        else:
            drop_database(_url(name))


if __name__ == "__main__":
    main()
