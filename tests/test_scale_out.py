"""The app as a multi-process system on real services: RQ workers, Redis, gunicorn, PostgreSQL.

Faults are injected for real: a worker SIGKILLed mid-batch, a private Redis stopped, and cut
off by a TCP proxy during requests, the app's database connections terminated, two gunicorn servers side by side.
"""
import re
import signal
import time

import pytest
import redis
import requests
from sqlalchemy import func, select

from tests import services
from tests.api_client import PASSWORD, api_as
from tests.conftest import _config
from tests.factories import ADMIN, login, make_product, make_store, make_user
from tests.processes import (
    TcpProxy,
    app_env,
    free_port,
    start_gunicorn,
    start_redis,
    start_worker,
    unique_prefix,
    wait_until,
)
from webapp import create_app
from webapp.extensions import db
from webapp.models import AuditLog, AuditOutbox, StockMovement, SyncJob
from webapp.services import commands, ledger

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def redis_url():
    if not services.redis_available():
        services.missing("Redis is not reachable on 127.0.0.1:6379")
    return services.REDIS_URL


def _ops_app(pg_url, redis_url, prefix, **overrides):
    return create_app(_config(pg_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=prefix,
                              RQ_QUEUE_PREFIX=prefix, **overrides))


@pytest.fixture
def ops(pg_app, pg_url, redis_url):
    """The app on this run's PostgreSQL database and the shared Redis, under a fresh prefix."""
    prefix = unique_prefix()
    app = _ops_app(pg_url, redis_url, prefix)
    app.prefix = prefix
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    services.forget_keys(prefix, redis_url)


def count(model, *where):
    value = db.session.scalar(select(func.count()).select_from(model).where(*where))
    db.session.commit()
    return value


def sync_batch(store, product, ids, quantity=1):
    return {"movements": [{"id": i, "store_id": store.id, "product_id": product.id,
                           "type": "stock_in", "quantity": quantity} for i in ids]}


def job_status(api, job_id):
    response = api.get(f"/api/v1/sync/{job_id}")
    assert response.status_code == 200, response.json
    return response.json


def test_a_real_worker_applies_sync_batches_once_and_drains_the_audit_outbox(ops, pg_url,
                                                                            redis_url):
    store, product = make_store(), make_product(unit="piece")
    api = api_as(ops, "admin")
    first = api.post("/api/v1/sync", json=sync_batch(store, product, [f"a{i}" for i in range(20)]))
    assert first.status_code == 202
    assert count(AuditOutbox) > 0
    worker = start_worker(app_env(pg_url, redis_url, ops.prefix))
    try:
        wait_until(lambda: job_status(api, first.json["job_id"])["status"] == "done",
                   what="the worker to apply the batch")
        # The same ids again, plus one new: only the new one moves stock.
        again = api.post("/api/v1/sync",
                         json=sync_batch(store, product, [f"a{i}" for i in range(21)]))
        result = wait_until(lambda: (s := job_status(api, again.json["job_id"]))["status"]
                            == "done" and s, what="the resubmitted batch")
        wait_until(lambda: count(AuditOutbox) == 0, what="the outbox to drain")
    finally:
        worker.stop()
    assert [i["replayed"] for i in result["items"]] == [True] * 20 + [False]
    assert result["applied"] == 21 and result["failed"] == 0
    assert count(StockMovement) == 21
    level = api.get(f"/api/v1/stores/{store.id}/stock/{product.id}").json
    assert level["quantity"] == "21.000"
    assert count(AuditLog, AuditLog.action == "movement.create") == 21
    assert count(AuditLog, AuditLog.action == "sync.submit") == 2
    assert count(AuditLog, AuditLog.action == "token.create") == 1


def test_a_worker_killed_mid_batch_and_restarted_applies_every_item_exactly_once(
        ops, pg_url, redis_url):
    store, product = make_store(), make_product(unit="piece")
    api = api_as(ops, "admin")
    ids = [f"k{i}" for i in range(500)]
    job_id = api.post("/api/v1/sync", json=sync_batch(store, product, ids)).json["job_id"]
    env = app_env(pg_url, redis_url, ops.prefix)
    worker = start_worker(env)
    try:
        wait_until(lambda: count(StockMovement) >= 60, timeout=30, interval=0.01,
                   what="the worker to be part-way through")
        worker.kill(signal.SIGKILL)
    finally:
        worker.stop()
    applied_before = count(StockMovement)
    assert applied_before < 500, "the batch finished before the kill; make it bigger"
    assert db.session.get(SyncJob, job_id).status == "running"
    db.session.rollback()

    restarted = start_worker(env)
    try:
        result = wait_until(lambda: (s := job_status(api, job_id))["status"] == "done" and s,
                            timeout=60, what="the restarted worker to finish the batch")
    finally:
        restarted.stop()
    assert result["applied"] == 500 and result["failed"] == 0
    keys = db.session.execute(select(StockMovement.idempotency_key)).scalars().all()
    assert sorted(keys) == sorted(f"sync:{i}" for i in ids)  # each item once, none twice
    assert api.get(f"/api/v1/stores/{store.id}/stock/{product.id}").json["quantity"] == "500.000"
    print(f"killed after {applied_before} of 500 items; restarted worker finished the rest")


def _login(client, username):
    response = login(client, username)
    assert response.status_code in (302, 303), response.data[:300]


def test_redis_stopped_during_requests_the_app_keeps_working_and_loses_no_audit_event(
        pg_app, pg_url):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    server = start_redis(port)
    prefix = unique_prefix()
    app = _ops_app(pg_url, url, prefix, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=url,
                   API_RATE_LIMIT="20 per minute", REDIS_RETRY_SECONDS=0.5)
    worker = None
    try:
        with app.app_context():
            store, product = make_store(), make_product(unit="piece")
            manager = make_user("manager", password=PASSWORD)
            api = api_as(app, "admin")
            level_url = f"/api/v1/stores/{store.id}/stock/{product.id}"

            def move(kind, quantity):
                started = time.monotonic()
                response = api.post("/api/v1/movements", json={
                    "store_id": store.id, "product_id": product.id, "type": kind,
                    "quantity": quantity})
                assert response.status_code == 201, response.json
                return time.monotonic() - started

            move("stock_in", 10)
            assert api.get(level_url).json["quantity"] == "10.000"
            assert api.get(level_url).json["quantity"] == "10.000"  # now from the cache
            assert redis.Redis.from_url(url).keys(f"{prefix}stock:lvl:*")
            worker = start_worker(app_env(pg_url, url, prefix))

            server.stop()  # --- Redis is gone
            slowest = max(move("sale", 3), move("sale", 1))
            assert api.get(level_url).json["quantity"] == "6.000"
            burst = api_as(app, "admin")  # limits still hold, counted in memory meanwhile
            statuses = [burst.get("/api/v1/stores").status_code for _ in range(21)]
            assert statuses == [200] * 20 + [429]
            assert api.get(f"/api/v1/stores/{store.id}/stock").status_code == 200
            queued = api.post("/api/v1/sync", json=sync_batch(store, product, ["r1", "r2"]))
            assert queued.status_code == 202
            page = app.test_client()
            _login(page, manager.username)
            assert page.get(f"/stores/{store.id}/stock").status_code == 200
            assert page.get("/audit/").status_code == 200
            assert page.get("/readyz").json["redis"] == "unavailable"
            assert slowest < 1.5, f"a write took {slowest:.2f}s with Redis down"
            # The worker cannot reach its queues, but its sweep drains the outbox regardless.
            wait_until(lambda: count(AuditOutbox) == 0, what="the sweep to drain without Redis")

            server = start_redis(port)  # --- Redis is back, empty
            time.sleep(0.6)
            assert api.get(level_url).json["quantity"] == "6.000"
            move("sale", 1)
            assert api.get(level_url).json["quantity"] == "5.000"
            # The batch was never queued (Redis was down): the sweep finds it and queues it.
            wait_until(lambda: db.session.get(SyncJob, queued.json["job_id"]).status == "done"
                       and db.session.rollback() is None, timeout=30, what="the queued sync job")
            wait_until(lambda: count(AuditOutbox) == 0, what="the outbox to drain")
            assert api.get(level_url).json["quantity"] == "7.000"
            movement_ids = {str(i) for i in db.session.scalars(select(StockMovement.id))}
            logged = set(db.session.scalars(select(AuditLog.entity_id).where(
                AuditLog.action == "movement.create")))
            assert logged == movement_ids and len(movement_ids) == 6
            assert count(AuditLog, AuditLog.action == "user.login") == 1
            assert count(AuditLog, AuditLog.action == "sync.submit") == 1
    finally:
        if worker:
            worker.stop()
        server.stop()
        with app.app_context():
            db.engine.dispose()


def test_a_write_during_a_redis_partition_never_lets_an_old_cached_level_out(pg_app, pg_url):
    """The line to Redis is cut while a write commits, so its invalidation is lost, but Redis
    keeps the value cached before: it is never served again (a new cache epoch starts)."""
    server = start_redis(free_port())
    line = TcpProxy(server.port)
    app = _ops_app(pg_url, f"redis://127.0.0.1:{line.port}/0", unique_prefix(),
                   REDIS_RETRY_SECONDS=0.2)
    try:
        with app.app_context():
            store, product = make_store(), make_product(unit="piece")
            api = api_as(app, "admin")
            level_url = f"/api/v1/stores/{store.id}/stock/{product.id}"
            ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                  product_id=product.id,
                                                                  type="stock_in", quantity=10))
            assert api.get(level_url).json["quantity"] == "10.000"
            assert api.get(level_url).json["quantity"] == "10.000"  # served by the cache
            line.cut()
            response = api.post("/api/v1/movements", json={
                "store_id": store.id, "product_id": product.id, "type": "sale", "quantity": 4})
            assert response.status_code == 201
            assert api.get(level_url).json["quantity"] == "6.000"  # from the database
            line.restore()
            time.sleep(0.3)
            assert api.get(level_url).json["quantity"] == "6.000"
            assert api.get(level_url).json["quantity"] == "6.000"
    finally:
        line.close()
        server.stop()
        with app.app_context():
            db.engine.dispose()


def test_terminated_database_connections_do_not_fail_the_next_request(pg_app, pg_url,
                                                                     redis_url):
    import psycopg2

    name = unique_prefix().rstrip(":")
    app = _ops_app(pg_url, redis_url, name, SQLALCHEMY_ENGINE_OPTIONS={
        "pool_pre_ping": True, "connect_args": {"application_name": name}})
    try:
        with app.app_context():
            store_id, product_id = make_store().id, make_product(unit="piece").id
            api = api_as(app, "admin")
            assert api.get("/api/v1/stores").status_code == 200
            # Requests here share the test's app context; end it as a real request's teardown
            # would, so the connection goes back to the pool where the kill finds it.
            db.session.remove()
            admin = psycopg2.connect(services.PG_ADMIN_URL)
            admin.autocommit = True
            with admin.cursor() as cur:
                cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = %s", (name,))
                killed = cur.fetchone()[0]
            admin.close()
            assert killed >= 1
            assert api.get("/api/v1/stores").status_code == 200
            response = api.post("/api/v1/movements", json={
                "store_id": store_id, "product_id": product_id, "type": "stock_in",
                "quantity": 2})
            assert response.status_code == 201
            assert app.test_client().get("/readyz").status_code == 200
    finally:
        with app.app_context():
            db.engine.dispose()
        services.forget_keys(name, redis_url)


def _web_login(base, username):
    session = requests.Session()
    form = session.get(f"{base}/login", timeout=10).text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    response = session.post(f"{base}/login", timeout=10, allow_redirects=False, data={
        "username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code in (302, 303), response.text[:500]
    return session


def test_a_change_through_one_gunicorn_shows_on_a_page_served_by_another_within_2s(
        ops, pg_url, redis_url, tmp_path):
    store, product = make_store(), make_product(unit="piece", name="Basmati rice 1kg")
    manager = make_user("manager", password=PASSWORD)
    api = api_as(ops, "admin")
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="stock_in", quantity=50))
    env = app_env(pg_url, redis_url, ops.prefix, PROMETHEUS_MULTIPROC_DIR=tmp_path)
    port_a, port_b = free_port(), free_port()
    server_a = start_gunicorn(env, port_a)
    server_b = start_gunicorn(env, port_b, workers=2)
    try:
        a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        page = _web_login(b, manager.username)
        stock_url = f"{b}/stores/{store.id}/stock"
        first = page.get(stock_url, timeout=10)
        assert first.status_code == 200 and "Basmati rice 1kg" in first.text
        etag = first.headers["ETag"]
        assert page.get(stock_url, headers={"If-None-Match": etag}, timeout=10).status_code == 304
        bearer = {"Authorization": f"Bearer {api.token}"}
        level_b = f"{b}/api/v1/stores/{store.id}/stock/{product.id}"
        assert requests.get(level_b, headers=bearer, timeout=10).json()["quantity"] == "50.000"

        sold = requests.post(f"{a}/api/v1/movements", headers=bearer, timeout=10, json={
            "store_id": store.id, "product_id": product.id, "type": "sale", "quantity": 7})
        assert sold.status_code == 201
        changed_at = time.monotonic()
        # The cached single level is already right on the other server, at once.
        assert requests.get(level_b, headers=bearer, timeout=10).json()["quantity"] == "43.000"

        def poll():  # what the page's 1.5 s poll does, only faster
            response = page.get(stock_url, headers={"If-None-Match": etag}, timeout=10)
            return response if response.status_code == 200 else None

        fresh = wait_until(poll, timeout=2, interval=0.1, what="the page on B to change")
        elapsed = time.monotonic() - changed_at
        assert re.search(r"\b43\b", fresh.text), fresh.text[:2000]
        assert elapsed < 2.0
        print(f"change via A visible on B after {elapsed * 1000:.0f} ms")

        assert "X-Request-ID" in fresh.headers
        metrics = requests.get(f"{b}/metrics", timeout=10).text
        assert 'kiryana_http_request_duration_seconds_count{endpoint="stock.stock_list"' in metrics
        assert "kiryana_audit_outbox_lag_seconds" in metrics
        assert requests.get(f"{a}/readyz", timeout=10).json() == {
            "status": "ok", "database": "ok", "redis": "ok"}
    finally:
        server_a.stop()
        server_b.stop()
