"""A dropped database connection: the first statement of a transaction is sent again once on a
new connection; a later statement, whose transaction is lost, is not — unless the whole write
carries an idempotency key, which the ledger's runner then sends again once, COMMIT included."""
import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tests import services
from tests.factories import ADMIN, make_product, make_store
from webapp.extensions import db
from webapp.infra import dbretry
from webapp.services import commands, ledger
from webapp.services.ledger import runner

pytestmark = pytest.mark.postgres


def _backend_pid():
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
    db.session.commit()  # back to the pool, still open
    return pid


def _kill(pid):
    conn = psycopg2.connect(services.PG_ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        assert cur.fetchone()[0] is True
    conn.close()


def _kill_every_connection():
    """Every connection to the test database dies, as when PostgreSQL restarts: the pool may
    hold several (earlier tests on this worker opened them), and any of them may be checked out."""
    conn = psycopg2.connect(services.PG_ADMIN_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", (db.engine.url.database,))
        pids = {row[0] for row in cur.fetchall()}
    conn.close()
    return pids


def test_no_ping_per_checkout():
    from config import Config

    assert "pool_pre_ping" not in Config.SQLALCHEMY_ENGINE_OPTIONS
    assert Config.SQLALCHEMY_ENGINE_OPTIONS["pool_recycle"] == Config.DATABASE_POOL_RECYCLE


def test_a_sale_on_a_dropped_connection_is_sent_again_once(pg_app):
    store_id, product_id = make_store().id, make_product(unit="piece").id
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store_id, product_id=product_id, type="stock_in", quantity=5))
    db.session.remove()
    before = dbretry.stats["retried"]
    _backend_pid()  # at least one connection waits in the pool
    pids = _kill_every_connection()
    result = ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store_id, product_id=product_id, type="sale", quantity=2))
    assert result.data["level"]["quantity"] == "3.000"
    assert dbretry.stats["retried"] == before + 1
    assert db.session.execute(text("SELECT pg_backend_pid()")).scalar() not in pids
    count = db.session.execute(text("SELECT count(*) FROM stock_movements")).scalar()
    assert count == 2  # written once, not twice


def test_a_later_statement_in_the_transaction_is_not_retried(pg_app):
    store = make_store()
    db.session.commit()
    store_id = store.id
    before = dbretry.stats["retried"]
    db.session.execute(text("UPDATE stores SET name = 'changed' WHERE id = :id"),
                       {"id": store_id})
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
    _kill(pid)
    with pytest.raises(OperationalError):
        db.session.execute(text("SELECT 1"))
    db.session.rollback()
    assert dbretry.stats["retried"] == before
    name = db.session.execute(text("SELECT name FROM stores WHERE id = :id"),
                              {"id": store_id}).scalar()
    assert name != "changed"  # the lost transaction stays lost; nothing was replayed


def test_a_failed_retry_is_not_retried_again(pg_app, monkeypatch):
    from sqlalchemy.pool.base import _ConnectionRecord

    db.session.remove()
    before = dbretry.stats["retried"]
    real_get = _ConnectionRecord.get_connection

    def dead_on_arrival(record):  # every connection handed out is already dropped
        connection = real_get(record)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
        connection.commit()
        _kill(pid)
        return connection

    monkeypatch.setattr(_ConnectionRecord, "get_connection", dead_on_arrival)
    with pytest.raises(OperationalError):
        db.session.execute(text("SELECT 1"))
    monkeypatch.undo()
    db.session.rollback()
    assert dbretry.stats["retried"] == before + 1


def test_a_statement_sent_on_the_cursor_fails_as_sqlalchemy_would(pg_app):
    """dbretry.send (the sale's statements): a refused statement raises SQLAlchemy's error, the
    transaction rolls back, and the connection serves the next one."""
    from sqlalchemy.exc import DataError

    with db.engine.connect() as conn:
        assert dbretry.send(conn, "SELECT %(a)s AS a, 2 AS b", {"a": 1}) == (1, 2)
        assert dbretry.send(conn, "SELECT 1 WHERE false", {}) is None
        with pytest.raises(DataError):
            dbretry.send(conn, "SELECT 1 / %(zero)s", {"zero": 0})
        conn.rollback()
        row = dbretry.send(conn, "SELECT %(a)s AS a", {"a": "again"})
        assert row.a == "again"
        conn.commit()


def test_a_sale_whose_write_finds_its_connection_dropped_fails_and_writes_nothing(pg_app,
                                                                                  monkeypatch):
    """The write is the transaction's second statement: not retried, the connection is
    invalidated, and the next sale runs on a new one."""
    store_id, product_id = make_store().id, make_product(unit="piece").id
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store_id, product_id=product_id, type="stock_in", quantity=5))
    db.session.remove()
    before = dbretry.stats["retried"]
    real_send = dbretry.send

    def drop_before_the_write(conn, statement, parameters):
        if statement.lstrip().startswith("WITH"):
            _kill(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
        return real_send(conn, statement, parameters)

    monkeypatch.setattr(dbretry, "send", drop_before_the_write)
    with pytest.raises(OperationalError) as raised:
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store_id, product_id=product_id, type="sale", quantity=2))
    monkeypatch.undo()
    assert raised.value.connection_invalidated
    assert dbretry.stats["retried"] == before
    result = ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store_id, product_id=product_id, type="sale", quantity=2))
    assert result.data["level"]["quantity"] == "3.000"
    count = db.session.execute(text("SELECT count(*) FROM stock_movements")).scalar()
    assert count == 2


def test_in_autocommit_mode_only_a_select_is_sent_again(pg_app):
    """Each autocommit statement commits on its own: a write that met a dropped line may have
    committed, so only a plain SELECT is retried there."""
    before = dbretry.stats["retried"]
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        _kill(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
        assert conn.exec_driver_sql("SELECT 41 + 1").scalar() == 42
        assert dbretry.stats["retried"] == before + 1
        _kill(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
        with pytest.raises(OperationalError):
            conn.exec_driver_sql("CREATE TEMPORARY TABLE never_made (id int)")
    assert dbretry.stats["retried"] == before + 1


def test_a_core_connection_on_postgresql_joins_no_event_dispatch(pg_app):
    """The retry reads psycopg2's own transaction status, so no connection event listener makes
    every Core connection (one per sale) join the engine's event dispatch."""
    with db.engine.connect() as conn:
        assert not conn._has_events


def _drop_before_the_write(monkeypatch):
    """The connection dies just before the sale's write (the transaction's second statement,
    after the idempotency claim), the first time only."""
    real_send = dbretry.send
    dropped = []

    def send(conn, statement, parameters):
        if statement.lstrip().startswith("WITH") and not dropped:
            dropped.append(True)
            _kill(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar())
        return real_send(conn, statement, parameters)

    monkeypatch.setattr(dbretry, "send", send)
    return dropped


def _stocked():
    store_id, product_id = make_store().id, make_product(unit="piece").id
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store_id, product_id=product_id, type="stock_in", quantity=5))
    db.session.remove()
    return store_id, product_id


def test_an_idempotent_sale_whose_write_finds_its_connection_dropped_is_sent_again_once(
        pg_app, monkeypatch):
    """With a key the whole transaction is sent again on a new connection: written once."""
    store_id, product_id = _stocked()
    before = runner.stats["writes_sent_again"]
    dropped = _drop_before_the_write(monkeypatch)
    result = ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store_id, product_id=product_id, type="sale", quantity=2), "sale-1")
    assert dropped and not result.replayed
    assert result.data["level"]["quantity"] == "3.000"
    assert runner.stats["writes_sent_again"] == before + 1
    count = db.session.execute(text("SELECT count(*) FROM stock_movements")).scalar()
    assert count == 2


def test_an_idempotent_sale_whose_commit_answer_was_lost_is_answered_from_its_key(
        pg_app, monkeypatch):
    """The COMMIT reached the database but its answer never came back (the primary died just
    after, or the line dropped): sent again, the write finds its key claimed and answers the
    stored response; nothing is written twice."""
    from sqlalchemy.engine import Connection

    from webapp.infra import pinned

    store_id, product_id = _stocked()
    before = runner.stats["writes_sent_again"]
    conn = pinned.connection()
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    conn.commit()
    real_commit = Connection.commit
    lost = []

    def commit_and_lose_the_answer(self):
        real_commit(self)
        if not lost:
            lost.append(True)
            _kill(pid)
            raise OperationalError("COMMIT", {}, psycopg2.OperationalError(
                "server closed the connection unexpectedly"), connection_invalidated=True)

    monkeypatch.setattr(Connection, "commit", commit_and_lose_the_answer)
    result = ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store_id, product_id=product_id, type="sale", quantity=2), "sale-2")
    monkeypatch.undo()
    assert lost and result.replayed
    assert result.data["level"]["quantity"] == "3.000"
    assert runner.stats["writes_sent_again"] == before + 1
    count = db.session.execute(text("SELECT count(*) FROM stock_movements")).scalar()
    assert count == 2

