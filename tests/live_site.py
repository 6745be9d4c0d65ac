"""A live site for the browser tests: a real server on a fresh PostgreSQL database, and Chromium.

Each browser module fills its own shop (`fill`, run in the app context after the migrations,
returns the ids the tests need) and gets {"url", "app", **ids}; the server is werkzeug in a
thread with CSRF on, as a phone meets it.
"""
import threading
from contextlib import contextmanager
from pathlib import Path

from flask_migrate import upgrade
from werkzeug.serving import make_server

from config import TestingConfig, sqlalchemy_url
from tests import services
from webapp import create_app
from webapp.extensions import db

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
VIEWPORT = {"width": 360, "height": 640}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextmanager
def serve(app):
    """`app` served on a free local port, in a thread → its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@contextmanager
def live_site(fill, middleware=None, **settings):
    """Skip (or fail under CI) without Chromium or PostgreSQL; else a migrated fresh database
    filled by `fill()`, served → {"url", "app", **fill()}. `middleware` wraps the WSGI app;
    `settings` are config values on top of the test config (e.g. REDIS_URL)."""
    if not services.chromium_available():
        services.missing(f"Chromium not found at {services.CHROMIUM}")
    if not services.postgres_available():
        services.missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = services.create_database()
    config = type("Config", (TestingConfig,), {
        "SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url), "WTF_CSRF_ENABLED": True, **settings})
    app = create_app(config)
    try:
        with app.app_context():
            upgrade()
            ids = fill()
            db.session.remove()
        if middleware is not None:
            app.wsgi_app = middleware(app.wsgi_app)
        with serve(app) as base:
            yield {"url": base, "app": app, **ids}
    finally:
        with app.app_context():
            db.engine.dispose()
        services.drop_database(url)


@contextmanager
def chromium():
    """Debian's Chromium, headless, through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=services.CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
