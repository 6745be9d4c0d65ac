"""Bulk import at scale: 50,000 product rows from one CSV on a fresh PostgreSQL database.

`make bench-import` (`python -m bench.import_products [rows]`): the dry run (upload check), the
import itself (what the RQ job runs, in-process here), then the same file again (every row
unchanged, nothing written). Prints the times and merges them into bench/results.json
(BENCH_RESULTS) under "import". A benchmark, not a timed test: the target is under 60 s for the
import of 50,000 rows.
"""
import os
import platform
import sys
import time
from datetime import datetime, timezone

from bench import run
from config import TestingConfig, sqlalchemy_url
from tests import services

UNITS = ("piece", "kg", "pack", "litre", "dozen")


def make_csv(rows):
    """Urdu names, thousands separators in prices, every unit: what a real catalogue holds."""
    lines = ["SKU,Name,Category,Unit,Sale price,Cost,Reorder level,Pack size,Barcode"]
    for i in range(rows):
        price = 50 + (i * 37) % 4000
        lines.append(f'BULK-{i:06d},"مال نمبر {i} Item {i}",Category {i % 40},{UNITS[i % 5]},'
                     f'"{price:,}.50",{price - 10}.00,{i % 20},{1 + i % 24},89{i:011d}')
    return ("\n".join(lines) + "\n").encode("utf-8")


def main(rows=50_000):
    from flask_migrate import upgrade

    from webapp import create_app
    from webapp.extensions import db
    from webapp.services import accounts, audit, imports

    if not services.postgres_available():
        sys.exit("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = services.create_database("kiryana_bench_import")
    config = type("BenchImport", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url)})
    app = create_app(config)
    figures = {"load_average_before": round(os.getloadavg()[0], 1)}
    try:
        with app.app_context():
            upgrade()
            setup = audit.Actor(None, "web", "bench")
            user = accounts.create_user(setup, "importer", "galla-load-tester-7", role="manager")
            actor = audit.Actor(user.id, "web", "bench")
            content = make_csv(rows)
            figures["file_mb"] = round(len(content) / 1e6, 1)
            for label in ("first", "again"):
                start = time.perf_counter()
                job_id = imports.check(actor, "products", content, "bench.csv")
                checked = time.perf_counter()
                imports.confirm(actor, job_id, user)
                counts = imports.run(job_id)
                done = time.perf_counter()
                figures[label] = {"dry_run_s": round(checked - start, 1),
                                  "import_s": round(done - checked, 1),
                                  "total_s": round(done - start, 1), **counts}
                print(f"{label}: dry run {checked - start:.1f} s, import {done - checked:.1f} s "
                      f"({counts})", flush=True)
            assert figures["first"]["created"] == rows and figures["again"]["unchanged"] == rows
            db.session.remove()
            db.engine.dispose()
    finally:
        services.drop_database(url)
    figures.update(rows=rows, load_average_after=round(os.getloadavg()[0], 1), measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   machine=f"{platform.machine()}, Python {platform.python_version()}")
    run.save(**{"import": figures})
    return figures


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
