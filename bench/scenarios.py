"""What each benchmark client does: an API request, or the same work in raw SQL."""
import json
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy.dialects.postgresql import psycopg2

from bench.database import PRODUCTS, STORES
from webapp.services.ledger import fastpath, statements
from webapp.services.validation import pakistan_day

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


# A counter basket: BASKET_LINES different random products of one random store, one of each.
BASKET_LINES = 5


def basket_row(rng):
    return rng.randint(1, STORES), rng.sample(range(1, PRODUCTS + 1), BASKET_LINES)


def basket5(rng):
    store_id, product_ids = basket_row(rng)
    return "POST", "/api/v1/sales", {"store_id": store_id, "lines": [
        {"product_id": product_id, "quantity": "1"} for product_id in product_ids]}


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

# The ledger's store/product load and one-statement write (services/ledger/fastpath.py), as
# the text the ledger itself sends psycopg2 for them (compiled the same way: statements.send).
_PSYCOPG2 = psycopg2.dialect()
_LOAD = statements.BUILDERS["load_by_id"](None)
LOAD_SQL = str(_LOAD.compile(dialect=_PSYCOPG2))
# Where the load's row holds what a sale needs, by name: the ledger reads it by name too, so a
# column added to the load (tracks_expiry, issue 26) does not shift what the raw side reads.
_PRICE_AT, _COST_AT = (list(_LOAD.selected_columns.keys()).index(name)
                       for name in ("sale_price", "cost"))
APPEND_SQL = str(fastpath.APPEND_MOVEMENT.compile(dialect=_PSYCOPG2))
# The movement columns the ledger writes that a plain sale leaves empty.
_NO_LINKS = {"transfer_id": None, "expected_quantity": None, "counted_quantity": None}


def _cost_figures(unit_cost):
    # The daily summary's cost columns, for a ledger whose write carries them (extra keys are
    # ignored by psycopg2 where it does not).
    return {"cost": unit_cost or Decimal(0), "without_cost": int(unit_cost is None)}


def _raw_sale(cursor, store_id, product_id):
    cursor.execute(LOAD_SQL, {"b_store": store_id, "b_product": product_id})
    row = cursor.fetchone()
    price, cost = row[_PRICE_AT], row[_COST_AT]
    now = datetime.now(timezone.utc)
    values = {"store_id": store_id, "product_id": product_id, "type": "sale",
              "quantity": Decimal(1), "delta": Decimal(-1), "reason": None, "note": "",
              "unit_price": price, "unit_cost": cost, "supplier_id": None, "user_id": 1,
              "source": "api", "idempotency_key": None, "occurred_at": None, "created_at": now,
              "ip": "127.0.0.1", "amount": price, "guarded": True, "day": now.date(),
              **_NO_LINKS, **_cost_figures(cost)}
    after = {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()
             if k not in ("created_at", "day", "guarded", "amount", "ip", "cost",
                          "without_cost")}
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


# The statements services/sales.complete_sale sends for a basket (`python -m bench.roundtrips`
# counts them): the store and the lines' products in one load, then per line in product-id
# order the ledger's one-statement write without its per-movement audit event, then the
# receipt number, the sale, its lines, its audit event, and the sale read back for the answer.
APPEND_UNAUDITED_SQL = str(fastpath.APPEND_UNAUDITED.compile(dialect=_PSYCOPG2))
LOAD_MANY_SQL = ("SELECT s.id, s.active, s.allow_negative_stock, p.id, p.archived, p.unit, "
                 "p.sale_price, p.cost, p.reorder_level FROM stores s LEFT JOIN products p "
                 "ON p.id IN %s WHERE s.id = %s")
NEXT_NUMBER_SQL = (
    "INSERT INTO sale_counters (store_id, last_number) VALUES (%s, 1) ON CONFLICT (store_id) "
    "DO UPDATE SET last_number = sale_counters.last_number + 1 RETURNING last_number")
# Paid in cash, as a basket with no payments given is (ck_sales_paid_in_full).
INSERT_SALE_SQL = (
    "INSERT INTO sales (store_id, number, cashier_id, status, total, note, source, "
    "idempotency_key, occurred_at, created_at, customer_id, paid_cash, paid_card, paid_wallet, "
    "paid_credit) VALUES (%s, %s, %s, 'completed', %s, '', 'api', NULL, NULL, %s, NULL, %s, 0, "
    "0, 0) RETURNING id")
INSERT_LINES_SQL = (
    "INSERT INTO sale_lines (sale_id, position, product_id, quantity, unit_price, list_price, "
    "line_total, movement_id, returned_quantity) VALUES ")
INSERT_EVENT_SQL = (
    "INSERT INTO audit_outbox (actor_id, action, entity_type, entity_id, before, after, ip, "
    "created_at) VALUES (%s, 'sale.complete', 'sale', %s, NULL, %s::jsonb, %s, %s) RETURNING id")
READ_SALE_SQL = (
    "SELECT sales.*, stores.code, stores.name, (SELECT coalesce(sum(amount), 0) FROM "
    "sale_reversals WHERE sale_id = sales.id), sale_lines.product_id, sale_lines.quantity, "
    "sale_lines.unit_price, sale_lines.list_price, sale_lines.line_total, "
    "sale_lines.movement_id, sale_lines.returned_quantity, products.sku, products.name, "
    "products.unit FROM sales JOIN stores ON stores.id = sales.store_id JOIN sale_lines ON "
    "sale_lines.sale_id = sales.id JOIN products ON products.id = sale_lines.product_id "
    "WHERE sales.id = %s ORDER BY sale_lines.position")


def raw_basket5(cursor, rng):
    store_id, product_ids = basket_row(rng)
    cursor.execute(LOAD_MANY_SQL, (tuple(sorted(product_ids)), store_id))
    products = {row[3]: row for row in cursor.fetchall()}
    now = datetime.now(timezone.utc)
    one, day = Decimal(1), pakistan_day(now)
    movement_ids = {}
    for product_id in sorted(product_ids):
        price, cost = products[product_id][6], products[product_id][7]
        cursor.execute(APPEND_UNAUDITED_SQL, {
            "store_id": store_id, "product_id": product_id, "type": "sale", "quantity": one,
            "delta": -one, "reason": None, "note": "", "unit_price": price, "unit_cost": cost,
            "supplier_id": None, "user_id": 1, "source": "api", "idempotency_key": None,
            "occurred_at": None, "created_at": now, "amount": price, "guarded": True, "day": day,
            **_NO_LINKS, **_cost_figures(cost)})
        movement_ids[product_id] = cursor.fetchone()[0]
    cursor.execute(NEXT_NUMBER_SQL, (store_id,))
    number = cursor.fetchone()[0]
    total = sum(products[p][6] for p in product_ids)
    cursor.execute(INSERT_SALE_SQL, (store_id, number, 1, total, now, total))
    sale_id = cursor.fetchone()[0]
    lines = [(sale_id, position, p, one, products[p][6], products[p][6], products[p][6],
              movement_ids[p], 0) for position, p in enumerate(product_ids)]
    cursor.execute(INSERT_LINES_SQL + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"]
                                                * len(lines)),
                   [value for line in lines for value in line])
    after = {"store_id": store_id, "number": number, "total": str(total), "lines": [
        {"product_id": p, "quantity": "1", "unit_price": str(products[p][6]),
         "movement_id": movement_ids[p]} for p in product_ids]}
    cursor.execute(INSERT_EVENT_SQL, (1, str(sale_id), json.dumps(after), "127.0.0.1", now))
    cursor.execute(READ_SALE_SQL, (sale_id,))
    cursor.fetchall()
