"""Enqueueing that survives Redis.

An enqueue that fails is only logged: the work is already durable in the database (the audit
outbox, a sync job row) and the worker's periodic sweep picks it up.
"""
import logging

import redis
from rq import Retry

from webapp.extensions import db
from webapp.infra import redisconn
from webapp.infra.queue import get_queue

log = logging.getLogger(__name__)
# Retries back off: a job that failed because PostgreSQL blinked gets a second chance later.
RETRY_INTERVALS = [2, 10, 60]


def enqueue(queue_name, func, *args):
    """Queue func(*args) with retries; True when queued (or run, inline)."""
    queue = get_queue(queue_name)
    try:
        queue.enqueue(func, *args, retry=Retry(max=len(RETRY_INTERVALS),
                                               interval=RETRY_INTERVALS))
    except redis.RedisError as exc:
        redisconn.failed(exc)
        log.warning("could not queue %s on %s (%s); the worker sweep will pick it up",
                    func.__name__, queue_name, exc.__class__.__name__)
        return False
    except Exception:
        if not getattr(queue, "is_inline", False):
            raise
        # Inline jobs run inside the request: their failure must not fail the request.
        db.session.rollback()
        log.exception("inline job %s failed", func.__name__)
        return False
    return True
