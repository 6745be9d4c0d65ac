"""The benchmark database: created fresh, migrated, seeded with COPY, checked afterwards."""
import io
import uuid

import psycopg2

from tests.services import PG_ADMIN_URL

STORES = 1000
PRODUCTS = 500
OPENING_STOCK = 1_000_000


def create():
    """A fresh empty database; returns its URL."""
    name = f"kiryana_bench_{uuid.uuid4().hex[:8]}"
    with _admin() as conn, conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def sqlalchemy_url(url):
    """The same database for SQLAlchemy, which must be told to use psycopg2."""
    return url.replace("postgresql://", "postgresql+psycopg2://", 1)


def drop(url):
    with _admin() as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _admin():
    conn = psycopg2.connect(PG_ADMIN_URL)
    conn.autocommit = True
    return _Closing(conn)


class _Closing:
    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


def migrate_and_make_token(url):
    """Run the real migrations, then create the bench user; returns a bearer token."""
    from flask_migrate import upgrade

    from config import TestingConfig
    from webapp import create_app
    from webapp.services import accounts, audit

    config = type("BenchSetup", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url)})
    app = create_app(config)
    with app.app_context():
        upgrade()
        actor = audit.Actor(None, "web", "bench")
        user = accounts.create_user(actor, "bench", "bench-password", role="admin")
        token, _ = accounts.issue_token(actor, user, "bench", 1)
        from webapp.extensions import db
        db.session.remove()
        db.engine.dispose()
    return token


def _copy(cur, table, columns, rows):
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(str(v) for v in row) + "\n")
    buffer.seek(0)
    cur.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)


def seed(url):
    """1,000 stores × 500 products, each level opened by one stock_in movement."""
    now = "2026-01-01 00:00:00+00"
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        _copy(cur, "stores", ["id", "code", "name", "city", "address", "phone", "active",
                              "allow_negative_stock", "created_at", "updated_at"],
              ((i, f"BEN-{i:04d}", f"Bench Store {i}", "Karachi", "", "", "t", "f", now, now)
               for i in range(1, STORES + 1)))
        _copy(cur, "products", ["id", "sku", "name", "category", "unit", "sale_price", "cost",
                                "reorder_level", "archived", "created_at", "updated_at"],
              ((i, f"BEN-{i:04d}", f"Bench product {i:04d}", "Bench", "kg", "150.00", "120.00",
                "5", "f", now, now) for i in range(1, PRODUCTS + 1)))
        pairs = [(s, p) for s in range(1, STORES + 1) for p in range(1, PRODUCTS + 1)]
        _copy(cur, "stock_movements",
              ["id", "store_id", "product_id", "type", "quantity", "delta", "balance_after",
               "note", "source", "created_at"],
              ((n, s, p, "stock_in", OPENING_STOCK, OPENING_STOCK, OPENING_STOCK, "opening",
                "web", now) for n, (s, p) in enumerate(pairs, 1)))
        _copy(cur, "stock_levels", ["store_id", "product_id", "quantity", "updated_at"],
              ((s, p, OPENING_STOCK, now) for s, p in pairs))
        for table in ("stores", "products", "stock_movements"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))")
        cur.execute("SELECT max(id) FROM stock_movements")
        seeded_max = cur.fetchone()[0]
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    conn.close()
    return seeded_max


def check_invariant(url, seeded_max):
    """Invariant 1 over every row touched by the run: level == sum(delta), balance chain."""
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("""
            WITH touched AS (
                SELECT DISTINCT store_id, product_id FROM stock_movements WHERE id > %s),
            chain AS (
                SELECT m.store_id, m.product_id, m.balance_after,
                       sum(m.delta) OVER (PARTITION BY m.store_id, m.product_id ORDER BY m.id)
                           AS running
                FROM stock_movements m JOIN touched USING (store_id, product_id)),
            totals AS (
                SELECT m.store_id, m.product_id, sum(m.delta) AS total
                FROM stock_movements m JOIN touched USING (store_id, product_id)
                GROUP BY m.store_id, m.product_id)
            SELECT (SELECT count(*) FROM touched),
                   (SELECT count(*) FROM chain WHERE balance_after <> running),
                   (SELECT count(*) FROM totals t JOIN stock_levels l
                        USING (store_id, product_id) WHERE l.quantity <> t.total),
                   (SELECT count(*) FROM stock_movements WHERE id > %s)
        """, (seeded_max, seeded_max))
        touched, chain_breaks, level_mismatches, movements = cur.fetchone()
    conn.close()
    return {"rows_touched": touched, "movements_written": movements,
            "balance_after_violations": chain_breaks, "level_violations": level_mismatches}
