"""The app behind pgbouncer in transaction pooling mode (the production recipe).

Every test of test_ledger_concurrency.py runs again here, with the app connected to a real
pgbouncer this module starts (4 server connections shared by up to 32 client threads), so any
session state carried from one transaction to the next (SET, session advisory locks, prepared
statements, temporary tables) would show up as a wrong result or an error.
"""
import shutil
from datetime import datetime, timezone

import psycopg2
import pytest
from sqlalchemy import text

from tests import processes
from tests.conftest import _clean, _config
from tests.test_ledger_concurrency import (  # noqa: F401  (collected again, through pgbouncer)
    test_32_threads_selling_one_product_until_it_runs_out,
    test_concurrent_idempotent_replays_write_once,
    test_opposite_transfers_do_not_deadlock,
    test_random_mix_of_all_movement_types_keeps_every_invariant,
)
from webapp import create_app
from webapp.extensions import db
from webapp.jobs import sweep
from webapp.services import partitions

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def bouncer(pg_session_app):
    proc = processes.start_pgbouncer(processes.free_port())
    yield proc
    proc.stop()
    shutil.rmtree(proc.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def bouncer_url(pg_url, bouncer):
    return pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{bouncer.port}")


@pytest.fixture(scope="module")
def bounced_app(bouncer_url):
    app = create_app(_config(bouncer_url, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 40,
                                                                     "max_overflow": 10}))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def pg_app(bounced_app):
    """Overrides conftest's pg_app for the imported tests: the same database, via pgbouncer."""
    _clean(bounced_app)
    with bounced_app.app_context():
        yield bounced_app
        db.session.remove()


def _admin(bouncer, command):
    conn = psycopg2.connect(host="127.0.0.1", port=bouncer.port, dbname="pgbouncer",
                            user="postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(command)
        columns = [c.name for c in cur.description]
        rows = [dict(zip(columns, row)) for row in cur.fetchall()]
    conn.close()
    return rows


def test_the_app_really_goes_through_pgbouncer(pg_app, bouncer, pg_url):
    database = pg_url.rsplit("/", 1)[1]
    before = {r["database"]: r["total_xact_count"] for r in _admin(bouncer, "SHOW STATS")}
    for _ in range(5):
        assert db.session.execute(text("SELECT 1")).scalar() == 1
        db.session.commit()
    after = {r["database"]: r["total_xact_count"] for r in _admin(bouncer, "SHOW STATS")}
    assert after[database] >= before.get(database, 0) + 5
    pools = [p for p in _admin(bouncer, "SHOW POOLS") if p["database"] == database]
    assert pools and pools[0]["pool_mode"] == "transaction"


def test_the_sweep_makes_partitions_through_pgbouncer(pg_app):
    """Its advisory lock and SET are transaction-scoped, so they are safe in this mode."""
    far = partitions.add_months(partitions.month_start(datetime.now(timezone.utc)), 60)
    made = partitions.ensure_ahead(db.session.connection(), 1, today=far)
    db.session.commit()
    assert len(made) == 2
    sweep.sweep_once(pg_app)
    # No session kept a lock_timeout: a fresh transaction on any server connection sees the default.
    for _ in range(8):
        assert db.session.execute(text("SHOW lock_timeout")).scalar() == "0"
        db.session.commit()
