"""RQ worker: `python worker.py [queue ...]` (default: sync audit default webhooks); run as many as needed.

The app is built once and every job runs inside its app context (AppWorker). With the audit
queue, a drainer thread drains the audit outbox whenever a request wakes it (audit.DRAIN_WAKE),
at most every audit.DRAIN_GATHER_SECONDS. A sweeper thread drains the audit outbox straight
from the database and re-queues stalled sync jobs every WORKER_SWEEP_SECONDS, so work whose
enqueue or wake-up was lost (Redis down at commit time) or whose worker died is never stranded.
When Redis goes away the worker waits for it and carries on.
"""
import logging
import sys
import threading
import time

import redis
from rq import Queue, SimpleWorker

from webapp import create_app
from webapp.extensions import db
from webapp.infra import metrics
from webapp.infra.queue import QUEUE_NAMES
from webapp.jobs.sweep import sweep_once
from webapp.jobs.tasks import drain_audit
from webapp.services import audit

log = logging.getLogger("kiryana.worker")


class AppWorker(SimpleWorker):
    """Runs each job in the app context (no fork: the app and its pools are built once)."""

    app = None
    stopping = False

    def request_stop(self, signum, frame):
        self.stopping = True  # RQ raises StopRequested when idle without noting it anywhere
        super().request_stop(signum, frame)

    def perform_job(self, job, queue, execution):
        with self.app.app_context():
            try:
                ok = super().perform_job(job, queue, execution)
            finally:
                db.session.remove()
        name = queue.name.removeprefix(self.app.config["RQ_QUEUE_PREFIX"])
        metrics.JOBS.labels(name, "ok" if ok else "failed").inc()
        return ok


def _sweeper(app, stop):
    while True:
        sweep_once(app)
        if stop.wait(app.config["WORKER_SWEEP_SECONDS"]):
            return


def _drainer(app, stop):
    """Drain the outbox when woken: sales that come while a drain waits out its gathering
    pause, or runs, go out together in the next one (the flag they would set is still set)."""
    wait = app.config["WORKER_SWEEP_SECONDS"]
    # Blocks up to `wait` in BLPOP: the socket's timeout must outlast it.
    connection = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2,
                                      socket_timeout=wait + 10)
    wake = app.config["REDIS_KEY_PREFIX"] + audit.DRAIN_WAKE
    last = -audit.DRAIN_GATHER_SECONDS
    while not stop.is_set():
        try:
            if connection.blpop([wake], timeout=wait) is None:
                continue
        except redis.RedisError as exc:
            log.warning("drainer: redis unavailable (%s); the sweep drains meanwhile",
                        exc.__class__.__name__)
            if stop.wait(2):
                return
            continue
        pause = last + audit.DRAIN_GATHER_SECONDS - time.monotonic()
        if pause > 0 and stop.wait(pause):
            return
        last = time.monotonic()
        with app.app_context():
            try:
                drain_audit()
            except Exception:
                db.session.rollback()
                log.exception("audit drain failed; the sweep drains again")
            finally:
                db.session.remove()


def main(names):
    app = create_app()
    if not app.config["REDIS_URL"]:
        sys.exit("REDIS_URL is not set: jobs run inside the web process, no worker is needed.")
    AppWorker.app = app
    stop = threading.Event()
    threading.Thread(target=_sweeper, args=(app, stop), name="sweeper", daemon=True).start()
    if "audit" in names:
        threading.Thread(target=_drainer, args=(app, stop), name="drainer", daemon=True).start()
    connection = redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=2,
                                      health_check_interval=30)
    queues = [Queue(app.config["RQ_QUEUE_PREFIX"] + name, connection=connection)
              for name in names]
    try:
        while True:
            worker = None
            try:
                worker = AppWorker(queues, connection=connection)
                worker.work(with_scheduler=True, logging_level=app.config["LOG_LEVEL"])
            except redis.RedisError as exc:
                log.warning("redis unavailable (%s); retrying", exc.__class__.__name__)
            if worker is not None and worker.stopping:
                return
            time.sleep(2)  # Redis went away: the sweeper keeps draining the outbox meanwhile
    finally:
        stop.set()


if __name__ == "__main__":
    chosen = sys.argv[1:] or list(QUEUE_NAMES)
    unknown = set(chosen) - set(QUEUE_NAMES)
    if unknown:
        sys.exit(f"unknown queue(s): {', '.join(sorted(unknown))}; choose from {QUEUE_NAMES}")
    main(chosen)
