"""What each benchmark client does: an API request, or the same work in raw SQL."""
import json
import re
from datetime import datetime, timezone
from decimal import Decimal

from bench.database import PRODUCTS, STORES
from webapp.services import ledger

HOT = (1, 1)


def random_row(rng):
    return rng.randint(1, STORES), rng.randint(1, PRODUCTS)


def _sale(store_id, product_id):
    return "POST", "/api/v1/movements", {"store_id": store_id, "product_id": product_id,
                                         "type": "sale", "quantity": "1"}


def sale_random(rng):
    return _sale(*random_row(rng))


def sale_hot(rng):
    return _sale(*HOT)


# What a POS polls: the levels of the products it sells. 1,000 rows, so after warm-up the
# cache answers most reads; level_read_cold reads any of the 500,000 rows (mostly misses).
READ_SET_STORES, READ_SET_PRODUCTS = 20, 50


def level_read(rng):
    store_id, product_id = rng.randint(1, READ_SET_STORES), rng.randint(1, READ_SET_PRODUCTS)
    return "GET", f"/api/v1/stores/{store_id}/stock/{product_id}", None


def level_read_cold(rng):
    store_id, product_id = random_row(rng)
    return "GET", f"/api/v1/stores/{store_id}/stock/{product_id}", None


def stock_page(rng):
    return "GET", f"/api/v1/stores/{rng.randint(1, STORES)}/stock?per_page=50", None


def trivial(rng):
    return "GET", "/healthz", None


# --- the same work as plain SQL: the statements the ledger and inventory services send ------

# The ledger's one-statement write (services/ledger.py), in psycopg2's parameter style.
APPEND_SQL = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", ledger._APPEND_MOVEMENT.text)


def _raw_sale(cursor, store_id, product_id):
    cursor.execute(
        "SELECT s.id, s.active, s.allow_negative_stock, p.id, p.archived, p.unit, "
        "p.sale_price, p.cost, p.reorder_level FROM stores s LEFT JOIN products p ON p.id = %s "
        "WHERE s.id = %s", (product_id, store_id))
    _, _, _, _, _, _, price, cost, _ = cursor.fetchone()
    now = datetime.now(timezone.utc)
    values = {"store_id": store_id, "product_id": product_id, "type": "sale",
              "quantity": Decimal(1), "delta": Decimal(-1), "reason": None, "note": "",
              "unit_price": price, "unit_cost": cost, "supplier_id": None, "user_id": 1,
              "source": "api", "idempotency_key": None, "occurred_at": None, "now": now,
              "ip": "127.0.0.1", "amount": price, "guarded": True, "day": now.date()}
    after = {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()
             if k not in ("now", "day", "guarded", "amount", "ip")}
    cursor.execute(APPEND_SQL, {**values, "after": json.dumps(after)})
    cursor.fetchone()


def raw_sale_random(cursor, rng):
    _raw_sale(cursor, *random_row(rng))


def raw_sale_hot(cursor, rng):
    _raw_sale(cursor, *HOT)


def raw_level_read(cursor, rng):
    store_id, product_id = random_row(rng)
    cursor.execute(
        "SELECT s.id, p.id, p.reorder_level, l.quantity, l.reorder_level, l.updated_at "
        "FROM stores s LEFT JOIN products p ON p.id = %s LEFT JOIN stock_levels l "
        "ON l.product_id = p.id AND l.store_id = s.id WHERE s.id = %s", (product_id, store_id))
    cursor.fetchone()


def raw_stock_page(cursor, rng):
    store_id = rng.randint(1, STORES)
    where = ("FROM stock_levels l JOIN products p ON p.id = l.product_id "
             "WHERE l.store_id = %s AND p.archived = false")
    cursor.execute(f"SELECT count(*) {where}", (store_id,))
    cursor.fetchone()
    cursor.execute(
        "SELECT p.id, p.sku, p.name, p.unit, p.category, p.sale_price, l.quantity, "
        f"coalesce(l.reorder_level, p.reorder_level), l.updated_at {where} "
        "ORDER BY p.name, p.id LIMIT 50 OFFSET 0", (store_id,))
    cursor.fetchall()
