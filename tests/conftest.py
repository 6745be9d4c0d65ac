"""Fixtures: an app on SQLite (fast unit layer) and an app on a fresh PostgreSQL database.

Both build their schema with the real migrations (`flask db upgrade`), never create_all.
"""
import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from config import TestingConfig, sqlalchemy_url
from tests import services
from tests.processes import unique_prefix
from webapp import create_app
from webapp.extensions import db, limiter


def _config(url, **overrides):
    return type("Config", (TestingConfig,),
                {"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(url), **overrides})


def _clean(app):
    """Empty every table (children first) so each test starts from nothing."""
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in db.metadata.sorted_tables)
            db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(db.metadata.sorted_tables):
                db.session.execute(table.delete())
        db.session.commit()


@pytest.fixture(scope="session")
def sqlite_app(tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "test.db"
    app = create_app(_config(f"sqlite:///{path}"))
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def app(sqlite_app):
    _clean(sqlite_app)
    # The limiter is one object shared by every app a test builds: a test that built an app
    # with limits on must not leave them on for the next one (TestingConfig has them off).
    limiter.enabled = sqlite_app.config.get("RATELIMIT_ENABLED", True)
    with sqlite_app.app_context():
        yield sqlite_app
        db.session.remove()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def own_database(request, tmp_path):
    """An empty database of the test's own, for a test that migrates it down and up: a SQLite
    file, or a fresh PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    if not services.postgres_available():
        services.missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = services.create_database()
    yield url
    services.drop_database(url)


@pytest.fixture(scope="session")
def pg_url():
    if not services.postgres_available():
        services.missing("PostgreSQL is not reachable on 127.0.0.1:5432")
    url = services.create_database()
    yield url
    services.drop_database(url)


@pytest.fixture(scope="session")
def pg_session_app(pg_url):
    app = create_app(_config(pg_url, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 40,
                                                                 "max_overflow": 10}))
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def pg_app(pg_session_app):
    _clean(pg_session_app)
    with pg_session_app.app_context():
        yield pg_session_app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def redis_pg_app(pg_app, pg_url):
    """An app on PostgreSQL with the shared Redis under a fresh prefix."""
    if not services.redis_available():
        services.missing("Redis is not reachable on 127.0.0.1:6379")
    prefix = unique_prefix()
    app = create_app(_config(pg_url, REDIS_URL=services.REDIS_URL, REDIS_KEY_PREFIX=prefix,
                             RQ_QUEUE_PREFIX=prefix))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    services.forget_keys(prefix)
