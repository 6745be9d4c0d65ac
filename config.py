"""Configuration classes; every setting comes from the environment.

Every setting and its default live here and nowhere else: code reads `app.config["X"]`, never
`config.get("X", default)`, and the README's settings table lists each variable
(tests/test_settings.py checks all three).

Pakistan time (Asia/Karachi) is not a setting: it is a product rule (reports count Pakistan
days, and the daily summary is bucketed by them as movements are written), so it is the
constant `webapp.services.validation.PAKISTAN`, which the interface's timezone uses too.
"""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", BASE_DIR / "instance"))


def sqlalchemy_url(url):
    """The URL SQLAlchemy should use for a database URL given in the environment."""
    # Plain postgres:// URLs mean psycopg2 here (SQLAlchemy 2.1 would pick psycopg 3).
    for prefix in ("postgres://", "postgresql://"):
        if url and url.startswith(prefix):
            url = "postgresql+psycopg2://" + url[len(prefix):]
    return url


def _database_url(name, default=None):
    return sqlalchemy_url(os.environ.get(name, default))


def _development_secret_key():
    """A random key kept under instance/ so sessions survive a restart in development."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


class Config:
    # Which class this is (config_from_env picks it from APP_ENV): `flask` commands cannot tell
    # by app.debug, which the CLI resets from FLASK_DEBUG.
    APP_ENV = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _database_url(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'kiryana.db'}")
    DATABASE_REPLICA_URL = _database_url("DATABASE_REPLICA_URL")
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL") or None
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or REDIS_URL or "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    # Redis down: count limits in memory per process, go back to Redis once it answers again.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_KEY_PREFIX = ""  # Flask-Limiter's own default; the API's token bucket shares it
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.5}
    # Short timeouts so a dead Redis costs a request a fraction of a second, not a stall.
    REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "0.5"))
    # Seconds Redis is skipped after a failure before it is tried again.
    REDIS_RETRY_SECONDS = float(os.environ.get("REDIS_RETRY_SECONDS", "2"))
    # Namespaces one deployment's keys and queues in a shared Redis.
    REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "kiryana:")
    RQ_QUEUE_PREFIX = os.environ.get("RQ_QUEUE_PREFIX", "")
    STOCK_CACHE_TTL = int(os.environ.get("STOCK_CACHE_TTL", "600"))
    # The worker drains the audit outbox and restarts stalled sync jobs this often.
    WORKER_SWEEP_SECONDS = float(os.environ.get("WORKER_SWEEP_SECONDS", "5"))
    # Idempotency records (and so sync client ids) are kept this long, then purged by workers.
    IDEMPOTENCY_RETENTION_DAYS = float(os.environ.get("IDEMPOTENCY_RETENTION_DAYS", "30"))
    # Report roll-ups older than this (seconds) are refreshed by the worker sweep (inline without one).
    REPORTS_ROLLUP_MAX_AGE = float(os.environ.get("REPORTS_ROLLUP_MAX_AGE", "60"))
    # A running sync job whose heartbeat is older than this is run again (safely: items are
    # idempotent).
    SYNC_STALL_SECONDS = float(os.environ.get("SYNC_STALL_SECONDS", "60"))
    REPLICA_RETRY_SECONDS = float(os.environ.get("REPLICA_RETRY_SECONDS", "5"))
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600 per minute")
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "5 per minute")
    API_TOKEN_TTL_DAYS = int(os.environ.get("API_TOKEN_TTL_DAYS", "90"))
    # Seconds an API worker trusts a token it has checked (revocation bites within this).
    API_TOKEN_CACHE_SECONDS = float(os.environ.get("API_TOKEN_CACHE_SECONDS", "5"))
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 2 * 1024 * 1024))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # Seconds a user's reads stay on the primary after they write (read-your-writes).
    READ_YOUR_WRITES_SECONDS = float(os.environ.get("READ_YOUR_WRITES_SECONDS", "5"))
    # A phone's queued action tapped longer ago than this is refused for non-managers.
    OFFLINE_WINDOW_HOURS = float(os.environ.get("OFFLINE_WINDOW_HOURS", "72"))


class DevelopmentConfig(Config):
    DEBUG = True

    @classmethod
    def check(cls):
        """Without SECRET_KEY, use a random key kept under instance/ (made only when this
        config is really used, not at import)."""
        if not cls.SECRET_KEY:
            cls.SECRET_KEY = _development_secret_key()


class TestingConfig(Config):
    APP_ENV = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    SQLALCHEMY_DATABASE_URI = _database_url("TEST_DATABASE_URL", "sqlite://")
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    REDIS_URL = None
    API_TOKEN_CACHE_SECONDS = 0


class ProductionConfig(Config):
    APP_ENV = "production"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "1") == "1"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE

    @classmethod
    def check(cls):
        if not cls.SECRET_KEY:
            raise RuntimeError("SECRET_KEY must be set in production")


configs = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env():
    """The config class named by APP_ENV (development by default)."""
    return configs[os.environ.get("APP_ENV", "development")]
