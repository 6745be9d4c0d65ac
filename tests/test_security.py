"""Issue 13: one test per numbered finding of the security review, each reproducing it.

Every test here failed on the code before the fix (the finding's number is in its name).
The hostile-input sweep over every route is tests/test_hostile_sweep.py.
"""
import json
import logging
import time
from datetime import datetime, timedelta, timezone

import pytest
from flask import g
from flask_migrate import upgrade
from sqlalchemy import func, select

import config
from tests.api_client import PASSWORD, api_as
from tests.conftest import _config
from tests.factories import ADMIN, make_product, make_store, make_user
from webapp import create_app
from webapp.extensions import db, limiter
from webapp.models import ApiToken, AuditLog, AuditOutbox, Product, StockMovement, Store, User
from webapp.services import accounts, commands, ledger
from webapp.services.errors import DomainError


def login(client, username, password=PASSWORD, remember=False, **extra):
    data = {"username": username, "password": password, **extra}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def cookie(client, name):
    found = client.get_cookie(name)
    return found.value if found else None


def replay(app, **cookies):
    """A fresh client (another browser) holding only copies of these cookies."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value)
    return other


def logged_in(client):
    g.pop("_login_user", None)  # the test's app context (and so g) outlives each request
    return client.get("/stores/").status_code == 200


def audit_actions():
    rows = db.session.execute(select(AuditOutbox.action, AuditOutbox.ip, AuditOutbox.after)).all()
    rows += db.session.execute(select(AuditLog.action, AuditLog.ip, AuditLog.after)).all()
    return rows


@pytest.fixture
def limited(tmp_path):
    """An app with rate limits on, behind one trusted proxy (nginx); limits switched off after."""
    def build(**overrides):
        settings = {"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "2 per minute",
                    "TRUSTED_PROXY_HOPS": 1, **overrides}
        app = create_app(_config(f"sqlite:///{tmp_path / 'limited.db'}", **settings))
        app.app_context().push()
        upgrade()
        limiter.reset()
        return app
    yield build
    limiter.reset()
    limiter.enabled = False
    db.session.remove()


# --- 1. sessions end on the server ---------------------------------------------------------

def test_1_an_old_session_cookie_dies_at_logout(app):
    user = make_user("manager", password=PASSWORD)
    client = app.test_client()
    assert login(client, user.username).status_code == 303
    stolen = cookie(client, "session")
    assert logged_in(replay(app, session=stolen))
    client.post("/logout")
    assert not logged_in(replay(app, session=stolen))


@pytest.mark.parametrize("change", ["password", "deactivate_reactivate", "role",
                                    "everywhere"])
def test_1_old_session_and_remember_cookies_die_when_the_account_changes(app, change):
    user = make_user("manager", password=PASSWORD)
    client = app.test_client()
    assert login(client, user.username, remember=True).status_code == 303
    session, remember = cookie(client, "session"), cookie(client, "remember_token")
    assert remember and logged_in(replay(app, remember_token=remember))
    if change == "password":
        accounts.update_user(ADMIN, user.id, password="another-pass-42")
    elif change == "deactivate_reactivate":
        accounts.update_user(ADMIN, user.id, active=False)
        accounts.update_user(ADMIN, user.id, active=True)
    elif change == "role":
        accounts.update_user(ADMIN, user.id, role="shopkeeper")
    else:
        assert client.post("/account/logout-everywhere").status_code == 303
    assert not logged_in(replay(app, session=session))
    assert not logged_in(replay(app, remember_token=remember))


def test_1_remember_cookies_expire_on_the_server(app, monkeypatch):
    user = make_user("manager", password=PASSWORD)
    client = app.test_client()
    login(client, user.username, remember=True)
    remember = cookie(client, "remember_token")
    assert logged_in(replay(app, remember_token=remember))
    later = time.time() + app.config["REMEMBER_COOKIE_DURATION"].total_seconds() + 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert not logged_in(replay(app, remember_token=remember))


def test_1_a_remember_cookie_alone_cannot_mint_an_api_token(app):
    user = make_user("manager", password=PASSWORD)
    client = app.test_client()
    login(client, user.username, remember=True)
    thief = replay(app, remember_token=cookie(client, "remember_token"))
    assert logged_in(thief)
    refused = thief.post("/tokens/", data={"name": "loot", "ttl_days": "3650"})
    assert refused.status_code == 422 and "password again" in refused.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0
    wrong = thief.post("/tokens/", data={"name": "loot", "ttl_days": "30", "password": "guess-guess"})
    assert wrong.status_code == 422
    ok = thief.post("/tokens/", data={"name": "mine", "ttl_days": "30", "password": PASSWORD})
    assert ok.status_code == 201
    # Every time, even right after logging in (issue 23: a copied cookie of a fresh login).
    fresh = client.post("/tokens/", data={"name": "pos", "ttl_days": "30"})
    assert fresh.status_code == 422 and "password again" in fresh.get_data(as_text=True)


def test_1_users_change_their_own_password_with_the_current_one(app):
    user = make_user("shopkeeper", [make_store()], password=PASSWORD)
    phone, tablet = app.test_client(), app.test_client()
    login(phone, user.username)
    login(tablet, user.username)
    assert phone.get("/account/password").status_code == 200
    wrong = phone.post("/account/password", data={"current_password": "not-my-password",
                                                  "new_password": "chai-paratha-77",
                                                  "confirm": "chai-paratha-77"})
    assert wrong.status_code == 422 and "current password" in wrong.get_data(as_text=True)
    ok = phone.post("/account/password", data={"current_password": PASSWORD,
                                               "new_password": "chai-paratha-77",
                                               "confirm": "chai-paratha-77"})
    assert ok.status_code == 303
    assert logged_in(phone) and not logged_in(tablet)
    assert accounts.authenticate(user.username, "chai-paratha-77") is not None
    assert "user.password_change" in {row.action for row in audit_actions()}


# --- 2. the client's real address behind the proxy ----------------------------------------

def test_2_behind_nginx_each_client_has_its_own_login_bucket_and_address(limited):
    app = limited()
    make_user("manager", username="victim", password=PASSWORD)
    attacker = app.test_client()
    for _ in range(2):
        attacker.post("/login", data={"username": "nobody", "password": "x" * 10},
                      headers={"X-Forwarded-For": "203.0.113.9"})
    assert attacker.post("/login", data={"username": "nobody2", "password": "x" * 10},
                         headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    shop = app.test_client()
    response = shop.post("/login", data={"username": "victim", "password": PASSWORD},
                         headers={"X-Forwarded-For": "198.51.100.7"})
    assert response.status_code == 303
    logins = [row for row in audit_actions() if row.action == "user.login"]
    assert [row.ip for row in logins] == ["198.51.100.7"]


def test_2_without_trusted_proxies_forwarded_headers_are_ignored(limited):
    app = limited(TRUSTED_PROXY_HOPS=0)
    client = app.test_client()
    statuses = [client.post("/login", data={"username": f"u{i}", "password": "x" * 10},
                            headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                for i in range(3)]
    assert statuses == [422, 422, 429]  # a client cannot pick a fresh address per try


# --- 3. per-username limits on both doors, form or JSON -----------------------------------

def test_3_token_endpoint_is_limited_per_username_across_addresses(limited):
    app = limited()
    user = make_user("manager", password=PASSWORD)
    client = app.test_client()
    statuses = [client.post("/api/v1/auth/token",
                            json={"username": user.username.upper(), "password": "wrong-guess"},
                            headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
                for i in range(3)]
    assert statuses == [401, 401, 429]
    right = client.post("/api/v1/auth/token", json={"username": user.username,
                                                    "password": PASSWORD},
                        headers={"X-Forwarded-For": "203.0.113.50"})
    assert right.status_code == 429  # the username's bucket is spent, whatever the address
    other = make_user("manager", password=PASSWORD)
    assert client.post("/api/v1/auth/token", json={"username": other.username,
                                                   "password": PASSWORD},
                       headers={"X-Forwarded-For": "203.0.113.51"}).status_code == 201


def test_3_json_logins_are_limited_per_username_not_in_one_bucket(limited):
    app = limited(LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()

    def attempt(username, ip):
        return client.post("/login", json={"username": username, "password": "x" * 10},
                           headers={"X-Forwarded-For": ip}).status_code

    assert [attempt("ayesha", f"203.0.113.{i}") for i in range(4)] == [422, 422, 422, 429]
    # Another username from another address is not caught in Ayesha's bucket.
    assert attempt("bilal", "203.0.113.99") == 422
    # Both doors share one bucket per username.
    assert client.post("/api/v1/auth/token", json={"username": "AYESHA", "password": "x" * 10},
                       headers={"X-Forwarded-For": "203.0.113.77"}).status_code == 429


# --- 4. no 500 on hostile input (the whole sweep is in test_hostile_sweep.py) -------------

def test_4_deeply_nested_json_is_refused_before_parsing(app):
    client = app.test_client()
    for body in ("[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000):
        response = client.post("/api/v1/auth/token", data=body,
                               headers={"Content-Type": "application/json"})
        assert response.status_code in (400, 413, 422), response.status_code
        assert response.json["error"]["code"] in ("invalid", "bad_request")


def test_4_nul_bytes_and_huge_pages_are_clear_errors(app):
    manager = make_user("manager", password=PASSWORD)
    client = app.test_client()
    login(client, manager.username)
    for url in ("/audit/?page=10000000000000000000", "/products/?q=a%00b",
                "/audit/?actor=%00", "/history?q=%00", "/stores/?q=%00"):
        response = client.get(url)
        assert response.status_code in (400, 404, 422), url
    api = api_as(app, "admin")
    for url in ("/api/v1/products?q=a%00b", "/api/v1/audit?actor=%00",
                "/api/v1/stores?page=10000000000000000000"):
        response = api.get(url)
        assert response.status_code in (400, 404, 422), url
        assert response.json["error"]["code"]
    body = api.post("/api/v1/auth/token", json={"username": "a\x00b", "password": "x"})
    assert body.status_code == 422 and body.json["error"]["fields"] == {
        "username": "username contains a control character."}


# --- 5. API limits count per user, and tokens are capped ------------------------------------

def test_5_minting_tokens_does_not_multiply_the_api_limit(limited):
    app = limited(API_RATE_LIMIT="4 per minute", TRUSTED_PROXY_HOPS=0)
    user = make_user("manager", password=PASSWORD)
    tokens = [accounts.issue_token(ADMIN, user, f"t{i}", 30)[0] for i in range(3)]
    statuses = [app.test_client().get("/api/v1/stores", headers={
        "Authorization": f"Bearer {tokens[i % 3]}"}).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 200, 429]


def test_5_live_tokens_per_user_are_capped(app):
    app.config["MAX_TOKENS_PER_USER"] = 2
    try:
        user = make_user("manager", password=PASSWORD)
        client = app.test_client()
        body = {"username": user.username, "password": PASSWORD}
        assert [client.post("/api/v1/auth/token", json=body).status_code
                for _ in range(3)] == [201, 201, 409]
        assert client.post("/api/v1/auth/token", json=body).json["error"]["code"] == \
            "too_many_tokens"
        accounts.revoke_token(ADMIN, db.session.scalar(select(ApiToken.id).limit(1)))
        assert client.post("/api/v1/auth/token", json=body).status_code == 201
    finally:
        app.config["MAX_TOKENS_PER_USER"] = 20


# --- 6. log injection ---------------------------------------------------------------------

def test_6_a_newline_in_the_path_cannot_forge_a_log_line(app, caplog):
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="kiryana.request"):
        client.get("/healthz%0a2026-01-01 INFO kiryana.request GET /admin 200 user=1")
        client.get("/healthz?x=%0d%0aforged")
    lines = [record.getMessage() for record in caplog.records if record.name == "kiryana.request"]
    assert len(lines) == 2
    assert all("\n" not in line and "\r" not in line for line in lines)
    # The path is one %-escaped token (issue 23): the newline and the spaces stay inside it.
    assert "/healthz%0A2026-01-01%20INFO" in lines[0] and lines[0].count(" user=") == 1


# --- 7. /metrics is closed outside development --------------------------------------------

@pytest.mark.parametrize("settings, headers, status", [
    ({}, {}, 404),
    ({"METRICS_TOKEN": "scrape-secret"}, {}, 404),
    ({"METRICS_TOKEN": "scrape-secret"}, {"Authorization": "Bearer wrong"}, 404),
    ({"METRICS_TOKEN": "scrape-secret"}, {"Authorization": "Bearer scrape-secret"}, 200),
    ({"METRICS_ALLOW": ["10.0.0.0/8"]}, {}, 404),
    ({"METRICS_ALLOW": ["10.0.0.0/8", "127.0.0.1/32"]}, {}, 200),
])
def test_7_metrics_need_a_token_or_an_allowed_network(app, settings, headers, status):
    app.config.update({"METRICS_PUBLIC": False, **settings})
    try:
        response = app.test_client().get("/metrics", headers=headers)
    finally:
        app.config.update({"METRICS_PUBLIC": True, "METRICS_TOKEN": None, "METRICS_ALLOW": []})
    assert response.status_code == status
    assert (b"kiryana_" in response.data) == (status == 200)


def test_7_production_config_closes_metrics():
    assert config.ProductionConfig.METRICS_PUBLIC is False
    assert config.DevelopmentConfig.METRICS_PUBLIC is True


# --- 8. unknown and foreign stores look the same to a shopkeeper ---------------------------

def test_8_a_shopkeeper_cannot_tell_which_store_codes_exist(app):
    mine, theirs = make_store(code="KHI-0001"), make_store(code="LHE-0001")
    keeper = make_user("shopkeeper", [mine], password=PASSWORD)
    client = app.test_client()
    login(client, keeper.username)
    for page in ("stock", "low-stock", "valuation", "sales", "movements", "stock.csv"):
        foreign = client.get(f"/reports/{page}?store=LHE-0001")
        unknown = client.get(f"/reports/{page}?store=NOPE-0001")
        assert foreign.status_code == unknown.status_code == 404, page
        # The pages echo the address the user typed (the language switch returns to it):
        # apart from that echo, both answers are the same bytes.
        assert foreign.get_data().replace(b"LHE-0001", b"CODE") == \
            unknown.get_data().replace(b"NOPE-0001", b"CODE"), page
    foreign = client.get(f"/reports/stock?store_id={theirs.id}")
    unknown = client.get("/reports/stock?store_id=999999")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.get_data().replace(f"store_id={theirs.id}".encode(), b"ID") == \
        unknown.get_data().replace(b"store_id=999999", b"ID")


# --- 9. backdating through the API ---------------------------------------------------------

def test_9_shopkeepers_cannot_backdate_past_the_offline_window(app):
    store, product = make_store(), make_product()
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=50))
    keeper = api_as(app, "shopkeeper", stores=[store])
    manager = api_as(app, "manager")
    last_year = (datetime.now(timezone.utc) - timedelta(days=365)).isoformat()
    yesterday = (datetime.now(timezone.utc) - timedelta(hours=24)).isoformat()
    sale = {"store_id": store.id, "product_id": product.id, "type": "sale", "quantity": "1"}
    before = db.session.scalar(select(func.count()).select_from(StockMovement))
    refused = keeper.post("/api/v1/movements", json={**sale, "occurred_at": last_year})
    assert refused.status_code == 422 and "occurred_at" in refused.json["error"]["fields"]
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == before
    assert keeper.post("/api/v1/movements",
                       json={**sale, "occurred_at": yesterday}).status_code == 201
    backdated = manager.post("/api/v1/movements", json={**sale, "occurred_at": last_year})
    assert backdated.status_code == 201
    # The manager's override shows in the audit log: occurred_at a year before created_at.
    events = [row.after for row in audit_actions() if row.action == "movement.create"]
    after = events[-1] if isinstance(events[-1], dict) else json.loads(events[-1])
    assert after["occurred_at"][:10] == last_year[:10]
    assert after["created_at"][:10] != last_year[:10]


# --- 10. look-alike codes ------------------------------------------------------------------

@pytest.mark.parametrize("sku, outcome", [
    ("ＣＨＥＥＮＩ", "duplicate_sku"),     # full width: NFKC makes it CHEENI, already taken
    ("CHEE\u200bNI", "invalid"),           # zero-width space
    ("C\u0415ENI", "invalid"),             # Cyrillic Е
    ("CHEENI\u202e", "invalid"),           # right-to-left override
])
def test_10_look_alike_skus_are_refused(app, sku, outcome):
    api = api_as(app, "admin")
    assert api.post("/api/v1/products", json={"sku": "CHEENI", "name": "Cheeni",
                                              "sale_price": "150"}).status_code == 201
    response = api.post("/api/v1/products", json={"sku": sku, "name": "x", "sale_price": "1"})
    assert response.json["error"]["code"] == outcome, response.json
    assert db.session.scalar(select(func.count()).select_from(Product)) == 1


def test_10_usernames_store_codes_and_barcodes_use_a_safe_alphabet(app):
    for bad in ("d\u0443kan", "dukan\u200d", "دکان"):
        with pytest.raises(DomainError, match="Username"):
            make_user(username=bad, password=PASSWORD)
    assert make_user(username="ｄｕｋａｎ", password=PASSWORD).username == "dukan"
    for bad in ("KHI\u20140001", "KHI-０００１X\u200b", "КHI-1"):
        with pytest.raises(DomainError, match="Code"):
            make_store(code=bad)
    assert make_store(code="khi-０００９").code == "KHI-0009"
    with pytest.raises(DomainError, match="Barcode"):
        make_product(barcode="8961\u200b000")
    assert make_product(barcode="８９６１０００").barcode == "8961000"
    urdu = make_product(name="چینی (کھلی)", category="اناج")
    assert urdu.name == "چینی (کھلی)"  # names stay free Unicode
    assert db.session.scalar(select(func.count()).select_from(User)) == 1
    assert db.session.scalar(select(func.count()).select_from(Store)) == 1


# --- 11. password policy -----------------------------------------------------------------

@pytest.mark.parametrize("password, message", [
    ("short-pw1", "at least 10"),
    ("password123", "too common"),
    ("1234567890", "too common"),
    ("qwertyuiop", "too common"),
    ("aaaaaaaaaaaa", "too common"),
])
def test_11_short_and_common_passwords_are_refused(app, password, message):
    with pytest.raises(DomainError, match=message):
        make_user(password=password)
    user = make_user(password="galla-demo-303")
    with pytest.raises(DomainError, match=message):
        accounts.update_user(ADMIN, user.id, password=password)
    with pytest.raises(DomainError, match="too common"):
        make_user(username="bilal-khan-1", password="Bilal-Khan-1")


def test_11_the_demo_accounts_still_pass_the_policy(app):
    from webapp import demo
    for _username, password, *_ in demo.ACCOUNTS:
        accounts.passwords.check_password(password)


# --- 12. production headers and CSRF renewal ----------------------------------------------

def test_12_hsts_on_https_and_no_store_on_private_responses(app):
    user = make_user("manager", password=PASSWORD)
    client = app.test_client()
    secure = client.get("/login", base_url="https://stock.example.pk")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    login(client, user.username)
    page = client.get("/stores/")
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Pragma"] == "no-cache"
    token = client.post("/api/v1/auth/token", json={"username": user.username,
                                                    "password": PASSWORD})
    assert token.status_code == 201 and token.headers["Cache-Control"] == "no-store"
    api = client.get("/api/v1/stores",
                     headers={"Authorization": f"Bearer {token.json['token']}"})
    assert api.headers["Cache-Control"] == "no-store"
    refused = app.test_client().post("/api/v1/auth/token",
                                     json={"username": user.username, "password": "nope-nope"})
    assert refused.headers["Cache-Control"] == "no-store"


def test_12_hsts_can_be_switched_off(app):
    app.config["HSTS_SECONDS"] = 0
    try:
        response = app.test_client().get("/login", base_url="https://stock.example.pk")
    finally:
        app.config["HSTS_SECONDS"] = 31536000
    assert "Strict-Transport-Security" not in response.headers


def test_12_the_csrf_secret_is_renewed_at_login(app):
    user = make_user("manager", password=PASSWORD)
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as session:
        session["csrf_token"] = "planted-by-an-attacker"
    login(client, user.username)
    client.get("/stores/")
    with client.session_transaction() as session:
        assert session.get("csrf_token") not in (None, "planted-by-an-attacker")


# --- 13. no debug server without APP_ENV --------------------------------------------------

def test_13_without_app_env_the_production_config_is_used(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    assert config.config_from_env() is config.ProductionConfig
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("APP_ENV", "developmnet")
    with pytest.raises(RuntimeError, match="APP_ENV"):
        config.config_from_env()
    monkeypatch.setenv("APP_ENV", "development")
    assert config.config_from_env() is config.DevelopmentConfig


def test_13_gunicorn_without_app_env_is_not_a_debug_server(monkeypatch, tmp_path):
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", "a-real-secret")
    monkeypatch.setattr(config.ProductionConfig, "SQLALCHEMY_DATABASE_URI",
                        f"sqlite:///{tmp_path / 'prod.db'}")
    app = create_app()
    assert not app.debug and app.config["SESSION_COOKIE_SECURE"] is True


def test_passwords_are_hashed_with_scrypt_outside_the_tests(app, monkeypatch):
    # The tests' config names a one-round hash for speed; every real environment must not.
    for name in ("development", "production"):
        assert config.configs[name].PASSWORD_HASH_METHOD == "scrypt"
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", config.Config.PASSWORD_HASH_METHOD)
    user = make_user(username="hashed", password="a-long-passphrase")
    assert user.password_hash.startswith("scrypt:")
    assert accounts.authenticate("hashed", "a-long-passphrase").id == user.id
