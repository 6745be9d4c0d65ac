"""What the per-request savings change (docs/performance.md): Flask-Limiter's middleware pass
is dropped only while it has nothing to check, a request without a session cookie builds no
signer, a request that touched no database opens no session but a write still has its audit
drained, without a replica no write is marked for read-your-writes, and the security headers
are added in one pass without overriding a view's own, and each thread keeps one Redis
connection."""
import os
import threading

import pytest
from flask_migrate import upgrade
from markupsafe import Markup
from sqlalchemy import func, select

from tests.api_client import api_as
from tests.conftest import _config
from tests.factories import login, make_store, make_user
from webapp import create_app
from webapp.extensions import db, limiter
from webapp.infra import redisconn, replica
from webapp.models import AuditLog, AuditOutbox
from webapp.web.security import HEADERS
from webapp.web.sessions import CookieSessions


@pytest.fixture
def fresh(tmp_path):
    """An app of its own on SQLite, migrated, with no app context left open (each request
    makes its own, as under gunicorn); limits put back off afterwards."""
    def build(**settings):
        app = create_app(_config(f"sqlite:///{tmp_path / 'overhead.db'}", **settings))
        with app.app_context():
            upgrade()
            db.session.remove()
        if limiter.enabled:
            limiter.reset()
        return app
    yield build
    limiter.limit_manager.set_default_limits([])  # the limiter is one object for every app
    if limiter.enabled:
        limiter.reset()
    limiter.enabled = False


def _middleware(app):
    return limiter._check_request_limit in app.before_request_funcs.get(None, [])


def test_limiter_middleware_is_dropped_and_decorated_limits_still_refuse(fresh):
    app = fresh(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute")
    assert not _middleware(app)
    client = app.test_client()
    statuses = [login(client, "nobody", "wrong").status_code for _ in range(3)]
    assert statuses == [422, 422, 429]


def test_a_default_limit_keeps_the_middleware_and_is_enforced(fresh):
    app = fresh(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="2 per minute")
    assert _middleware(app)
    client = app.test_client()
    assert [client.get("/login").status_code for _ in range(3)] == [200, 200, 429]


def test_a_request_without_a_session_cookie_builds_no_signer(fresh, monkeypatch):
    app = fresh()
    signers = []
    original = CookieSessions.get_signing_serializer

    def counted(self, app):
        signers.append(1)
        return original(self, app)

    monkeypatch.setattr(CookieSessions, "get_signing_serializer", counted)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert signers == []

    with app.app_context():
        username = make_user("manager").username
    assert login(client, username).status_code in (302, 303)
    assert client.get("/audit/").status_code == 200  # the signed cookie is read
    assert signers
    client.set_cookie("session", "forged")
    assert client.get("/audit/").status_code in (302, 303)  # and a forged one refused


def test_a_request_that_touched_no_database_opens_no_session(fresh, monkeypatch):
    app = fresh()
    made = []
    create = db.session.registry.createfunc
    monkeypatch.setattr(db.session.registry, "createfunc",
                        lambda *a, **k: made.append(1) or create(*a, **k))
    assert app.test_client().get("/healthz").status_code == 200
    assert made == []


def test_a_write_still_has_its_audit_event_drained(fresh):
    app = fresh()  # no Redis: the drain the request asks for runs at once, in process
    with app.app_context():
        api = api_as(app, "manager")
        db.session.remove()
    assert api.post("/api/v1/suppliers", json={"name": "Karachi Wholesale"}).status_code == 201
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditOutbox)) == 0
        assert db.session.scalar(select(func.count()).where(
            AuditLog.action == "supplier.create")) == 1


def test_without_a_replica_no_write_is_marked(fresh):
    app = fresh()
    assert replica._mark_writer not in app.after_request_funcs.get(None, [])
    assert "kiryana_replica_engine" not in app.extensions


def test_security_headers_are_added_once_and_a_views_own_is_kept(fresh):
    app = fresh()

    @app.get("/_own_policy")
    def own_policy():
        return "", 200, {"content-security-policy": "default-src 'none'"}

    client = app.test_client()
    plain = client.get("/healthz").headers
    own = client.get("/_own_policy").headers
    for name, value in HEADERS.items():
        assert plain.getlist(name) == [value]
    assert own.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert own.getlist("X-Frame-Options") == ["DENY"]


@pytest.mark.parametrize("check", [True, False])
def test_responses_are_checked_against_their_model_only_where_asked(fresh, monkeypatch, check):
    from webapp.services import stock_cache

    app = fresh(API_CHECK_RESPONSES=check)
    with app.app_context():
        api = api_as(app, "admin")
        store = make_store().id
        db.session.remove()
    # No other field (the view asks for the level as the JSON text the cache keeps).
    monkeypatch.setattr(stock_cache, "get_level",
                        lambda *_, as_json=False: '{"quantity":"1"}' if as_json
                        else {"quantity": "1"})
    response = api.get(f"/api/v1/stores/{store}/stock/1")
    assert response.status_code == (500 if check else 200)
    if not check:
        assert response.get_json() == {"quantity": "1"}


def test_a_gunicorn_worker_freezes_what_it_loaded_out_of_the_collectors_way():
    import gc
    import runpy
    from pathlib import Path

    hooks = runpy.run_path(str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"))
    threshold = gc.get_threshold()
    try:
        hooks["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000  # the test session's modules, at the least
        assert gc.get_threshold() == (hooks["Config"].GC_YOUNG, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_ensure_sync_is_remembered_within_a_bound(fresh):
    app = fresh()
    view = app.view_functions["ops.healthz"] if "ops.healthz" in app.view_functions else print
    assert app.ensure_sync(view) is view and app.ensure_sync(view) is view
    for _ in range(1000):  # per-request callables pass through without piling up
        closure = lambda: None  # noqa: E731
        assert app.ensure_sync(closure) is closure
    assert app._ensure_sync.cache_info().currsize <= 256


def test_api_requests_skip_the_browser_only_hooks_and_pages_keep_them(fresh):
    app = fresh(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="2 per minute")
    hooks = app.before_request_funcs[None] + app.after_request_funcs[None]
    skipped = {getattr(h.__wrapped__, "__qualname__", None) or h.__wrapped__.func.__name__
               for h in hooks if hasattr(h, "__wrapped__")}
    assert skipped == {"LoginManager._update_remember_cookie",
                       "CSRFProtect.init_app.<locals>.csrf_protect",
                       "__inject_headers", "Compress.after_request"}
    with app.app_context():
        api = api_as(app, "manager")
        username = make_user("manager").username
    browser = app.test_client()
    assert login(browser, username).status_code == 303
    assert "Cookie" in browser.get("/stores/").headers.get("Vary", "")  # pages read the session
    gzipped = browser.get("/stores/", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip"  # pages are still compressed
    listed = api.get("/api/v1/stores", headers={"Accept-Encoding": "gzip"})
    assert listed.status_code == 200
    assert "Cookie" not in listed.headers.get("Vary", "")  # the session was never read
    # JSON is never compressed here (nginx's), so it says nothing about Accept-Encoding
    assert "Content-Encoding" not in listed.headers
    assert "Accept-Encoding" not in listed.headers.get("Vary", "")
    refused = [login(app.test_client(), "nobody", "wrong") for _ in range(3)][-1]
    assert refused.status_code == 429 and refused.headers["X-RateLimit-Limit"] == "2"


def test_healthz_skips_the_browser_only_hooks_like_the_api(fresh):
    """make bench's ceiling (/healthz) does the same work outside its view as the API requests
    it is set beside: Flask-Login's remember-cookie hook (which reads the session) is skipped."""
    app = fresh(RATELIMIT_ENABLED=True)
    with app.app_context():
        api = api_as(app, "manager")
    assert "Cookie" not in api.get("/api/v1/stores").headers.get("Vary", "")
    health = app.test_client().get("/healthz")
    assert health.status_code == 200
    assert "Cookie" not in health.headers.get("Vary", "")
    page = app.test_client().get("/login")  # a page still runs them
    assert "Cookie" in page.headers.get("Vary", "")


def test_only_sqlite_engines_take_the_write_lock_at_begin(fresh):
    """SQLite serialises writers with BEGIN IMMEDIATE, from a listener on its own engines."""
    from sqlalchemy import event

    from webapp import _sqlite_begin_immediate

    app = fresh()
    with app.app_context():
        assert event.contains(db.engine, "begin", _sqlite_begin_immediate)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            assert conn.connection.dbapi_connection.in_transaction
            conn.rollback()


@pytest.mark.postgres
@pytest.mark.redis
def test_each_thread_keeps_one_redis_connection_and_a_forked_child_opens_its_own(redis_pg_app):
    """redisconn.client(): a thread's commands go over one connection of its own, with no pool
    checkout per command; another thread has another; a forked child never writes on its
    parent's socket."""
    pool = redisconn.raw_client(redis_pg_app).connection_pool
    mine = redisconn.client()
    assert redisconn.client() is mine
    checkouts = []
    real = pool.get_connection
    pool.get_connection = lambda *a, **k: checkouts.append(1) or real(*a, **k)
    try:
        for _ in range(3):
            mine.incr(redisconn.prefixed("overhead-test"))
    finally:
        del pool.get_connection
    assert checkouts == []

    def other_thread():
        with redis_pg_app.app_context():
            got.append(redisconn.client())
            got[0].ping()

    got = []
    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    assert got[0] is not mine and got[0].connection is not mine.connection

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got its own connection, and that it works
        child = redisconn.client()
        ok = child is not mine and child.incr(redisconn.prefixed("overhead-test")) == 4
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert mine.incr(redisconn.prefixed("overhead-test")) == 5  # the parent's socket is intact


@pytest.mark.parametrize("attributes", [
    {"name": "quantity", "id": "sale-quantity", "class_": "qty-input", "autofocus": True,
     "readonly": False, "data_quantity_for": 'a"b<c>&\'d', "aria_describedby": "x-error"},
    {"value": Markup('<b>"kept"</b>'), "placeholder": "کتنے kg؟", "for_": "id", "x": 5,
     "y": None, "z": 0.5},
    {"weird<key": "v", "data_a_b_": "1"},
    {},
])
def test_form_attributes_are_written_exactly_as_wtforms_writes_them(attributes):
    from wtforms.widgets import core

    from webapp.web import forms

    assert core.html_params is not forms.WTFORMS_HTML_PARAMS  # ours is in place
    ours, theirs = core.html_params(**attributes), forms.WTFORMS_HTML_PARAMS(**attributes)
    assert ours == theirs and isinstance(ours, Markup)
