"""What each benchmark client does: an API request, or the same work in raw SQL."""
import json

from bench.database import PRODUCTS, STORES

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


def level_read(rng):
    store_id, product_id = random_row(rng)
    return "GET", f"/api/v1/stores/{store_id}/stock/{product_id}", None


def stock_page(rng):
    return "GET", f"/api/v1/stores/{rng.randint(1, STORES)}/stock?per_page=50", None


def trivial(rng):
    return "GET", "/healthz", None


# --- the same work as plain SQL: what the ledger and inventory services do per request ------

def _raw_sale(cursor, store_id, product_id):
    cursor.execute(
        "SELECT s.id, s.active, s.allow_negative_stock, p.id, p.archived, p.unit, "
        "p.sale_price, p.cost, p.reorder_level FROM stores s LEFT JOIN products p ON p.id = %s "
        "WHERE s.id = %s", (product_id, store_id))
    _, _, _, _, _, _, price, cost, _ = cursor.fetchone()
    cursor.execute(
        "UPDATE stock_levels SET quantity = quantity - 1, updated_at = now() "
        "WHERE store_id = %s AND product_id = %s AND quantity - 1 >= 0 "
        "RETURNING quantity, reorder_level", (store_id, product_id))
    balance, _ = cursor.fetchone()
    cursor.execute(
        "INSERT INTO stock_movements (store_id, product_id, type, quantity, delta, "
        "balance_after, note, unit_price, unit_cost, user_id, source, created_at) "
        "VALUES (%s, %s, 'sale', 1, -1, %s, '', %s, %s, 1, 'api', now()) RETURNING id",
        (store_id, product_id, balance, price, cost))
    movement_id = cursor.fetchone()[0]
    cursor.execute(
        "INSERT INTO daily_stock_summary AS d (day, store_id, product_id, type, quantity, delta, "
        "amount, movements) VALUES (current_date, %s, %s, 'sale', 1, -1, %s, 1) "
        "ON CONFLICT (day, store_id, product_id, type) DO UPDATE SET "
        "quantity = d.quantity + excluded.quantity, delta = d.delta + excluded.delta, "
        "amount = d.amount + excluded.amount, movements = d.movements + 1",
        (store_id, product_id, price))
    cursor.execute(
        "INSERT INTO audit_outbox (actor_id, action, entity_type, entity_id, after, ip, "
        "created_at) VALUES (1, 'movement.create', 'stock_movement', %s, %s, '127.0.0.1', now())",
        (str(movement_id), json.dumps({"id": movement_id, "store_id": store_id,
                                       "product_id": product_id, "balance_after": str(balance)})))


def raw_sale_random(cursor, rng):
    _raw_sale(cursor, *random_row(rng))


def raw_sale_hot(cursor, rng):
    _raw_sale(cursor, *HOT)


def raw_level_read(cursor, rng):
    store_id, product_id = random_row(rng)
    cursor.execute(
        "SELECT p.id, p.reorder_level, l.quantity, l.reorder_level, l.updated_at FROM products p "
        "LEFT JOIN stock_levels l ON l.product_id = p.id AND l.store_id = %s WHERE p.id = %s",
        (store_id, product_id))
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
