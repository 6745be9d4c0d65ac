"""Read/write split on a real streaming replica: a primary and a hot standby made by the test.

The pair is private to this module (initdb, then pg_basebackup -R on loopback), so the shared
server's configuration is never touched and the copy is small.
"""
import shutil
import time

import psycopg2
import pytest
from flask import Blueprint, jsonify
from flask_migrate import upgrade
from sqlalchemy import text

from tests import services
from tests.api_client import PASSWORD, api_as
from tests.conftest import _config
from tests.factories import make_product, make_store, make_user
from tests.processes import postgres_pair, unique_prefix, wait_until
from webapp import create_app
from webapp.extensions import db
from webapp.infra import redisconn
from webapp.infra.replica import replica_reads
from webapp.services import audit

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
RYW_SECONDS = 2.5


def _sql(url, statement):
    conn = psycopg2.connect(url.replace("+psycopg2", ""))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(statement)
        row = cur.fetchone() if cur.description else None
    conn.close()
    return row


@pytest.fixture(scope="module")
def pair():
    if not services.redis_available():
        services.missing("Redis is not reachable on 127.0.0.1:6379")
    base, primary, replica = postgres_pair()
    _sql(primary.url(), "CREATE DATABASE kiryana")
    wait_until(lambda: _sql(replica.url(), "SELECT count(*) FROM pg_database "
                                           "WHERE datname = 'kiryana'")[0] == 1,
               what="the new database on the replica")
    yield primary, replica
    replica.stop("immediate")
    primary.stop("immediate")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def split_app(pair):
    primary, replica = pair
    app = create_app(_config(
        primary.url("kiryana"), DATABASE_REPLICA_URL=replica.url("kiryana"),
        READ_YOUR_WRITES_SECONDS=RYW_SECONDS, REPLICA_RETRY_SECONDS=1.0,
        REDIS_URL=services.REDIS_URL, REDIS_KEY_PREFIX=unique_prefix(),
        RQ_QUEUE_PREFIX=unique_prefix()))
    probe = Blueprint("probe", __name__)

    @probe.get("/_probe/where")
    @replica_reads
    def where():
        """Which server answered this request's reads."""
        on_replica = db.session.execute(text("SELECT pg_is_in_recovery()")).scalar()
        return jsonify(server="replica" if on_replica else "primary")

    app.register_blueprint(probe)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def split(split_app, pair):
    """The app, with no app context held open: each test request gets its own, as in
    production (a shared one would share `g`, and with it the logged-in user)."""
    primary, replica = pair
    yield split_app
    _sql(replica.url(), "SELECT pg_wal_replay_resume()")


def drain(app):
    with app.app_context():
        audit.drain_all()


def _caught_up(primary, replica):
    lsn = _sql(primary.url(), "SELECT pg_current_wal_lsn()")[0]
    return _sql(replica.url(), f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'")[0]


def _page_user(app, role="manager"):
    with app.app_context():
        username = make_user(role, password=PASSWORD).username
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code in (302, 303)
    return client


def logins(page):
    """Login events on an audit page: each carries its raw event as JSON."""
    return page.data.count(b'"action": "user.login"')


def where(client, **kwargs):
    return client.get("/_probe/where", **kwargs).json["server"]


def test_list_reads_land_on_the_replica_and_a_writer_reads_its_own_writes(split, pair):
    primary, replica = pair
    reader = _page_user(split)
    drain(split)
    time.sleep(RYW_SECONDS)  # logging in was a write: it kept the reader on the primary
    wait_until(lambda: _caught_up(primary, replica), what="the replica to catch up")
    assert where(reader) == "replica"
    assert reader.get("/audit/").status_code == 200

    _sql(replica.url(), "SELECT pg_wal_replay_pause()")  # the replica now lags, for sure
    writer = _page_user(split)  # the login itself is the write
    drain(split)
    login = writer.get("/audit/?action=user.login")
    assert where(writer) == "primary"
    others = reader.get("/audit/?action=user.login")
    assert logins(login) == 2  # both logins, read from the primary
    assert logins(others) == 1  # the replica has not seen the second yet
    time.sleep(RYW_SECONDS + 0.1)
    assert where(writer) == "replica"

    _sql(replica.url(), "SELECT pg_wal_replay_resume()")
    wait_until(lambda: logins(reader.get("/audit/?action=user.login")) == 2,
               what="the replica to show the second login")


def test_api_clients_read_their_own_writes_through_redis(split, pair):
    primary, replica = pair
    with split.app_context():
        manager, other = api_as(split, "manager"), api_as(split, "manager")
    for client in (manager, other):  # a token's first use records it: a write, so wait it out
        assert client.get("/api/v1/suppliers").status_code == 200
    drain(split)
    time.sleep(RYW_SECONDS)
    wait_until(lambda: _caught_up(primary, replica), what="the replica to catch up")
    _sql(replica.url(), "SELECT pg_wal_replay_pause()")
    created = manager.post("/api/v1/suppliers", json={"name": "Karachi Wholesale"})
    assert created.status_code == 201
    drain(split)
    mine = manager.get("/api/v1/audit?action=supplier.create").json
    theirs = other.get("/api/v1/audit?action=supplier.create").json
    assert mine["total"] == 1 and theirs["total"] == 0
    assert manager.get("/api/v1/suppliers").json["total"] == 1  # API lists: the same rule
    assert other.get("/api/v1/suppliers").json["total"] == 0
    time.sleep(RYW_SECONDS + 0.1)
    assert manager.get("/api/v1/audit?action=supplier.create").json["total"] == 0  # replica


def test_a_sale_written_as_one_textual_statement_marks_its_api_client(split, pair):
    """The ledger's one-statement write on PostgreSQL is textual SQL (a CTE), not a Core
    INSERT/UPDATE: it must still keep its writer on the primary."""
    with split.app_context():
        store_id, product_id = make_store().id, make_product().id
        api = api_as(split, "manager")
        key = redisconn.prefixed(f"rw:{api.user.id}")
        client = redisconn.raw_client(split)
    movement = {"store_id": store_id, "product_id": product_id, "quantity": "5"}
    assert api.post("/api/v1/movements", json={**movement, "type": "stock_in"}).status_code == 201
    client.delete(key)
    sold = api.post("/api/v1/movements", json={**movement, "type": "sale", "quantity": "1"})
    assert sold.status_code == 201
    assert client.exists(key)
    client.delete(key)
    assert api.get(f"/api/v1/stores/{store_id}/stock/{product_id}").status_code == 200
    assert not client.exists(key)  # a read marks nothing


def test_the_app_keeps_serving_when_the_replica_is_down(split, pair):
    primary, replica = pair
    reader = _page_user(split)
    time.sleep(RYW_SECONDS)
    assert where(reader) == "replica"
    replica.stop("immediate")
    try:
        started = time.monotonic()
        assert where(reader) == "primary"
        assert reader.get("/audit/").status_code == 200
        with split.app_context():
            admin = api_as(split, "admin")
        assert admin.get("/api/v1/audit").status_code == 200
        assert time.monotonic() - started < 5
    finally:
        replica.start()
    time.sleep(1.1)  # REPLICA_RETRY_SECONDS: then the replica is tried again
    wait_until(lambda: where(reader) == "replica", what="reads to return to the replica")
