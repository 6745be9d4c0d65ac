"""Backup, restore and ledger checks of a large database: `python -m drill.scale --stores 200`
(1,000 products each, 5 movements a pair: 200 stores = 1M movements, 2,000 = 10M).

Builds the database in a private archiving cluster with bench.reports_data (the reports
benchmark's closed-form ledger), then times: pg_basebackup, a restore of that backup replaying
the archive to its end, `flask verify-ledger` on the restored copy, and the worker's
incremental ledger check (integrity.watch_once) over the movements and customer entries of
one minute at a given rate. fsync and full_page_writes are on here, as in production.
"""
import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from drill import clusters
from tests.processes import ROOT, app_env


def _du(path):
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True).stdout.split()[0]


# Customers' ledgers (invariant 8) beside the movements: `per_store` customers in every store,
# each with `entries` sales on credit of 100.00, their balances the sums (one statement each).
KHATA_SEED = ["""
    INSERT INTO customers (store_id, name, balance, language, note, created_at, updated_at)
    SELECT s.id, 'Customer ' || n, 0, 'ur', '', now(), now()
    FROM stores s, generate_series(1, :per_store) n
""", """
    INSERT INTO customer_entries (customer_id, store_id, kind, amount, balance_after, note,
                                  created_at)
    SELECT c.id, c.store_id, 'sale', 100.00, 100.00 * n, '', now() - interval '1 day'
    FROM customers c, generate_series(1, :entries) n ORDER BY n, c.id
""", """
    UPDATE customers SET balance = 100.00 * :entries
"""]


def seed_khata(app, per_store, entries):
    """Give every store `per_store` customers with `entries` credit entries each → how many."""
    from webapp.extensions import db

    with app.app_context():
        for statement in KHATA_SEED:
            db.session.execute(text(statement), {"per_store": per_store, "entries": entries})
        db.session.commit()
        count = db.session.execute(text("SELECT count(*) FROM customer_entries")).scalar()
        db.session.execute(text("ANALYZE customers; ANALYZE customer_entries"))
        db.session.commit()
        db.engine.dispose()
    return count


UNCOUNT = text("""
    UPDATE ledger_watch_stores w SET total = w.total - COALESCE(m.added, 0),
                                     khata_total = w.khata_total - COALESCE(e.added, 0)
    FROM stores s
    LEFT JOIN (SELECT store_id, SUM(delta) AS added FROM stock_movements WHERE id > :after_id
               GROUP BY store_id) m ON m.store_id = s.id
    LEFT JOIN (SELECT store_id, SUM(amount) AS added FROM customer_entries
               WHERE id > :after_entry_id GROUP BY store_id) e ON e.store_id = s.id
    WHERE w.store_id = s.id
""")


def _time_check(app, rates, stores_per_round=50):
    """Seconds one round of the continuous check takes when `rate` movements (and a tenth as
    many customer entries: sales on credit) were written since the last round (the newest
    ones), plus LEDGER_CHECK_STORES_PER_ROUND stores' levels, balances and batches. Run twice
    each: the second, with the ledger's index pages cached, is what a worker that checks every
    minute sees."""
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.models import CustomerEntry, LedgerWatch, StockMovement
    from webapp.models.types import utcnow
    from webapp.services import integrity

    timings = {}
    with app.app_context():
        conn = db.session.connection()
        newest = conn.execute(select(func.max(StockMovement.id))).scalar()
        newest_entry = conn.execute(select(func.max(CustomerEntry.id))).scalar() or 0
        integrity.watch_state(conn)
        db.session.commit()
        # The first round over every store sums each store's history once, to start its
        # running total; it is committed, as a worker's first rounds would be.
        db.session.execute(LedgerWatch.__table__.update().values(
            last_movement_id=newest, last_entry_id=newest_entry))
        t = time.perf_counter()
        integrity.watch_once(db.session.connection(), utcnow(), settle_seconds=0,
                             stores_per_round=1_000_000, max_movements=1)
        db.session.commit()
        first = timings["first round, every store's total"] = round(time.perf_counter() - t, 2)
        print(f"first round (sums every store's history once): {first} s", flush=True)
        for rate in rates:
            for attempt in ("cold", "warm"):
                # As if the newest `rate` movements (and a tenth as many entries) came after
                # the last round: the watermarks go back and the stores' running totals lose
                # what they had counted of them (in the round's transaction, rolled back after).
                after, after_entry = newest - rate, max(newest_entry - rate // 10, 0)
                db.session.execute(LedgerWatch.__table__.update().values(
                    last_movement_id=after, last_entry_id=after_entry, store_cursor=0,
                    checked_at=None))
                db.session.execute(UNCOUNT, {"after_id": after, "after_entry_id": after_entry})
                t = time.perf_counter()
                summary = integrity.watch_once(
                    db.session.connection(), utcnow(), settle_seconds=0,
                    stores_per_round=stores_per_round, max_movements=10_000_000)
                db.session.rollback()
                seconds = round(time.perf_counter() - t, 2)
                timings[f"{rate}/min {attempt}"] = seconds
                print(f"continuous check, {rate:,} new movements, {summary['entries']:,} new "
                      f"customer entries + {stores_per_round} stores' sums ({attempt}): "
                      f"{seconds} s, {summary['new_violations']} violations", flush=True)
        t = time.perf_counter()
        report = integrity.verify(db.session.connection())
        db.session.rollback()
        timings["full check"] = round(time.perf_counter() - t, 1)
        print(f"the whole ledger checked at once (verify-ledger's query): "
              f"{timings['full check']} s, "
              f"{sum(map(len, report['violations'].values()))} violations", flush=True)
        db.engine.dispose()
    return timings


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--no-backup", action="store_true",
                        help="Only build and time the continuous check (no backup, no restore).")
    parser.add_argument("--per-minute", type=int, nargs="*", default=[6000, 60000],
                        help="Movements a minute the continuous check is timed at.")
    parser.add_argument("--stores-per-round", type=int, default=50)
    parser.add_argument("--customers", type=int, default=20,
                        help="Customers per store, each with --entries credit entries.")
    parser.add_argument("--entries", type=int, default=25)
    parser.add_argument("--url", help="Time the continuous check on this existing, built "
                                      "database instead (no build, no backup).")
    args = parser.parse_args(argv)
    from flask_migrate import upgrade

    from bench import reports_data
    from tests.conftest import _config
    from webapp import create_app
    from webapp.extensions import db
    from webapp.services import partitions

    if args.url:
        from tests.conftest import _config
        from webapp import create_app

        app = create_app(_config(args.url))
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        print(json.dumps(_time_check(app, args.per_minute, args.stores_per_round)))
        return None
    figures = {"movements": args.stores * args.products * 5}
    base = clusters.workspace("kiryana-scale-")
    primary = restored = None
    try:
        primary = clusters.archiving_primary(base, fsync="on", full_page_writes="on",
                                             shared_buffers="'512MB'",
                                             max_wal_size="'4GB'", checkpoint_timeout="'15min'")
        clusters.sql(primary, "CREATE DATABASE kiryana")
        url = primary.url("kiryana")
        app = create_app(_config(url))
        start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=366)
        with app.app_context():
            upgrade()
            partitions.ensure_ahead(db.session.connection(), 16, today=start)
            db.session.commit()
            db.engine.dispose()
        t = time.perf_counter()
        reports_data.build(url.replace("+psycopg2", ""), start, stores=args.stores,
                           products=args.products)
        reports_data.vacuum(url.replace("+psycopg2", ""), reports_data.BIG_TABLES)
        figures["build_seconds"] = round(time.perf_counter() - t, 1)
        figures["database_size"] = clusters.sql(
            primary, "SELECT pg_size_pretty(pg_database_size('kiryana'))")[0]
        print(f"built {figures['movements']:,} movements in {figures['build_seconds']} s "
              f"({figures['database_size']})", flush=True)
        if args.customers:
            figures["customer_entries"] = seed_khata(app, args.customers, args.entries)
            print(f"and {figures['customer_entries']:,} customer entries "
                  f"({args.customers} customers a store)", flush=True)

        figures["check_round_seconds"] = _time_check(app, args.per_minute, args.stores_per_round)
        if args.no_backup:
            return figures
        t = time.perf_counter()
        clusters.base_backup(primary, base / "backup")
        figures["basebackup_seconds"] = round(time.perf_counter() - t, 1)
        figures["backup_size"] = _du(base / "backup")
        clusters.archive_current_wal(primary)
        print(f"pg_basebackup: {figures['basebackup_seconds']} s ({figures['backup_size']})",
              flush=True)
        primary.stop()

        restored, seconds = clusters.restore(base / "backup", primary.archive, base / "restored")
        figures["restore_seconds"] = round(seconds, 1)
        print(f"restore to the end of the archive: {figures['restore_seconds']} s "
              "(copy of the base backup, WAL replay, promotion)", flush=True)

        env = app_env(restored.url("kiryana"), "", "scale:", FLASK_APP="webapp")
        t = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "flask", "verify-ledger"], cwd=ROOT,
                                env=env, capture_output=True, text=True, timeout=3600)
        figures["verify_ledger_seconds"] = round(time.perf_counter() - t, 1)
        figures["verify_ledger_ok"] = result.returncode == 0
        print(result.stdout.strip().splitlines()[0] if result.stdout else result.stderr)
        print(f"verify-ledger: {figures['verify_ledger_seconds']} s, "
              f"{'OK' if result.returncode == 0 else 'FAILED'}", flush=True)
    finally:
        clusters.remove(base, restored, primary)
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
