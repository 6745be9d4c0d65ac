"""The benchmark database: created fresh, migrated, seeded with COPY, checked afterwards."""
import io
import os

import psycopg2

from config import sqlalchemy_url
from tests import services
from webapp.services.integrity import ledger_violations

# Smaller for quick experiments (BENCH_STORES / BENCH_PRODUCTS); the published figures use these.
STORES = int(os.environ.get("BENCH_STORES", "1000"))
PRODUCTS = int(os.environ.get("BENCH_PRODUCTS", "500"))
OPENING_STOCK = 1_000_000


def create():
    """A fresh empty database; returns its URL."""
    return services.create_database("kiryana_bench")


drop = services.drop_database


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
        user = accounts.create_user(actor, "bench", "galla-load-tester-7", role="admin")
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
    from sqlalchemy import create_engine, text

    engine = create_engine(sqlalchemy_url(url))
    with engine.connect() as conn:
        violations = ledger_violations(conn, after_id=seeded_max)
        touched, movements = conn.execute(text(
            "SELECT COUNT(DISTINCT (store_id, product_id)), COUNT(*) FROM stock_movements "
            "WHERE id > :after_id"), {"after_id": seeded_max}).one()
    engine.dispose()
    return {"rows_touched": touched, "movements_written": movements,
            "balance_after_violations": len(violations["chain"]),
            "level_violations": len(violations["levels"]) + len(violations["orphans"])}
