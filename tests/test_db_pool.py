"""Each process keeps DATABASE_POOL_SIZE connections open (PostgreSQL): two per gunicorn thread
(its ledger writes' own, webapp/infra/pinned.py, and its ORM session's).

Beyond the pool SQLAlchemy opens an overflow connection per checkout and closes it on return;
with its default of 5 under 8 threads, 1 sale in 20 paid for a fresh PostgreSQL backend
(bench: 224–268 sales/s before, 350 after).
"""
import gc
import threading

import psycopg2
import pytest
from sqlalchemy import event, text

from tests import services
from tests.conftest import _config
from tests.factories import ADMIN, make_product, make_store
from webapp import create_app
from webapp.extensions import db
from webapp.infra import pinned
from webapp.services import commands, ledger

THREADS = 8  # gunicorn --threads in the production recipe and the benchmark


@pytest.mark.postgres
def test_as_many_threads_as_the_pool_reuse_their_connections(pg_url):
    app = create_app(_config(pg_url))
    assert app.config["DATABASE_POOL_SIZE"] >= THREADS
    with app.app_context():
        engine = db.engine
    opened = []
    event.listen(engine, "connect", lambda *args: opened.append(1))
    together = threading.Barrier(THREADS)

    def requests():
        for _ in range(5):  # five rounds of every thread holding a connection at once
            with app.app_context():
                db.session.execute(text("SELECT 1"))
                together.wait(10)
                db.session.remove()
            together.wait(10)

    threads = [threading.Thread(target=requests) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    engine.dispose()
    assert len(opened) == THREADS  # each thread's first checkout; none opened again


@pytest.mark.postgres
def test_a_threads_ledger_writes_share_one_connection_given_back_when_the_thread_ends(pg_app,
                                                                                    pg_url):
    """infra/pinned: a thread's standalone ledger writes take no pool checkout after the first;
    a killed backend is replaced under it; each thread has its own; a failed write's connection
    is replaced; a finished thread's connection is back in the pool."""
    # the default: a pinned connection and a session's for each thread
    assert create_app(_config(pg_url)).config["DATABASE_POOL_SIZE"] >= 2 * THREADS
    app = pg_app
    store, product = make_store(), make_product()
    db.session.commit()
    store_id, product_id = store.id, product.id
    engine = db.engine
    pinned.discard()
    start = engine.pool.checkedout()
    checkouts = []

    def checkouts_listener(*args):
        checkouts.append(threading.get_ident())
    event.listen(engine, "checkout", checkouts_listener)

    def sell(count):
        with app.app_context():
            for _ in range(count):
                ledger.record_movement(ADMIN, commands.Movement.parse(
                    store_id=store_id, product_id=product_id, type="stock_in", quantity=1))
            return pinned.connection()

    with app.app_context():
        mine = sell(3)
        assert pinned.connection() is mine and len(checkouts) == 1
        # Its backend killed (a restart, a failover): the next write's first statement is sent
        # again on a new DBAPI connection under the same Core connection.
        backend = mine.connection.dbapi_connection.get_backend_pid()
        admin = psycopg2.connect(services.PG_ADMIN_URL)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (backend,))
        admin.close()
        assert sell(1) is mine
        assert mine.connection.dbapi_connection.get_backend_pid() != backend

    theirs, errors = [], []

    def other():
        try:
            theirs.append(sell(2))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(30)
    gc.collect()
    assert not errors and theirs[0] is not mine and len(checkouts) == 2
    assert engine.pool.checkedout() == start + 1  # the other's went back; this one's is held

    with app.app_context():
        def broken(conn, now):
            raise RuntimeError("the server went away")
        with pytest.raises(RuntimeError):
            ledger.run_in_transaction(ADMIN, None, {}, broken, standalone=True)
        assert pinned.connection() is not mine  # a fresh one after a failure
        assert engine.pool.checkedout() == start + 1
        pinned.discard()
    event.remove(engine, "checkout", checkouts_listener)
