"""API infrastructure: tokens, 401s, JSON checks, error envelope, OpenAPI, rate limits."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.api_client import PASSWORD, ApiClient, api_as, token_for
from tests.conftest import _config
from tests.factories import ADMIN, make_user
from webapp import create_app
from webapp.extensions import db
from webapp.models import ApiToken
from webapp.models.types import utcnow
from webapp.services import accounts


def test_token_from_username_and_password_works_as_bearer(app):
    user = make_user(role="manager", password=PASSWORD)
    response = app.test_client().post("/api/v1/auth/token",
                                      json={"username": user.username.upper(),
                                            "password": PASSWORD, "name": "pos"})
    assert response.status_code == 201
    token = response.json["token"]
    assert token.startswith("kir_") and response.json["expires_at"]
    stored = db.session.execute(select(ApiToken)).scalar_one()
    assert stored.token_hash != token and stored.name == "pos"
    assert ApiClient(app, token).get("/api/v1/stores").status_code == 200
    assert db.session.get(ApiToken, stored.id).last_used_at is not None


@pytest.mark.parametrize("body", [
    {"username": "nobody", "password": "whatever1"},
    {"username": "{user}", "password": "wrong-password"},
])
def test_wrong_credentials_are_401(app, body):
    user = make_user(password=PASSWORD)
    body = {k: v.format(user=user.username) for k, v in body.items()}
    response = app.test_client().post("/api/v1/auth/token", json=body)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_credentials"


def test_inactive_user_gets_no_token(app):
    user = make_user(password=PASSWORD)
    accounts.update_user(ADMIN, user.id, active=False)
    response = app.test_client().post("/api/v1/auth/token",
                                      json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 401


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer kir_nope", "Basic abc", "kir_x",
                                    "Bearer " + "kir_" + "a" * 200])
def test_requests_without_a_valid_token_are_401(app, header):
    headers = {"Authorization": header} if header else {}
    response = app.test_client().get("/api/v1/stores", headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_expired_and_revoked_tokens_are_401(app):
    expired = api_as(app)
    token = db.session.execute(select(ApiToken)).scalar_one()
    token.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert expired.get("/api/v1/stores").status_code == 401
    revoked = api_as(app)
    token_id = max(t.id for t in db.session.execute(select(ApiToken)).scalars())
    accounts.revoke_token(ADMIN, token_id)
    assert revoked.get("/api/v1/stores").status_code == 401


def test_body_must_be_json(app):
    api = api_as(app)
    response = api.post("/api/v1/suppliers", data="name=x",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"
    response = api.post("/api/v1/suppliers", data='{"name": ',
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"


def test_body_too_large_is_413(app):
    api = api_as(app)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        response = api.post("/api/v1/suppliers", json={"name": "x" * 2000})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 2 * 1024 * 1024
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"


def test_unknown_api_path_and_method_answer_json(app):
    api = api_as(app)
    assert api.get("/api/v1/nothing-here").json["error"]["code"] == "not_found"
    response = api.client.delete("/api/v1/stores", headers=api._headers(None))
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


def test_openapi_document_is_public_and_lists_the_endpoints(app):
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.")
    assert "/api/v1/auth/token" in document["paths"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "ErrorEnvelope" in document["components"]["schemas"]


@pytest.fixture
def limited_app(tmp_path):
    from flask_migrate import upgrade

    app = create_app(_config(f"sqlite:///{tmp_path / 'limits.db'}", RATELIMIT_ENABLED=True,
                             API_RATE_LIMIT="3 per minute", LOGIN_RATE_LIMIT="2 per minute"))
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()


def test_rate_limit_per_token_answers_429_with_headers(limited_app):
    first, second = api_as(limited_app), api_as(limited_app)
    statuses = [first.get("/api/v1/stores").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = first.get("/api/v1/stores")
    assert response.json["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert second.get("/api/v1/stores").status_code == 200


def test_token_endpoint_is_limited_per_ip(limited_app):
    client = limited_app.test_client()
    body = {"username": "nobody", "password": "whatever1"}
    statuses = [client.post("/api/v1/auth/token", json=body).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_token_cache_trusts_a_checked_token_for_a_few_seconds_only(app, monkeypatch):
    import time

    from webapp.blueprints.api.auth import token_cache

    monkeypatch.setitem(app.config, "API_TOKEN_CACHE_SECONDS", 0.3)
    token_cache.clear()
    api = api_as(app)
    assert api.get("/api/v1/stores").status_code == 200
    token_id = db.session.execute(select(ApiToken.id)).scalar_one()
    accounts.revoke_token(ADMIN, token_id)
    assert api.get("/api/v1/stores").status_code == 200
    time.sleep(0.35)
    assert api.get("/api/v1/stores").status_code == 401


def test_rate_limit_falls_back_to_memory_when_redis_is_unreachable(tmp_path):
    from flask_migrate import upgrade

    from webapp.blueprints.api.limits import fallback

    app = create_app(_config(f"sqlite:///{tmp_path / 'down.db'}", RATELIMIT_ENABLED=True,
                             API_RATE_LIMIT="2 per minute",
                             RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",
                             RATELIMIT_STORAGE_OPTIONS={"socket_connect_timeout": 0.2}))
    with app.app_context():
        upgrade()
        fallback.until = 0.0
        api = api_as(app)
        try:
            statuses = [api.get("/api/v1/stores").status_code for _ in range(3)]
        finally:
            fallback.until = 0.0
            db.session.remove()
    assert statuses == [200, 200, 429]


def test_threads_missing_one_token_together_look_it_up_once(app, monkeypatch):
    """Under load every thread of a worker found the same expired entry at once and each
    repeated the token's queries; now one looks it up and the others take its answer."""
    import threading
    import time

    from webapp.blueprints.api import auth

    plaintext = token_for(make_user(role="manager", password=PASSWORD))
    calls, real = [], accounts.user_for_token

    def slow_lookup(text):
        calls.append(text)
        time.sleep(0.05)  # long enough for every other thread to miss while it runs
        return real(text)

    monkeypatch.setattr(accounts, "user_for_token", slow_lookup)
    monkeypatch.setitem(app.config, "API_TOKEN_CACHE_SECONDS", 5)
    auth.token_cache.clear()
    principals, start = [], threading.Barrier(8)

    def authenticate():
        with app.app_context():
            start.wait()
            principals.append(auth.principal_for(plaintext))

    threads = [threading.Thread(target=authenticate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(principals) == 8 and None not in principals
    assert len({principal.id for principal in principals}) == 1
