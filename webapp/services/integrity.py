"""Checks of the ledger invariants (SPEC §2): used by tests, the benchmark and operators.

`after_id` limits a check to the (store, product) rows that movements after that id touched —
all of those rows' history is still checked — so a benchmark can check what it wrote without
scanning a seeded ledger; 0 checks everything.
"""
from sqlalchemy import text

TOUCHED = """
    touched AS (SELECT DISTINCT store_id, product_id FROM stock_movements WHERE id > :after_id)
"""
IN_TOUCHED = "(store_id, product_id) IN (SELECT store_id, product_id FROM touched)"

# Levels whose quantity is not the sum of their movements' deltas.
LEVEL_VS_LEDGER = text(f"""
    WITH {TOUCHED}
    SELECT l.store_id, l.product_id, l.quantity, COALESCE(m.total, 0) AS ledger
    FROM stock_levels l
    LEFT JOIN (SELECT store_id, product_id, SUM(delta) AS total FROM stock_movements
               WHERE {IN_TOUCHED} GROUP BY store_id, product_id) m
      ON m.store_id = l.store_id AND m.product_id = l.product_id
    WHERE (:after_id = 0 OR (l.store_id, l.product_id) IN (SELECT store_id, product_id FROM touched))
      AND ROUND(l.quantity - COALESCE(m.total, 0), 3) <> 0
""")

# Movements whose balance_after is not the previous balance plus their delta (in id order).
BROKEN_CHAIN = text(f"""
    WITH {TOUCHED}
    SELECT id, store_id, product_id, balance_after, delta, previous FROM (
        SELECT id, store_id, product_id, balance_after, delta,
               LAG(balance_after, 1, 0) OVER (PARTITION BY store_id, product_id ORDER BY id)
                   AS previous
        FROM stock_movements WHERE {IN_TOUCHED}) chain
    WHERE ROUND(balance_after - delta - previous, 3) <> 0
""")

# Movements without a level row at all.
ORPHANS = text("""
    SELECT DISTINCT m.store_id, m.product_id FROM stock_movements m
    LEFT JOIN stock_levels l ON l.store_id = m.store_id AND l.product_id = m.product_id
    WHERE m.id > :after_id AND l.store_id IS NULL
""")


def ledger_violations(conn, after_id=0):
    """Every breach of invariant 1, as {"levels": [...], "chain": [...], "orphans": [...]}."""
    params = {"after_id": after_id}
    return {
        "levels": [dict(r._mapping) for r in conn.execute(LEVEL_VS_LEDGER, params)],
        "chain": [dict(r._mapping) for r in conn.execute(BROKEN_CHAIN, params)],
        "orphans": [dict(r._mapping) for r in conn.execute(ORPHANS, params)],
    }


def ledger_is_consistent(conn, after_id=0):
    return not any(ledger_violations(conn, after_id).values())


# --- Whole-ledger verification, for `flask verify-ledger` and after a restore ------------------

def verify(conn, store_id=None):
    """Check invariant 1 over the whole ledger (or one store) → {"checked": {...}, "violations"}.

    `checked` says what was looked at (stores, levels, movements); `violations` lists each
    breach by kind. Invariants 8 and 9 join here when their tables exist.
    """
    where = "" if store_id is None else " WHERE store_id = :store_id"
    params = {"store_id": store_id}
    counts = conn.execute(text(
        f"SELECT (SELECT COUNT(*) FROM stock_movements{where}) AS movements,"
        f" (SELECT COUNT(*) FROM stock_levels{where}) AS levels,"
        f" (SELECT COUNT(DISTINCT store_id) FROM stock_levels{where}) AS stores"),
        params).one()._mapping
    scoped = "" if store_id is None else " AND l.store_id = :store_id"
    levels = conn.execute(text(f"""
        SELECT l.store_id, l.product_id, l.quantity, COALESCE(m.total, 0) AS ledger
        FROM stock_levels l
        LEFT JOIN (SELECT store_id, product_id, SUM(delta) AS total FROM stock_movements
                   {where} GROUP BY store_id, product_id) m
          ON m.store_id = l.store_id AND m.product_id = l.product_id
        WHERE ROUND(l.quantity - COALESCE(m.total, 0), 3) <> 0{scoped}
        ORDER BY l.store_id, l.product_id"""), params)
    chain = conn.execute(text(f"""
        SELECT id, store_id, product_id, balance_after, delta, previous FROM (
            SELECT id, store_id, product_id, balance_after, delta,
                   LAG(balance_after, 1, 0) OVER (PARTITION BY store_id, product_id ORDER BY id)
                       AS previous
            FROM stock_movements{where}) chain
        WHERE ROUND(balance_after - delta - previous, 3) <> 0 ORDER BY id"""), params)
    orphans = conn.execute(text(f"""
        SELECT DISTINCT m.store_id, m.product_id FROM stock_movements m
        LEFT JOIN stock_levels l ON l.store_id = m.store_id AND l.product_id = m.product_id
        WHERE l.store_id IS NULL{"" if store_id is None else " AND m.store_id = :store_id"}
        ORDER BY m.store_id, m.product_id"""), params)
    return {
        "checked": {"invariant": 1, "stores": counts["stores"], "levels": counts["levels"],
                    "movements": counts["movements"]},
        "violations": {"levels": [_plain(r) for r in levels], "chain": [_plain(r) for r in chain],
                       "orphans": [_plain(r) for r in orphans]},
    }


def _plain(row):
    return {k: (str(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, int) else v)
            for k, v in row._mapping.items()}
