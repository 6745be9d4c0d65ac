"""Operator surface and the stock cache: /metrics, request ids, /readyz, the jobs page, and
cache correctness against the real Redis (under a key prefix of its own)."""
import pytest
from rq import SimpleWorker

from tests.api_client import PASSWORD, api_as
from tests.factories import ADMIN, make_product, make_store, make_user
from webapp.extensions import db
from webapp.infra import metrics
from webapp.infra.queue import get_queue
from webapp.services import catalog, commands, inventory, ledger, stock_cache


def test_metrics_expose_requests_movements_queues_cache_and_outbox(app, client):
    store, product = make_store(), make_product(unit="piece")
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="stock_in", quantity=3))
    client.get("/healthz")
    body = client.get("/metrics").data.decode()
    for name in ('kiryana_http_request_duration_seconds_bucket{endpoint="ops.healthz"',
                 'kiryana_stock_movements_total{source="web",type="stock_in"}',
                 'kiryana_queue_depth{queue="sync"}', "kiryana_queue_failed_jobs",
                 "kiryana_audit_outbox_pending ", "kiryana_audit_outbox_lag_seconds"):
        assert name in body


def test_each_response_carries_a_request_id(client, caplog):
    given = client.get("/healthz", headers={"X-Request-ID": "pos-42.abc"})
    assert given.headers["X-Request-ID"] == "pos-42.abc"
    with caplog.at_level("INFO", logger="kiryana.request"):
        made = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"})
    rid = made.headers["X-Request-ID"]
    assert len(rid) == 32 and rid.isalnum()
    assert any("GET /healthz 200" in r.getMessage() and f"rid={rid}" in r.getMessage()
               for r in caplog.records)


def test_readyz_reports_the_database_and_redis(client):
    assert client.get("/readyz").json == {"status": "ok", "database": "ok",
                                          "redis": "not configured"}


def test_the_jobs_page_is_for_admins_and_works_without_redis(app, client):
    admin = make_user("admin", password=PASSWORD)
    client.post("/login", data={"username": admin.username, "password": PASSWORD})
    page = client.get("/admin/jobs/")
    assert page.status_code == 200 and b"jobs run inside the web process" in page.data


def test_managers_cannot_open_the_jobs_page(app, client):
    manager = make_user("manager", password=PASSWORD)
    client.post("/login", data={"username": manager.username, "password": PASSWORD})
    assert client.get("/admin/jobs/").status_code == 403


def cache_count(kind, result):
    return metrics.CACHE.labels(kind, result)._value.get()


@pytest.mark.redis
@pytest.mark.postgres
def test_a_level_is_cached_and_a_write_moves_it_on(redis_pg_app):
    store, product = make_store(), make_product(unit="piece")
    receive = dict(store_id=store.id, product_id=product.id, type="stock_in")
    ledger.record_movement(ADMIN, commands.Movement.parse(quantity=5, **receive))
    hits = cache_count("lvl", "hit")
    assert stock_cache.get_level(store.id, product.id)["quantity"] == "5.000"
    assert stock_cache.get_level(store.id, product.id)["quantity"] == "5.000"
    assert cache_count("lvl", "hit") == hits + 1
    ledger.record_movement(ADMIN, commands.Movement.parse(quantity=2, **receive))
    assert stock_cache.get_level(store.id, product.id)["quantity"] == "7.000"


@pytest.mark.redis
@pytest.mark.postgres
def test_a_reader_that_loses_the_race_with_a_writer_never_caches_the_old_value(redis_pg_app):
    """The reader fetched the generation, then read the level; a write committed (and moved
    the generation on) before the reader stored what it read. Its old value must not win."""
    store, product = make_store(), make_product(unit="piece")
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="stock_in", quantity=10))

    def slow_reader():
        before = inventory.get_level(store.id, product.id)
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                              product_id=product.id, type="sale",
                                                              quantity=4))
        return before

    stale = stock_cache._cached("lvl", stock_cache._key(f"gen:{store.id}:{product.id}"),
                                f"{store.id}:{product.id}", "", slow_reader)
    assert stale["quantity"] == "10.000"  # what that reader saw, before the write
    assert stock_cache.get_level(store.id, product.id)["quantity"] == "6.000"


@pytest.mark.redis
@pytest.mark.postgres
def test_store_pages_and_the_store_version_follow_stock_and_catalog_changes(redis_pg_app):
    store, other = make_store(), make_store()
    rice, sugar = make_product(unit="piece", name="Rice"), make_product(unit="kg", name="Sugar")
    for product in (rice, sugar):
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                              product_id=product.id,
                                                              type="stock_in", quantity=4))
    version = stock_cache.store_version(store.id)
    page = stock_cache.store_levels(store.id)
    assert page.total == 2 and stock_cache.store_levels(store.id) == page
    assert stock_cache.store_version(store.id) == version
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=other.id, product_id=rice.id,
                                                          type="stock_in", quantity=1))
    assert stock_cache.store_version(store.id) == version  # another store's change
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=sugar.id,
                                                          type="sale", quantity=1))
    assert stock_cache.store_version(store.id) != version
    assert [i["quantity"] for i in stock_cache.store_levels(store.id).items] == ["4.000", "3.000"]
    catalog.update_product(ADMIN, rice.id, {"name": "Basmati"})
    assert stock_cache.store_levels(store.id).items[0]["name"] == "Basmati"


@pytest.mark.redis
@pytest.mark.postgres
def test_failed_jobs_are_listed_for_admins_with_their_error_and_can_be_retried(redis_pg_app):
    queue = get_queue("default")
    job = queue.enqueue("json.loads", "not json")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    username = make_user("admin", password=PASSWORD).username
    client = redis_pg_app.test_client()
    db.session.remove()  # the page starts from a fresh session, as a real request would
    client.post("/login", data={"username": username, "password": PASSWORD})
    page = client.get("/admin/jobs/")
    assert page.status_code == 200
    assert b"JSONDecodeError" in page.data and job.id.encode() in page.data
    retried = client.post(f"/admin/jobs/default/{job.id}/retry")
    assert retried.status_code in (302, 303)
    assert queue.failed_job_registry.count == 0 and job.id in queue.job_ids
    assert client.post("/admin/jobs/default/nope/retry").status_code == 404
    job.delete()  # job hashes are not under the test's prefix


def test_api_single_level_reads_come_from_the_cache_layer(app):
    store, product = make_store(), make_product(unit="piece")
    bypass = cache_count("lvl", "bypass")
    assert api_as(app, "admin").get(
        f"/api/v1/stores/{store.id}/stock/{product.id}").json["quantity"] == "0.000"
    assert cache_count("lvl", "bypass") == bypass + 1  # no Redis here: straight to the database
