"""The RQ queues by name, or an InlineQueue that runs jobs at once when there is no Redis."""
from flask import current_app
from rq import Queue

from webapp.infra import redisconn

QUEUE_NAMES = ("sync", "audit", "default", "webhooks")


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
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    app = current_app._get_current_object()
    if not app.config["REDIS_URL"]:
        return InlineQueue(name)
    queues = app.extensions.setdefault("kiryana_queues", {})
    if name not in queues:
        queues[name] = Queue(app.config["RQ_QUEUE_PREFIX"] + name,
                             connection=redisconn.raw_client(app))
    return queues[name]
