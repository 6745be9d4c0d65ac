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
from datetime import timedelta
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
    # No ping before each checkout (a round trip per request): connections are recycled after
    # this many seconds, and a statement that finds its connection dropped is retried once when
    # that is safe (webapp/infra/dbretry.py).
    DATABASE_POOL_RECYCLE = int(os.environ.get("DATABASE_POOL_RECYCLE", "300"))
    # Connections each process keeps open: twice its threads (gunicorn --threads), since each
    # thread keeps one for the ledger's writes (webapp/infra/pinned.py) beside its ORM session's.
    # Beyond the pool, SQLAlchemy opens an overflow connection and closes it again after the
    # request: with 5 (its default) for 8 threads, 1 sale in 20 paid for a new PostgreSQL
    # backend. (SQLite's pools take no size: create_app passes it to the server databases only.)
    DATABASE_POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "20"))
    # Allocations between young-generation collections in a gunicorn worker (gunicorn.conf.py):
    # a sale allocates a few thousand objects, so CPython's 700 ran the collector several times
    # a request, each time walking every in-flight request's objects across the threads.
    GC_YOUNG = int(os.environ.get("GC_YOUNG", "50000"))
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_recycle": DATABASE_POOL_RECYCLE}
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
    # PostgreSQL: monthly partitions of stock_movements the worker sweep keeps made ahead.
    PARTITIONS_MONTHS_AHEAD = int(os.environ.get("PARTITIONS_MONTHS_AHEAD", "3"))
    # Report roll-ups older than this (seconds) are refreshed by the worker sweep (inline
    # without one).
    REPORTS_ROLLUP_MAX_AGE = float(os.environ.get("REPORTS_ROLLUP_MAX_AGE", "60"))
    # A running sync job whose heartbeat is older than this is run again (safely: items are
    # idempotent).
    SYNC_STALL_SECONDS = float(os.environ.get("SYNC_STALL_SECONDS", "60"))
    REPLICA_RETRY_SECONDS = float(os.environ.get("REPLICA_RETRY_SECONDS", "5"))
    # The worker's continuous check of invariant 1 (services/integrity.py): a round this often,
    # over the movements written since the last one (only those older than the settle time,
    # longer than any ledger transaction runs, at most the cap) and this many stores' levels.
    LEDGER_CHECK_SECONDS = float(os.environ.get("LEDGER_CHECK_SECONDS", "60"))
    LEDGER_CHECK_SETTLE_SECONDS = float(os.environ.get("LEDGER_CHECK_SETTLE_SECONDS", "10"))
    LEDGER_CHECK_STORES_PER_ROUND = int(os.environ.get("LEDGER_CHECK_STORES_PER_ROUND", "50"))
    LEDGER_CHECK_MAX_MOVEMENTS = int(os.environ.get("LEDGER_CHECK_MAX_MOVEMENTS", "1000000"))
    # Webhooks (services/webhooks.py): seconds a receiver has to answer; the delays between
    # attempts after a failure (the last repeats) until WEBHOOK_GIVE_UP_HOURS, then failed;
    # how long the old secret still signs after a rotation; sender threads per process; and
    # whether private, loopback and link-local targets are allowed (tests, a private network).
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
    WEBHOOK_RETRY_SECONDS = [float(s) for s in os.environ.get(
        "WEBHOOK_RETRY_SECONDS", "10,30,120,600,1800,3600,7200,14400").split(",")]
    WEBHOOK_GIVE_UP_HOURS = float(os.environ.get("WEBHOOK_GIVE_UP_HOURS", "24"))
    WEBHOOK_ROTATION_HOURS = float(os.environ.get("WEBHOOK_ROTATION_HOURS", "24"))
    WEBHOOK_SENDERS = int(os.environ.get("WEBHOOK_SENDERS", "8"))
    WEBHOOK_ALLOW_PRIVATE = os.environ.get("WEBHOOK_ALLOW_PRIVATE", "0") == "1"
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600 per minute")
    # Hits a worker takes from Redis at once for a token (1 = a Redis round trip per request).
    API_RATE_LIMIT_BATCH = int(os.environ.get("API_RATE_LIMIT_BATCH", "16"))
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "5 per minute")
    API_TOKEN_TTL_DAYS = int(os.environ.get("API_TOKEN_TTL_DAYS", "90"))
    # The longest life a token may be given (the tokens page and POST /api/v1/auth/token).
    API_TOKEN_MAX_DAYS = int(os.environ.get("API_TOKEN_MAX_DAYS", "365"))
    # Seconds an API worker trusts a token it has checked (revocation bites within this).
    API_TOKEN_CACHE_SECONDS = float(os.environ.get("API_TOKEN_CACHE_SECONDS", "5"))
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 2 * 1024 * 1024))
    # Bulk import uploads (products, opening stock, price lists) may be larger than a request.
    IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", 16 * 1024 * 1024))
    # An import job untouched this long (its worker died) is queued again by the sweep.
    IMPORT_STALL_SECONDS = float(os.environ.get("IMPORT_STALL_SECONDS", "300"))
    # Pages and their assets go out gzipped (what a phone downloads); JSON is left to nginx in
    # production, so integrators' clients and the WSGI test client see plain JSON here.
    COMPRESS_ALGORITHM = "gzip"
    COMPRESS_MIMETYPES = ["text/html", "text/css", "text/javascript", "application/javascript",
                          "image/svg+xml", "application/manifest+json"]
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    # How rupee figures are grouped: lakh/crore (29,65,200) or thousands (2,965,200).
    MONEY_GROUPING = os.environ.get("MONEY_GROUPING", "lakh")
    # Seconds a user's reads stay on the primary after they write (read-your-writes).
    READ_YOUR_WRITES_SECONDS = float(os.environ.get("READ_YOUR_WRITES_SECONDS", "5"))

    # --- security (issue 13) ------------------------------------------------------------
    # Proxies in front of gunicorn whose X-Forwarded-For/-Proto are believed (nginx alone: 1).
    TRUSTED_PROXY_HOPS = int(os.environ.get("TRUSTED_PROXY_HOPS", "0"))
    # A login (session or remember cookie) is refused this long after the password was typed.
    REMEMBER_COOKIE_DURATION = timedelta(
        days=float(os.environ.get("REMEMBER_COOKIE_DAYS", "14")))
    # Live API tokens one user may hold (each token used to multiply the per-token limit).
    MAX_TOKENS_PER_USER = int(os.environ.get("MAX_TOKENS_PER_USER", "20"))
    # Werkzeug's method string; scrypt (its default, memory-hard) is what production should use.
    PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")
    # Hostile input: nesting and size of a JSON body, checked before it is parsed.
    MAX_JSON_DEPTH = int(os.environ.get("MAX_JSON_DEPTH", "32"))
    MAX_JSON_BYTES = int(os.environ.get("MAX_JSON_BYTES", 2 * 1024 * 1024))
    # /metrics outside development and tests: a bearer token, or a client in these networks.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
    METRICS_ALLOW = [n.strip() for n in os.environ.get("METRICS_ALLOW", "").split(",")
                     if n.strip()]
    # Open /metrics to anyone (development and tests are; production is not unless set to 1).
    METRICS_PUBLIC = os.environ.get("METRICS_PUBLIC", "0") == "1"
    # Strict-Transport-Security max-age on HTTPS responses; 0 sends no header.
    HSTS_SECONDS = int(os.environ.get("HSTS_SECONDS", "31536000"))
    # Shopkeepers may date a movement at most this far back (the phone's offline queue);
    # managers and admins may go further, and every such movement is marked in the audit log.
    OFFLINE_WINDOW_HOURS = float(os.environ.get("OFFLINE_WINDOW_HOURS", "72"))
    # The API checks each response against its OpenAPI model (production: see below).
    API_CHECK_RESPONSES = True

    # --- the live stock list's push channel (live.py, issue 28) ----------------------------
    # Where store pages find live.py's event streams: "/live" on the page's own origin behind
    # the proxy (a browser sends no session cookie to, and the CSP refuses, another origin; the
    # bench's client takes an absolute URL). Empty: pages poll as before. Only with REDIS_URL.
    LIVE_URL = os.environ.get("LIVE_URL", "").strip()
    LIVE_HOST = os.environ.get("LIVE_HOST", "127.0.0.1")
    LIVE_PORT = int(os.environ.get("LIVE_PORT", "8091"))
    # A comment line this often keeps proxies from closing a quiet stream.
    LIVE_HEARTBEAT_SECONDS = float(os.environ.get("LIVE_HEARTBEAT_SECONDS", "25"))
    # A stream is closed after this long: the browser reconnects and its cookie and token are
    # checked again (a login that ended is refused then).
    LIVE_MAX_SECONDS = float(os.environ.get("LIVE_MAX_SECONDS", "1800"))


class DevelopmentConfig(Config):
    DEBUG = True
    METRICS_PUBLIC = True

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
    METRICS_PUBLIC = True
    # One round: the tests make and log in thousands of users; the method itself is tested.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1"


class ProductionConfig(Config):
    APP_ENV = "production"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "1") == "1"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Off: a response that broke its model could only become a 500 here; the tests check
    # every operation's responses, and the check cost each request a second pass.
    API_CHECK_RESPONSES = os.environ.get("API_CHECK_RESPONSES", "0") == "1"

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
    """The config class named by APP_ENV; production when it is not set.

    Production by default, so `gunicorn 'webapp:create_app()'` started without APP_ENV is never
    a debug server with insecure cookies (it refuses to start without SECRET_KEY instead).
    Development is asked for by name: `make run` sets APP_ENV=development.
    """
    name = os.environ.get("APP_ENV") or "production"
    if name not in configs:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(configs)}, not {name!r}")
    return configs[name]
