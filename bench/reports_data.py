"""The reports-at-scale data set: 2,000 stores × 1,000 products, 10,000,000 movements.

Stores and products go in with COPY; movements, levels and the daily summary are generated
inside PostgreSQL with generate_series from closed formulas, so they agree with each other
(level = Σ delta, balance_after running, summary = recount) without a Python loop over rows.
Per (store, product) pair: a stock-in of 4q + r, then four outgoing movements of q (sales; one
pair in ten loses the last one as a removal), 73 days apart, so the level ends at r.
"""
import io
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2

from bench import money_data

CITIES = ("Karachi", "Lahore", "Islamabad", "Rawalpindi", "Faisalabad", "Multan", "Peshawar",
          "Quetta")
CATEGORIES = ("Grocery", "Dairy", "Beverages", "Snacks", "Household", "Personal care",
              "Spices", "Rice & flour", "Oil & ghee", "Tea")
UNITS = ("piece", "kg", "pack", "litre")
BIG_TABLES = ("stock_movements", "daily_stock_summary", "stock_levels")
# The money and expiry tables (bench/money_data.py), loaded the same way: keys and indexes
# dropped while the rows go in, re-created after.
MONEY_TABLES = ("sales", "sale_lines", "customers", "customer_entries", "supplier_entries",
                "supplier_balances", "stock_batches", "movement_batches", "daily_closings")
# Products with id % 10 == TRACKED track expiry: the Dairy category (CATEGORIES[1]).
TRACKED = 1

# Shared pieces of the generator: pair (s, p), movement k ∈ 0..4, and their closed formulas.
PAIR = """
    s.id AS store_id, p.id AS product_id, k,
    (1 + (s.id + p.id) %% 5 + CASE WHEN p.unit = 'kg' THEN 0.250 ELSE 0 END)::numeric(14,3) AS q,
    ((s.id * 13 + p.id * 7) %% 200)::numeric(14,3) AS r,
    CASE WHEN k = 0 THEN 'stock_in'
         WHEN k = 4 AND (s.id + p.id) %% 10 = 0 THEN 'removal' ELSE 'sale' END AS type,
    CASE WHEN k = 4 AND (s.id + p.id) %% 10 = 0 THEN
         (ARRAY['damaged','expired','lost','other'])[1 + ((s.id + p.id) / 10) %% 4] END AS reason,
    %(start)s::timestamptz + make_interval(days => k * 73 + (s.id * 7919 + p.id * 104729) %% 73,
                                         secs => (s.id * 31 + p.id * 17 + k * 13) %% 86000)
        AS created_at,
    p.sale_price, p.cost
"""
GENERATOR = f"""
    SELECT {PAIR} FROM stores s CROSS JOIN products p CROSS JOIN generate_series(0, 4) AS k
    WHERE s.id %% %(parts)s = %(part)s
"""


def _copy(cur, table, columns, rows):
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def load_catalog(cur, stores, products, now):
    _copy(cur, "stores", ("id", "code", "name", "city", "address", "phone", "active",
                          "allow_negative_stock", "created_at", "updated_at"),
          ((i, f"{CITIES[i % len(CITIES)][:3].upper()}-{i:04d}", f"Kiryana Store {i}",
            CITIES[i % len(CITIES)], "", "", "t", "f", now, now) for i in range(1, stores + 1)))
    def product(i):
        price = 50 + (i * 37) % 950
        cost = None if i % 50 == 0 else round(price * 0.8, 2)
        name = f"چینی Cheeni {i}" if i % 10 == 0 else f"Product {i}"
        return (i, f"SKU-{i:05d}", name, CATEGORIES[i % len(CATEGORIES)], UNITS[i % len(UNITS)],
                f"{price}.50", cost, 5 + i % 20, "t" if i % 97 == 0 else "f",
                "t" if i % 10 == TRACKED else "f", now, now)
    _copy(cur, "products", ("id", "sku", "name", "category", "unit", "sale_price", "cost",
                            "reorder_level", "archived", "tracks_expiry", "created_at",
                            "updated_at"),
          (product(i) for i in range(1, products + 1)))
    cur.execute("SELECT setval('stores_id_seq', %s), setval('products_id_seq', %s)",
                (stores, products))


def _movements(url, params):
    _run(url, f"""
        INSERT INTO stock_movements (id, store_id, product_id, type, quantity, delta,
            balance_after, reason, note, unit_price, unit_cost, source, created_at)
        SELECT (store_id - 1)::bigint * %(products)s * 5 + (product_id - 1) * 5 + k + 1,
               store_id, product_id, type, q,
               CASE WHEN k = 0 THEN 4 * q + r ELSE -q END,
               4 * q + r - k * q, reason, '',
               CASE WHEN type = 'sale' THEN sale_price END, cost, 'web', created_at
        FROM ({GENERATOR}) g""", params)


def _summary(url, params):
    _run(url, f"""
        INSERT INTO daily_stock_summary (day, store_id, product_id, type, quantity, delta,
                                         amount, movements, cost, without_cost)
        SELECT (created_at AT TIME ZONE 'Asia/Karachi')::date, store_id, product_id, type, q,
               CASE WHEN k = 0 THEN 4 * q + r ELSE -q END,
               coalesce(round(q * CASE WHEN type = 'sale' THEN sale_price ELSE cost END, 2), 0),
               1, coalesce(round(q * cost, 2), 0), CASE WHEN cost IS NULL THEN 1 ELSE 0 END
        FROM ({GENERATOR}) g""", params)


def _levels(url, params):
    _run(url, f"""
        INSERT INTO stock_levels (store_id, product_id, quantity, updated_at)
        SELECT store_id, product_id, r, created_at FROM ({GENERATOR}) g WHERE k = 4""", params)


def _run(url, sql, params=None):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # no FK triggers while loading
        cur.execute("SET synchronous_commit = off")
        cur.execute(sql, params)
    conn.close()


def _ddl(cur, tables=BIG_TABLES + MONEY_TABLES):
    """What to drop before loading and re-create after: indexes and primary keys."""
    # The money tables keep their primary keys: other tables' foreign keys hang on them.
    cur.execute("""SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
                   FROM pg_constraint WHERE contype = 'p' AND conrelid::regclass::text = ANY(%s)""",
                (list(BIG_TABLES),))
    keys = cur.fetchall()
    cur.execute("""SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)
                   AND indexname NOT IN (SELECT conname FROM pg_constraint)""",
                (list(tables),))
    # A partitioned table's index reads back as CREATE INDEX … ON ONLY, which would build it
    # on the parent alone: without ONLY it is built on every partition, as the migration did.
    return keys, [(name, definition.replace(" ON ONLY ", " ON ", 1))
                  for name, definition in cur.fetchall()]


def build(url, start, stores=2000, products=1000, parts=4, log=print, customers=100):
    """Fill an empty, migrated database; returns {step: seconds}."""
    timings = {}
    conn = psycopg2.connect(url)
    conn.autocommit = True
    cur = conn.cursor()

    def step(name, started):
        timings[name] = round(time.perf_counter() - started, 1)
        log(f"  {name}: {timings[name]} s")

    t = time.perf_counter()
    load_catalog(cur, stores, products, start)
    step("catalog (COPY)", t)
    keys, indexes = _ddl(cur)
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    for table, name, _ in keys:
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    t = time.perf_counter()
    jobs = [(fn, {"start": start, "products": products, "parts": parts, "part": part})
            for fn in (_movements, _summary) for part in range(parts)]
    jobs.append((_levels, {"start": start, "products": products, "parts": 1, "part": 0}))
    jobs += money_data.jobs(start, stores, products, customers, parts)
    with ThreadPoolExecutor(max_workers=3) as pool:
        for future in [pool.submit(fn, url, params) for fn, params in jobs]:
            future.result()
    step("movements, summary, levels, money, batches (generate_series)", t)
    t = time.perf_counter()
    money_data.closings(url, stores)
    step("closings (from the sales and the books)", t)
    t = time.perf_counter()
    cur.execute("SET maintenance_work_mem = '512MB'")
    statements = [f"ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {definition}"
                  for table, name, definition in keys] + [d for _, d in indexes]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(_run, url, "SET maintenance_work_mem = '512MB'; " + s)
                       for s in statements]:
            future.result()
    cur.execute("SELECT setval('stock_movements_id_seq', %s)", (stores * products * 5,))
    money_data.sequences(cur)
    step("indexes and keys", t)
    conn.close()
    return timings


def vacuum(url, tables, log=print):
    t = time.perf_counter()
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        for table in tables:
            cur.execute(f"VACUUM (ANALYZE) {table}")
    conn.close()
    seconds = round(time.perf_counter() - t, 1)
    log(f"  vacuum analyze: {seconds} s")
    return seconds
