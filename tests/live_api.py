"""A live API for the tests that act as an integrator (the generated client, the curl examples
of docs/api.md): a real server on a fresh PostgreSQL database with one admin, reached over HTTP.

Like production it does not check responses against their models (API_CHECK_RESPONSES off):
what a client reads is what the server sends, so the client side is what checks the contract.
Limits are on (generous ones), so answers carry their rate-limit headers.
"""
from contextlib import contextmanager

from flask_migrate import upgrade

from config import TestingConfig, sqlalchemy_url
from tests import services
from tests.factories import PASSWORD, make_user
from tests.live_site import serve
from webapp import create_app
from webapp.extensions import db, limiter

API_RATE_LIMIT = "100000 per minute"


@contextmanager
def live_api(**settings):
    """Serve the app on a fresh database → {"url", "app", "username", "password"}."""
    if not services.postgres_available():
        services.missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = services.create_database()
    config = type("Config", (TestingConfig,), {
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url), "API_CHECK_RESPONSES": False,
        "RATELIMIT_ENABLED": True, "API_RATE_LIMIT": API_RATE_LIMIT,
        "LOGIN_RATE_LIMIT": "1000 per minute", **settings})
    app = create_app(config)
    try:
        with app.app_context():
            upgrade()
            username = make_user("admin", username="integrator").username
            db.session.remove()
        with serve(app) as base:
            yield {"url": base, "app": app, "username": username, "password": PASSWORD}
    finally:
        # The limiter is one object for every app in this process: leave it as tests expect.
        if limiter.enabled:
            limiter.reset()
        limiter.enabled = False
        with app.app_context():
            db.engine.dispose()
        services.drop_database(url)
