"""Every API answer counted against a token says where its window stands, as Flask-Limiter writes
it (X-RateLimit-Limit / -Remaining / -Reset, Retry-After on a 429), so an integration can pace
itself; the figures come from the count the request already made, with no storage round trip."""
import time
import uuid

import pytest
from flask_migrate import upgrade

from tests import services
from tests.api_client import api_as
from tests.conftest import _config
from webapp import create_app
from webapp.extensions import db, limiter

NAMES = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@pytest.fixture
def limited(tmp_path):
    def build(**settings):
        app = create_app(_config(f"sqlite:///{tmp_path / 'headers.db'}", RATELIMIT_ENABLED=True,
                                 RATELIMIT_KEY_PREFIX=f"t{uuid.uuid4().hex[:10]}", **settings))
        with app.app_context():
            upgrade()
            api = api_as(app)
            db.session.remove()
        return app, api
    yield build
    if limiter.enabled:
        limiter.reset()
    limiter.enabled = False


def _window(response):
    return tuple(response.headers.getlist(name) for name in NAMES)


def test_each_answer_says_the_limit_what_remains_and_when_the_window_resets(limited):
    app, api = limited(API_RATE_LIMIT="4 per minute")
    answers = [api.get("/api/v1/stores"), api.get("/api/v1/stores/999999"),
               api.post("/api/v1/stores", json={}), api.get("/api/v1/stores")]
    assert [r.status_code for r in answers] == [200, 404, 422, 200]
    assert [r.headers.getlist("X-RateLimit-Remaining") for r in answers] == \
        [["3"], ["2"], ["1"], ["0"]]
    for response in answers:
        assert response.headers.getlist("X-RateLimit-Limit") == ["4"]
        reset = int(response.headers["X-RateLimit-Reset"])
        assert time.time() <= reset <= time.time() + 61
    refused = api.get("/api/v1/stores")
    assert refused.status_code == 429 and refused.json["error"]["code"] == "rate_limited"
    assert _window(refused) == (["4"], ["0"], [answers[-1].headers["X-RateLimit-Reset"]])
    assert 1 <= int(refused.headers["Retry-After"]) <= 61


def test_answers_not_counted_against_a_token_carry_none(limited):
    app, api = limited(API_RATE_LIMIT="4 per minute")
    client = app.test_client()
    for response in (client.get("/api/v1/openapi.json"), client.get("/healthz")):
        assert response.status_code == 200
        assert _window(response) == ([], [], [])


def test_without_limits_no_headers(app):
    with app.app_context():
        api = api_as(app)
    assert _window(api.get("/api/v1/stores")) == ([], [], [])


@pytest.mark.redis
@pytest.mark.parametrize("batch", [16, 1])
def test_with_redis_remaining_never_overstates_and_counts_down(limited, batch):
    if not services.redis_available():
        services.missing("Redis is not reachable on 127.0.0.1:6379")
    # An hour's window: a minute's could roll over between the 40 requests on a slow machine
    # and start counting again (a clean-clone run saw 39 left after 20 sent).
    app, api = limited(API_RATE_LIMIT="40 per hour", API_RATE_LIMIT_BATCH=batch,
                       RATELIMIT_STORAGE_URI=services.REDIS_URL)
    remaining = []
    for sent in range(1, 41):
        response = api.get("/api/v1/stores")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "40"
        remaining.append(int(response.headers["X-RateLimit-Remaining"]))
        assert remaining[-1] <= 40 - sent  # what is left, at most: this worker is alone here
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] == 0
    if batch == 1:
        assert remaining == list(range(39, -1, -1))
    refused = api.get("/api/v1/stores")
    assert refused.status_code == 429
    assert _window(refused)[:2] == (["40"], ["0"])


def test_the_document_declares_them_where_they_are_sent(limited):
    app, api = limited(API_RATE_LIMIT="4 per minute")
    document = app.test_client().get("/api/v1/openapi.json").json
    listed = api.get("/api/v1/stores")
    declared = document["paths"]["/api/v1/stores"]["get"]["responses"]["200"]["headers"]
    sent = {name for name, _ in listed.headers if name.startswith("X-RateLimit")}
    assert sent == set(declared) == set(NAMES)
    refused = document["paths"]["/api/v1/sales"]["post"]["responses"]["429"]["headers"]
    assert set(refused) == {*NAMES, "Retry-After"}
    assert "headers" not in document["paths"]["/api/v1/auth/token"]["post"]["responses"]["201"]
