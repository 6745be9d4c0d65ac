"""The process's webhook sender threads: an RQ job hands a delivery to them and returns, so a
slow receiver holds one thread (up to WEBHOOK_TIMEOUT_SECONDS), never the worker, the queue's
other jobs or, without Redis, the request that caused the event.

Nothing is lost when the process dies: a delivery waiting here is pending in the database, and
the worker's sweep queues it again once its dispatch mark (and any sender's lease) runs out."""
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from webapp.extensions import db
from webapp.services import webhooks

log = logging.getLogger(__name__)
_lock = threading.Lock()


def submit(delivery_id):
    """Send the delivery on one of this process's sender threads (made on first use)."""
    app = current_app._get_current_object()
    with _lock:
        pool = app.extensions.get("kiryana_webhook_senders")
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=app.config["WEBHOOK_SENDERS"],
                                      thread_name_prefix="webhook-sender")
            app.extensions["kiryana_webhook_senders"] = pool
    pool.submit(_send, app, delivery_id)


def _send(app, delivery_id):
    with app.app_context():
        try:
            outcome = webhooks.send(delivery_id)
            if outcome == "pending" and not app.config["REDIS_URL"]:
                _retry_later(app, delivery_id)
        except Exception:
            db.session.rollback()
            log.exception("webhook delivery %s: sending failed", delivery_id)
        finally:
            db.session.remove()


def _retry_later(app, delivery_id):
    """Without Redis there is no worker sweep to queue the retry: this process does, when the
    delivery's next attempt is due."""
    delay = webhooks.seconds_until_due(delivery_id)
    if delay is None:
        return

    def again():
        with app.app_context():
            submit(delivery_id)

    timer = threading.Timer(delay, again)
    timer.daemon = True
    timer.start()
