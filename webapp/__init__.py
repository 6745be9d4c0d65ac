"""Kiryana Inventory: the application factory."""
import functools
from pathlib import Path

from flask import Flask
from flask.templating import Environment, _default_template_ctx_processor
from jinja2 import Template
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import config_from_env
from webapp import cli
from webapp.blueprints.api import hooks as api_hooks
from webapp.blueprints.stock import polls as stock_polls
from webapp.extensions import babel, compress, csrf, db, limiter, login_manager, migrate
from webapp.infra import dbretry, replica  # noqa: F401  (dbretry: engine listeners)
from webapp.jobs import tasks
from webapp.web import (
    errors,
    filters,
    guard,
    i18n,
    navigation,
    periods,
    ratelimit,
    request_log,
    security,
    sessions,
)


class ImportingTemplate(Template):
    """Jinja's Template, minus a slow set difference on every `{% from … import … %}`.

    An import passes the importing page's context, and Jinja checks whether that context has
    globals the imported template lacks by `frozenset - ChainMap.keys()`: a Python-level
    membership test of every global in every map (~25 globals, two imports a fragment, 4 % of a
    picker search). The same question is asked here of the maps' dicts in C; only when the
    answer is "none" does Jinja take its cached module without asking again."""

    def _get_default_module(self, ctx=None):
        if ctx is not None:
            maps = getattr(self.globals, "maps", None)
            if maps is not None and all(type(found) is dict for found in maps) \
                    and not ctx.globals_keys.difference(*maps):
                ctx = None
        return super()._get_default_module(ctx)


class PageEnvironment(Environment):
    template_class = ImportingTemplate


class App(Flask):
    """Flask, remembering what ensure_sync decided for the views and hooks it saw last: Flask
    asks it on every call of each (about twenty a request), and each answer cost an inspect of
    the function (3 % of a sale's CPU). Bounded: a per-request callable (an after_this_request
    closure, a class-based view's bound method) only passes through."""

    jinja_environment = PageEnvironment

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ensure_sync = functools.lru_cache(maxsize=256)(super().ensure_sync)

    def ensure_sync(self, func):
        return self._ensure_sync(func)


def create_app(config_class=None):
    """Build the app: config, extensions, blueprints, error handlers, CLI."""
    config_class = config_class or config_from_env()
    if hasattr(config_class, "check"):
        config_class.check()
    app = App(__name__, instance_relative_config=False)
    app.config.from_object(config_class)
    app.session_interface = sessions.CookieSessions()
    _trust_proxies(app)
    request_log.init_app(app)
    guard.init_app(app)  # before the extensions: rate-limit keys read the body it checks
    _ensure_sqlite_directory(app.config["SQLALCHEMY_DATABASE_URI"])
    _size_the_pool(app)
    register_extensions(app)
    register_blueprints(app)
    _one_default_context(app)
    ratelimit.drop_idle_middleware(app)
    api_hooks.skip_browser_hooks(app)
    errors.register_error_handlers(app)
    security.register(app)
    filters.register(app)
    periods.register(app)
    navigation.register(app)
    cli.register(app)
    stock_polls.register(app)  # last: its middleware goes outside every other
    return app


def _one_default_context(app):
    """Flask merges each blueprint's own copy of its default context processor (g, request,
    session) into the app's, so a blueprint's page ran it twice for the same three values."""
    for name, processors in app.template_context_processors.items():
        if name is not None:
            processors[:] = [p for p in processors if p is not _default_template_ctx_processor]


def _size_the_pool(app):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_size": app.config["DATABASE_POOL_SIZE"],
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}


def _trust_proxies(app):
    """Behind TRUSTED_PROXY_HOPS proxies (nginx: 1), the client is the one they name.

    Rate limits, the audit log and request logs then see the phone, not nginx; HTTPS is read
    from X-Forwarded-Proto (secure cookies, HSTS). With 0, forwarded headers are ignored, so a
    client cannot forge its address by sending them.
    """
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0,
                                x_prefix=0)


def register_extensions(app):
    db.init_app(app)
    _listen_to_sqlite_engines(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"
    csrf.init_app(app)
    compress.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app, babel)
    replica.init_app(app)
    tasks.init_app(app)
    _init_stock_listeners(app)
    login_manager.user_loader(sessions.load_user)


def _init_stock_listeners(app):
    from webapp.infra import metrics
    from webapp.services import ledger, stock_cache

    stock_cache.init_app(app)
    ledger.stock_changed.connect(metrics.count_movements, weak=False)


def register_blueprints(app):
    from webapp.blueprints.admin import bp as admin_bp
    from webapp.blueprints.api import bp as api_bp
    from webapp.blueprints.audit import bp as audit_bp
    from webapp.blueprints.auth import bp as auth_bp
    from webapp.blueprints.catalog import bp as catalog_bp
    from webapp.blueprints.counter import bp as counter_bp
    from webapp.blueprints.imports import bp as imports_bp
    from webapp.blueprints.khata import bp as khata_bp
    from webapp.blueprints.jobs import bp as jobs_bp
    from webapp.blueprints.language import bp as language_bp
    from webapp.blueprints.offline import bp as offline_bp
    from webapp.blueprints.ops import bp as ops_bp
    from webapp.blueprints.purchasing import bp as purchasing_bp
    from webapp.blueprints.reports import bp as reports_bp
    from webapp.blueprints.stock import bp as stock_bp
    from webapp.blueprints.stores import bp as stores_bp

    app.register_blueprint(ops_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(stock_bp)
    app.register_blueprint(counter_bp)
    app.register_blueprint(khata_bp)
    app.register_blueprint(catalog_bp)
    app.register_blueprint(stores_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(offline_bp)
    app.register_blueprint(language_bp)
    app.register_blueprint(purchasing_bp)
    app.register_blueprint(imports_bp)


def _migrations_dir():
    return Path(__file__).resolve().parent.parent / "migrations"


def _ensure_sqlite_directory(url):
    """The embedded default keeps its SQLite file under instance/; make sure the folder exists."""
    if url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys, wait for locks, and let us issue BEGIN ourselves."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin_immediate(conn):
    """SQLite: take the write lock when a transaction starts, so writers are serialised."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _listen_to_sqlite_engines(app):
    # On SQLite's engines only: a connection event listener on every engine makes each Core
    # connection join the event dispatch and call it at every begin (PostgreSQL's sales too).
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                event.listen(engine, "begin", _sqlite_begin_immediate)
