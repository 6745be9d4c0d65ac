"""Checks of the ledger invariants (SPEC §2): used by tests, the benchmark and operators."""
from sqlalchemy import text

# Levels whose quantity is not the sum of their movements' deltas.
LEVEL_VS_LEDGER = text("""
    SELECT l.store_id, l.product_id, l.quantity, COALESCE(m.total, 0) AS ledger
    FROM stock_levels l
    LEFT JOIN (SELECT store_id, product_id, SUM(delta) AS total
               FROM stock_movements GROUP BY store_id, product_id) m
      ON m.store_id = l.store_id AND m.product_id = l.product_id
    WHERE ROUND(l.quantity - COALESCE(m.total, 0), 3) <> 0
""")

# Movements whose balance_after is not the previous balance plus their delta (in id order).
BROKEN_CHAIN = text("""
    SELECT id, store_id, product_id, balance_after, delta, previous FROM (
        SELECT id, store_id, product_id, balance_after, delta,
               LAG(balance_after, 1, 0) OVER (PARTITION BY store_id, product_id ORDER BY id)
                   AS previous
        FROM stock_movements) chain
    WHERE ROUND(balance_after - delta - previous, 3) <> 0
""")

# Movements without a level row at all.
ORPHANS = text("""
    SELECT DISTINCT m.store_id, m.product_id FROM stock_movements m
    LEFT JOIN stock_levels l ON l.store_id = m.store_id AND l.product_id = m.product_id
    WHERE l.store_id IS NULL
""")


def ledger_violations(conn):
    """Every breach of invariant 1, as {"levels": [...], "chain": [...], "orphans": [...]}."""
    return {
        "levels": [dict(r._mapping) for r in conn.execute(LEVEL_VS_LEDGER)],
        "chain": [dict(r._mapping) for r in conn.execute(BROKEN_CHAIN)],
        "orphans": [dict(r._mapping) for r in conn.execute(ORPHANS)],
    }


def ledger_is_consistent(conn):
    return not any(ledger_violations(conn).values())
