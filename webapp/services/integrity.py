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


# --- The continuous check: the worker watches the ledger, a little at a time ----------------
#
# Invariant 1 holds for a (store, product) pair exactly when every movement's balance_after is
# the previous movement's plus its delta (the first one's: 0 plus its delta) and the level equals
# the last movement's balance_after: then, by induction, the level is the sum of the deltas.
# Movements are never updated, so each one's link needs checking only once, when it is new:
# each round checks the links of the movements since the watermark, and the levels of the pairs
# they touched. A level changed behind the app's back with no movement after it is caught by the
# level pass, which goes store by store (LEDGER_CHECK_STORES_PER_ROUND a round, round and round).
# So a round costs what was written since the last one plus a few stores' levels, never a scan
# of the whole ledger.
#
# Ids are handed out before commit, so a movement with a smaller id can commit after one with a
# larger id: the watermark only moves over movements older than LEDGER_CHECK_SETTLE_SECONDS,
# longer than any ledger transaction runs.

# New movements whose link to the previous movement of their pair is broken. The previous
# movement is read (one index probe) only for the first new movement of each pair.
CHAIN_SINCE = text("""
    SELECT id, store_id, product_id, balance_after, delta, previous FROM (
        SELECT id, store_id, product_id, balance_after, delta,
               CASE WHEN prev_in IS NOT NULL THEN prev_in ELSE COALESCE(
                   (SELECT p.balance_after FROM stock_movements p
                    WHERE p.store_id = n.store_id AND p.product_id = n.product_id
                      AND p.id < n.first_id
                    ORDER BY p.id DESC LIMIT 1), 0) END AS previous
        FROM (SELECT id, store_id, product_id, balance_after, delta,
                     LAG(balance_after) OVER w AS prev_in, MIN(id) OVER w AS first_id
              FROM stock_movements WHERE id > :after_id AND id <= :upto_id
              WINDOW w AS (PARTITION BY store_id, product_id ORDER BY id)) n) chain
    WHERE ROUND(balance_after - delta - previous, 3) <> 0
    ORDER BY id
""")

# The levels the new movements touched against the last of them: read from the new movements
# alone (within a pair ids follow commit order: the level's row lock orders its writers), so no
# lookup into the ledger's history. A pair whose level row is missing shows quantity NULL.
LEVELS_TOUCHED = text("""
    SELECT t.store_id, t.product_id, l.quantity, t.balance_after AS last_balance FROM (
        SELECT store_id, product_id, balance_after,
               ROW_NUMBER() OVER (PARTITION BY store_id, product_id ORDER BY id DESC) AS newest
        FROM stock_movements WHERE id > :after_id) t
    LEFT JOIN stock_levels l ON l.store_id = t.store_id AND l.product_id = t.product_id
    WHERE t.newest = 1 AND (l.quantity IS NULL OR ROUND(l.quantity - t.balance_after, 3) <> 0)
""")
# Every level of a range of stores against its pair's last movement. The ledger writes a level's
# updated_at and its movement's created_at from the same clock reading, so the last movement is
# looked for from updated_at on first (on PostgreSQL that prunes the monthly partitions to the
# newest); a level touched since without a movement (a reorder level, a new zero level) falls
# back to the whole history.
LEVELS_OF_STORES = text("""
    SELECT * FROM (
        SELECT l.store_id, l.product_id, l.quantity, COALESCE(
            (SELECT m.balance_after FROM stock_movements m
             WHERE m.store_id = l.store_id AND m.product_id = l.product_id
               AND m.created_at >= l.updated_at ORDER BY m.id DESC LIMIT 1),
            (SELECT m.balance_after FROM stock_movements m
             WHERE m.store_id = l.store_id AND m.product_id = l.product_id
             ORDER BY m.id DESC LIMIT 1), 0) AS last_balance
        FROM stock_levels l WHERE l.store_id > :first_store AND l.store_id <= :last_store) checked
    WHERE ROUND(quantity - last_balance, 3) <> 0
""")
MAX_KEYS_KEPT = 1000


def check_increment(conn, after_id, upto_id):
    """Breaches among the movements after_id < id <= upto_id and the levels they touched →
    {"chain": [...], "levels": [...], "orphans": [...]}."""
    params = {"after_id": after_id, "upto_id": upto_id}
    found = {"chain": [_plain(r) for r in conn.execute(CHAIN_SINCE, params)],
             "levels": [], "orphans": []}
    for row in conn.execute(LEVELS_TOUCHED, {"after_id": after_id}):
        found["orphans" if row.quantity is None else "levels"].append(_plain(row))
    return found


def check_stores(conn, first_store, last_store):
    """Levels of the stores first_store < id <= last_store that differ from their last
    movement's balance_after (0 for a level no movement made)."""
    return [_plain(r) for r in conn.execute(
        LEVELS_OF_STORES, {"first_store": first_store, "last_store": last_store})]


def violation_keys(found):
    """Stable keys for breaches, so a breach seen again is not a new alarm."""
    keys = [f"chain:{r['id']}" for r in found.get("chain", [])]
    keys += [f"level:{r['store_id']}:{r['product_id']}" for r in found.get("levels", [])]
    keys += [f"orphan:{r['store_id']}:{r['product_id']}" for r in found.get("orphans", [])]
    return keys


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

    from webapp.models import LedgerWatch, StockMovement, Store

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
    found = check_increment(conn, after_id, upto_id) if upto_id > after_id else \
        {"chain": [], "levels": [], "orphans": []}
    store_ids = conn.execute(select(stores.c.id).where(stores.c.id > state["store_cursor"])
                             .order_by(stores.c.id).limit(stores_per_round)).scalars().all() \
        if stores_per_round > 0 else []
    # Past the last store the pass starts again from the first.
    cursor = store_ids[-1] if store_ids and len(store_ids) == stores_per_round else \
        (state["store_cursor"] if stores_per_round <= 0 else 0)
    if store_ids:
        known_levels = {(r["store_id"], r["product_id"]) for r in found["levels"]}
        found["levels"] += [r for r in check_stores(conn, state["store_cursor"], store_ids[-1])
                            if (r["store_id"], r["product_id"]) not in known_levels]
    known = list((state["details"] or {}).get("keys", []))
    new = [k for k in violation_keys(found) if k not in set(known)]
    total = state["violations"] + len(new)
    conn.execute(update(LedgerWatch.__table__).where(LedgerWatch.__table__.c.id == 1).values(
        last_movement_id=upto_id, store_cursor=cursor, checked_at=now, violations=total,
        first_violation_at=state["first_violation_at"] or (now if new else None),
        details={"keys": (known + new)[:MAX_KEYS_KEPT]} if (known or new) else None))
    if new:
        _raise_alarm(conn, found, new, total)
    return {"movements": upto_id - after_id, "from_id": after_id, "to_id": upto_id,
            "stores": len(store_ids), "new_violations": len(new), "violations": total}


def _raise_alarm(conn, found, new, total):
    """The first sight of a breach: an audit event (which also goes out as the webhook event
    ledger.violation) and a log line at ERROR; the gauge and the admin page read the row."""
    import logging

    from webapp.services import audit

    logging.getLogger("kiryana.ledger").error(
        "ledger invariant 1 broken: %s new violation(s), %s known: %s", len(new), total,
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
