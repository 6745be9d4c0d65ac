"""Unbound extension instances; create_app() binds them to the app."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

from webapp.routing import RoutingSession

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# RoutingSession sends @replica_reads views' reads to DATABASE_REPLICA_URL (webapp/routing.py).
db = SQLAlchemy(metadata=MetaData(naming_convention=naming_convention),
                session_options={"class_": RoutingSession})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)

QUEUE_NAMES = ("sync", "audit", "default")


class InlineQueue:
    """Runs each job at once in this process: the embedded default, with no Redis to queue on."""

    is_inline = True

    def __init__(self, name):
        self.name = name

    def enqueue(self, func, *args, retry=None, job_timeout=None, job_id=None, **kwargs):
        func(*args, **kwargs)

    def __len__(self):
        return 0


def get_queue(name="default"):
    """The RQ queue called `name` (prefixed by RQ_QUEUE_PREFIX), or an InlineQueue without Redis."""
    from flask import current_app
    from rq import Queue

    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        return InlineQueue(name)
    queues = app.extensions.setdefault("kiryana_queues", {})
    if name not in queues:
        from webapp import redisconn

        queues[name] = Queue(app.config["RQ_QUEUE_PREFIX"] + name,
                             connection=redisconn.raw_client(app))
    return queues[name]
