"""Checks of the ledger invariants (SPEC §2): used by tests, the benchmark and operators.

`after_id` limits a check to the (store, product) rows that movements after that id touched —
all of those rows' history is still checked — so a benchmark can check what it wrote without
scanning a seeded ledger; 0 checks everything.
"""
from sqlalchemy import text

from webapp.services.ledger.batches import (
    BATCHES_OFF,
    MOVEMENTS_OFF,
    TRACKED_LEVELS_OFF,
    batch_violations,
)

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
    """Invariant 1 holds (for the rows movements after `after_id` touched), and invariant 9 and
    the batch ledger (services/ledger/batches.py) hold everywhere."""
    return not any(ledger_violations(conn, after_id).values()) and \
        not any(batch_violations(conn).values())


# --- Whole-ledger verification, for `flask verify-ledger` and after a restore ------------------

# Invariant 8: customers whose balance is not the sum of their entries' amounts, and entries
# whose balance_after is not the balance before them plus their amount (in id order).
CUSTOMERS_OFF = """
    SELECT c.id AS customer_id, c.store_id, c.balance, COALESCE(e.total, 0) AS ledger
    FROM customers c
    LEFT JOIN (SELECT customer_id, SUM(amount) AS total FROM customer_entries{where}
               GROUP BY customer_id) e ON e.customer_id = c.id
    WHERE ROUND(c.balance - COALESCE(e.total, 0), 2) <> 0{scoped}
    ORDER BY c.id"""
ENTRY_CHAIN = """
    SELECT id, customer_id, balance_after, amount, previous FROM (
        SELECT id, customer_id, balance_after, amount,
               LAG(balance_after, 1, 0) OVER (PARTITION BY customer_id ORDER BY id) AS previous
        FROM customer_entries{where}) chain
    WHERE ROUND(balance_after - amount - previous, 2) <> 0 ORDER BY id"""
# Invariant 9 and the batch ledger (services/ledger/batches.py), kept to one store.
BATCHES_OF_STORE = {
    "batch_levels": f"SELECT * FROM ({TRACKED_LEVELS_OFF.text}) v WHERE store_id = :store_id",
    "batches": f"SELECT v.* FROM ({BATCHES_OFF.text}) v JOIN stock_batches b ON b.id = v.id "
               "WHERE b.store_id = :store_id",
    "batch_movements": f"SELECT v.* FROM ({MOVEMENTS_OFF.text}) v "
                       "JOIN stock_movements m ON m.id = v.id WHERE m.store_id = :store_id",
}


def verify(conn, store_id=None):
    """Check invariants 1, 8 and 9 over the whole ledger (or one store) → {"checked": {...},
    "violations"}.

    `checked` says what was looked at (stores, levels, movements, customers, entries, batches);
    `violations` lists each breach by kind.
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
    violations = {"levels": [_plain(r) for r in levels], "chain": [_plain(r) for r in chain],
                  "orphans": [_plain(r) for r in orphans]}
    khata = conn.execute(text(
        f"SELECT (SELECT COUNT(*) FROM customers{where}) AS customers,"
        f" (SELECT COUNT(*) FROM customer_entries{where}) AS entries,"
        f" (SELECT COUNT(*) FROM stock_batches{where}) AS batches"), params).one()._mapping
    scoped = "" if store_id is None else " AND c.store_id = :store_id"
    violations["customers"] = [_plain(r) for r in conn.execute(
        text(CUSTOMERS_OFF.format(where=where, scoped=scoped)), params)]
    violations["entries"] = [_plain(r) for r in conn.execute(
        text(ENTRY_CHAIN.format(where=where)), params)]
    if store_id is None:
        batches = batch_violations(conn)
        violations.update(batch_levels=batches["levels"], batches=batches["batches"],
                          batch_movements=batches["movements"])
    else:
        for kind, sql in BATCHES_OF_STORE.items():
            violations[kind] = [_plain(r) for r in conn.execute(text(sql), params)]
    for kind in ("batch_levels", "batches", "batch_movements"):
        violations[kind] = [_plain_dict(r) for r in violations[kind]]
    return {
        "checked": {"invariants": [1, 8, 9], "stores": counts["stores"],
                    "levels": counts["levels"], "movements": counts["movements"],
                    "customers": khata["customers"], "entries": khata["entries"],
                    "batches": khata["batches"]},
        "violations": violations,
    }


def _plain(row):
    return _plain_dict(row._mapping)


def _plain_dict(mapping):
    return {k: (str(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, int) else v)
            for k, v in mapping.items()}


# --- The continuous check: the worker watches the ledger, a little at a time ----------------
#
# Invariant 1 says every level is the sum of its movements' deltas, each movement's
# balance_after being the level right after it. Summing a pair's history every minute would
# read the whole ledger (10M rows and more); a round reads only what changed since the last:
#
# 1. the movements since the watermark: each one's balance_after against the one before it in
#    the same pair (within the new movements), and each touched level against the newest of
#    them (within a pair ids follow commit order: the level's row lock orders its writers);
# 2. store by store (LEDGER_CHECK_STORES_PER_ROUND a round, round and round): the sum of the
#    store's levels against the sum of all its movements' deltas, which the check keeps as a
#    running total per store (ledger_watch_stores) by adding each round's new deltas. That
#    catches a level changed behind the app's back, with or without a movement after it,
#    without reading the store's history; a store that disagrees is then checked pair by pair
#    over its whole history (verify(store_id)) to name the breach.
#
# Between them every single breach shows: a wrong balance_after is either out of line with the
# next movement of its pair or with its level, and a level that is not the sum of its deltas
# makes its store's sums disagree. (Breaches that cancel out exactly within one store are the
# one thing the sums cannot see; `flask verify-ledger` reads everything.)
#
# Ids are handed out before commit, so a movement with a smaller id can commit after one with a
# larger id: the watermark only moves over movements older than LEDGER_CHECK_SETTLE_SECONDS,
# longer than any ledger transaction runs.

# New movements out of line with the previous new movement of their pair.
CHAIN_SINCE = text("""
    SELECT id, store_id, product_id, balance_after, delta, previous FROM (
        SELECT id, store_id, product_id, balance_after, delta,
               LAG(balance_after) OVER (PARTITION BY store_id, product_id ORDER BY id)
                   AS previous
        FROM stock_movements WHERE id > :after_id AND id <= :upto_id) chain
    WHERE previous IS NOT NULL AND ROUND(balance_after - delta - previous, 3) <> 0
    ORDER BY id
""")
# The levels the new movements touched against the newest of them (read from the new movements
# alone). A pair whose level row is missing shows quantity NULL.
LEVELS_TOUCHED = text("""
    SELECT t.store_id, t.product_id, l.quantity, t.balance_after AS last_balance FROM (
        SELECT store_id, product_id, balance_after,
               ROW_NUMBER() OVER (PARTITION BY store_id, product_id ORDER BY id DESC) AS newest
        FROM stock_movements WHERE id > :after_id) t
    LEFT JOIN stock_levels l ON l.store_id = t.store_id AND l.product_id = t.product_id
    WHERE t.newest = 1 AND (l.quantity IS NULL OR ROUND(l.quantity - t.balance_after, 3) <> 0)
""")
# Each store's running total moves on by the deltas of the round's movements.
ADD_TO_TOTALS = text("""
    UPDATE ledger_watch_stores SET total = total + n.added
    FROM (SELECT store_id, SUM(delta) AS added FROM stock_movements
          WHERE id > :after_id AND id <= :upto_id GROUP BY store_id) n
    WHERE ledger_watch_stores.store_id = n.store_id
""")
# A store seen for the first time: its total is summed from its history once (one grouped
# scan for the stores of the round that have none yet).
STORES_WITHOUT_TOTAL = text("""
    SELECT COUNT(*) FROM stores s WHERE s.id > :first_store AND s.id <= :last_store
      AND NOT EXISTS (SELECT 1 FROM ledger_watch_stores w WHERE w.store_id = s.id)
""")
NEW_TOTALS = text("""
    INSERT INTO ledger_watch_stores (store_id, total, khata_total)
    SELECT s.id, COALESCE(t.total, 0), COALESCE(k.total, 0) FROM stores s
    LEFT JOIN (SELECT store_id, SUM(delta) AS total FROM stock_movements
               WHERE store_id > :first_store AND store_id <= :last_store AND id <= :upto_id
               GROUP BY store_id) t ON t.store_id = s.id
    LEFT JOIN (SELECT store_id, SUM(amount) AS total FROM customer_entries
               WHERE store_id > :first_store AND store_id <= :last_store
                 AND id <= :upto_entry_id
               GROUP BY store_id) k ON k.store_id = s.id
    WHERE s.id > :first_store AND s.id <= :last_store
      AND NOT EXISTS (SELECT 1 FROM ledger_watch_stores w WHERE w.store_id = s.id)
""")
# Stores whose levels do not add up to their running total plus the deltas written since the
# watermark (one statement: the levels and the newer movements are read at one moment).
STORES_OFF = text("""
    SELECT w.store_id, w.total, COALESCE(l.levels, 0) AS levels, COALESCE(n.newer, 0) AS newer
    FROM ledger_watch_stores w
    LEFT JOIN (SELECT store_id, SUM(quantity) AS levels FROM stock_levels
               WHERE store_id > :first_store AND store_id <= :last_store GROUP BY store_id) l
      ON l.store_id = w.store_id
    LEFT JOIN (SELECT store_id, SUM(delta) AS newer FROM stock_movements
               WHERE id > :upto_id AND store_id > :first_store AND store_id <= :last_store
               GROUP BY store_id) n
      ON n.store_id = w.store_id
    WHERE w.store_id > :first_store AND w.store_id <= :last_store
      AND ROUND(COALESCE(l.levels, 0) - w.total - COALESCE(n.newer, 0), 3) <> 0
""")
# Invariant 8, the same way over customers' ledgers: the new entries' balance_after links, each
# touched customer's balance against the newest of them, and store by store the sum of its
# customers' balances against its running total of entry amounts (khata_total).
ENTRY_CHAIN_SINCE = text("""
    SELECT id, customer_id, balance_after, amount, previous FROM (
        SELECT id, customer_id, balance_after, amount,
               LAG(balance_after) OVER (PARTITION BY customer_id ORDER BY id) AS previous
        FROM customer_entries WHERE id > :after_id AND id <= :upto_id) chain
    WHERE previous IS NOT NULL AND ROUND(balance_after - amount - previous, 2) <> 0
    ORDER BY id
""")
CUSTOMERS_TOUCHED = text("""
    SELECT t.customer_id, c.store_id, c.balance, t.balance_after AS last_balance FROM (
        SELECT customer_id, balance_after,
               ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY id DESC) AS newest
        FROM customer_entries WHERE id > :after_id) t
    JOIN customers c ON c.id = t.customer_id
    WHERE t.newest = 1 AND ROUND(c.balance - t.balance_after, 2) <> 0
""")
ADD_TO_KHATA_TOTALS = text("""
    UPDATE ledger_watch_stores SET khata_total = khata_total + n.added
    FROM (SELECT store_id, SUM(amount) AS added FROM customer_entries
          WHERE id > :after_id AND id <= :upto_id GROUP BY store_id) n
    WHERE ledger_watch_stores.store_id = n.store_id
""")
KHATA_STORES_OFF = text("""
    SELECT w.store_id, w.khata_total AS total, COALESCE(c.balances, 0) AS balances,
           COALESCE(n.newer, 0) AS newer
    FROM ledger_watch_stores w
    LEFT JOIN (SELECT store_id, SUM(balance) AS balances FROM customers
               WHERE store_id > :first_store AND store_id <= :last_store GROUP BY store_id) c
      ON c.store_id = w.store_id
    LEFT JOIN (SELECT store_id, SUM(amount) AS newer FROM customer_entries
               WHERE id > :upto_entry_id AND store_id > :first_store AND store_id <= :last_store
               GROUP BY store_id) n
      ON n.store_id = w.store_id
    WHERE w.store_id > :first_store AND w.store_id <= :last_store
      AND ROUND(COALESCE(c.balances, 0) - w.khata_total - COALESCE(n.newer, 0), 2) <> 0
""")
# Invariant 9 where it can break: the tracked levels the new movements touched, and the round's
# stores' tracked levels against their batches (a batch changed behind the app's back). Batches
# are few (a product's dates in a store), so neither reads any history.
BATCH_LEVEL = """
    SELECT l.store_id, l.product_id, l.quantity, COALESCE((
        SELECT SUM(b.quantity) FROM stock_batches b
        WHERE b.store_id = l.store_id AND b.product_id = l.product_id), 0) AS batches
    FROM stock_levels l JOIN products p ON p.id = l.product_id AND p.tracks_expiry
    WHERE {which}"""
BATCH_LEVEL_OFF = """
    SELECT * FROM ({levels}) v
    WHERE ROUND(batches - CASE WHEN quantity < 0 THEN 0 ELSE quantity END, 3) <> 0"""
TRACKED_TOUCHED_OFF = text(BATCH_LEVEL_OFF.format(levels=BATCH_LEVEL.format(
    which="(l.store_id, l.product_id) IN (SELECT DISTINCT store_id, product_id "
          "FROM stock_movements WHERE id > :after_id)")))
TRACKED_IN_STORES_OFF = text(BATCH_LEVEL_OFF.format(levels=BATCH_LEVEL.format(
    which="l.store_id > :first_store AND l.store_id <= :last_store")))
MAX_KEYS_KEPT = 1000
KINDS = ("chain", "levels", "orphans", "stores", "customers", "entries", "khata_stores",
         "batch_levels", "batches", "batch_movements")


def check_increment(conn, after_id, upto_id):
    """Breaches among the movements after_id < id <= upto_id and the levels they touched →
    {"chain": [...], "levels": [...], "orphans": [...], "batch_levels": [...]}."""
    found = {"chain": [_plain(r) for r in conn.execute(
        CHAIN_SINCE, {"after_id": after_id, "upto_id": upto_id})], "levels": [], "orphans": []}
    for row in conn.execute(LEVELS_TOUCHED, {"after_id": after_id}):
        found["orphans" if row.quantity is None else "levels"].append(_plain(row))
    found["batch_levels"] = [_plain(r) for r in conn.execute(
        TRACKED_TOUCHED_OFF, {"after_id": after_id})]
    return found


def check_entries(conn, after_id, upto_id):
    """Breaches among the customer entries after_id < id <= upto_id and the customers they
    touched → {"entries": [...], "customers": [...]}."""
    bounds = {"after_id": after_id, "upto_id": upto_id}
    return {"entries": [_plain(r) for r in conn.execute(ENTRY_CHAIN_SINCE, bounds)],
            "customers": [_plain(r) for r in conn.execute(CUSTOMERS_TOUCHED, bounds)]}


def check_stores(conn, first_store, last_store, upto_id, upto_entry_id=0):
    """The stores first_store < id <= last_store whose levels do not add up to their
    movements, or their customers' balances to their entries, each then checked pair by pair
    and customer by customer; and their tracked levels against their batches → found by kind
    (KINDS)."""
    bounds = {"first_store": first_store, "last_store": last_store, "upto_id": upto_id,
              "upto_entry_id": upto_entry_id}
    if conn.execute(STORES_WITHOUT_TOTAL, bounds).scalar():
        conn.execute(NEW_TOTALS, bounds)
    found = {kind: [] for kind in KINDS}
    for sums, off in ((STORES_OFF, "stores"), (KHATA_STORES_OFF, "khata_stores")):
        for row in conn.execute(sums, bounds):
            report = verify(conn, row.store_id)["violations"]
            if any(report.values()):
                for kind, rows in report.items():
                    found[kind] += [r for r in rows if r not in found[kind]]
            else:  # the sums disagree and nothing can be named: say so for the store
                found[off].append(_plain(row))
    found["batch_levels"] += [r for r in (_plain(r) for r in conn.execute(
        TRACKED_IN_STORES_OFF, bounds)) if r not in found["batch_levels"]]
    return found


def violation_keys(found):
    """Stable keys for breaches, so a breach seen again is not a new alarm."""
    keys = [f"chain:{r['id']}" for r in found.get("chain", [])]
    keys += [f"level:{r['store_id']}:{r['product_id']}" for r in found.get("levels", [])]
    keys += [f"orphan:{r['store_id']}:{r['product_id']}" for r in found.get("orphans", [])]
    keys += [f"store:{r['store_id']}" for r in found.get("stores", [])]
    keys += [f"customer:{r['customer_id']}" for r in found.get("customers", [])]
    keys += [f"entry:{r['id']}" for r in found.get("entries", [])]
    keys += [f"khata:{r['store_id']}" for r in found.get("khata_stores", [])]
    keys += [f"batch-level:{r['store_id']}:{r['product_id']}"
             for r in found.get("batch_levels", [])]
    keys += [f"batch:{r['id']}" for r in found.get("batches", [])]
    keys += [f"batch-movement:{r['id']}" for r in found.get("batch_movements", [])]
    return list(dict.fromkeys(keys))


def watch_state(conn, lock=False):
    """The ledger_watch row (made on first use); locked FOR UPDATE SKIP LOCKED with lock=True
    (None then if another worker holds it: it is checking right now)."""
    from sqlalchemy import select

    from webapp.models import LedgerWatch
    from webapp.services.sql import insert_ignore, skip_locked

    table = LedgerWatch.__table__
    query = select(table).where(table.c.id == 1)
    row = conn.execute(skip_locked(conn, query) if lock else query).mappings().first()
    if row is None:
        conn.execute(insert_ignore(conn, table).values(id=1, last_movement_id=0, store_cursor=0,
                                                       violations=0))
        row = conn.execute(skip_locked(conn, query) if lock else query).mappings().first()
    return row


def watch_once(conn, now, *, settle_seconds, stores_per_round, max_movements, every_seconds=0):
    """One round of the continuous check inside the caller's transaction → a summary dict, or
    None when it is not due yet or another worker is on it. New breaches raise the alarm."""
    from datetime import timedelta

    from sqlalchemy import func, select, update

    from webapp.models import CustomerEntry, LedgerWatch, StockMovement, Store

    state = watch_state(conn, lock=True)
    if state is None:
        return None
    if every_seconds and state["checked_at"] is not None and \
            (now - state["checked_at"]).total_seconds() < every_seconds:
        return None
    movements, stores = StockMovement.__table__, Store.__table__
    horizon = now - timedelta(seconds=settle_seconds)
    after_id = state["last_movement_id"]
    upto_id = conn.execute(select(func.max(movements.c.id)).where(
        movements.c.id > after_id, movements.c.id <= after_id + max_movements,
        movements.c.created_at < horizon)).scalar() or after_id
    entries = CustomerEntry.__table__
    after_entry = state["last_entry_id"]
    upto_entry = conn.execute(select(func.max(entries.c.id)).where(
        entries.c.id > after_entry, entries.c.id <= after_entry + max_movements,
        entries.c.created_at < horizon)).scalar() or after_entry
    found = {kind: [] for kind in KINDS}
    if upto_id > after_id:
        found.update(check_increment(conn, after_id, upto_id))
        conn.execute(ADD_TO_TOTALS, {"after_id": after_id, "upto_id": upto_id})
    if upto_entry > after_entry:
        found.update(check_entries(conn, after_entry, upto_entry))
        conn.execute(ADD_TO_KHATA_TOTALS, {"after_id": after_entry, "upto_id": upto_entry})
    store_ids = conn.execute(select(stores.c.id).where(stores.c.id > state["store_cursor"])
                             .order_by(stores.c.id).limit(stores_per_round)).scalars().all() \
        if stores_per_round > 0 else []
    # Past the last store the pass starts again from the first.
    cursor = store_ids[-1] if store_ids and len(store_ids) == stores_per_round else \
        (state["store_cursor"] if stores_per_round <= 0 else 0)
    if store_ids:
        for kind, rows in check_stores(conn, state["store_cursor"], store_ids[-1],
                                       upto_id, upto_entry).items():
            found[kind] += [r for r in rows if r not in found[kind]]
    known = list((state["details"] or {}).get("keys", []))
    new = [k for k in violation_keys(found) if k not in set(known)]
    total = state["violations"] + len(new)
    conn.execute(update(LedgerWatch.__table__).where(LedgerWatch.__table__.c.id == 1).values(
        last_movement_id=upto_id, last_entry_id=upto_entry, store_cursor=cursor,
        checked_at=now, violations=total,
        first_violation_at=state["first_violation_at"] or (now if new else None),
        details={"keys": (known + new)[:MAX_KEYS_KEPT]} if (known or new) else None))
    if new:
        _raise_alarm(conn, found, new, total)
    return {"movements": upto_id - after_id, "from_id": after_id, "to_id": upto_id,
            "entries": upto_entry - after_entry, "stores": len(store_ids),
            "new_violations": len(new), "violations": total}


def _raise_alarm(conn, found, new, total):
    """The first sight of a breach: an audit event (which also goes out as the webhook event
    ledger.violation) and a log line at ERROR; the gauge and the admin page read the row."""
    import logging

    from webapp.services import audit

    logging.getLogger("kiryana.ledger").error(
        "ledger invariants broken: %s new violation(s), %s known: %s", len(new), total,
        ", ".join(new[:10]))
    audit.record(conn, None, "ledger.violation", "ledger", None,
                 after={"new": new[:100], "violations": total,
                        "examples": {k: v[:5] for k, v in found.items() if v}})


def record_full_check(conn, now, report):
    """After `flask verify-ledger` over every store: its findings become the watch's alarm
    state (an operator who fixed the ledger clears the alarm this way)."""
    from sqlalchemy import update

    from webapp.models import LedgerWatch

    state = watch_state(conn)
    keys = violation_keys(report["violations"])
    conn.execute(update(LedgerWatch.__table__).where(LedgerWatch.__table__.c.id == 1).values(
        violations=len(keys), details={"keys": keys[:MAX_KEYS_KEPT]} if keys else None,
        first_violation_at=(state["first_violation_at"] or now) if keys else None))
    known = set((state["details"] or {}).get("keys", []))
    new = [k for k in keys if k not in known]
    if new:
        _raise_alarm(conn, report["violations"], new, len(keys))


def watch_summary(conn):
    """(violations, first_violation_at, checked_at) for the gauge and the admin page."""
    state = watch_state(conn)
    return state["violations"], state["first_violation_at"], state["checked_at"]


def watch_summary_now():
    """watch_summary in the session's own short transaction, committed (the watch row is made
    on first use): for /metrics, whose view never commits."""
    from webapp.extensions import db

    try:
        summary = watch_summary(db.session.connection())
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return summary
