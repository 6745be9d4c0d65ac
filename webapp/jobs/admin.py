"""What admins see of the background queues: depth, failed jobs (with their error), retry."""
import redis
from rq.job import Job
from sqlalchemy import select

from webapp.extensions import db
from webapp.infra import redisconn
from webapp.infra.queue import QUEUE_NAMES, get_queue
from webapp.models import SyncJob
from webapp.services import integrity
from webapp.services.errors import NotFound

FAILED_SHOWN = 50


def overview():
    """{"queues": [...], "available": bool, "sync_jobs": [...]}; queues are empty without Redis."""
    queues, available = [], True
    for name in QUEUE_NAMES:
        queue = get_queue(name)
        if getattr(queue, "is_inline", False):
            queues.append({"name": name, "queued": 0, "failed": 0, "failed_jobs": []})
            continue
        try:
            registry = queue.failed_job_registry
            ids = registry.get_job_ids(0, FAILED_SHOWN - 1)
            jobs = [job for job in Job.fetch_many(ids, connection=queue.connection) if job]
            queues.append({"name": name, "queued": len(queue), "failed": registry.count,
                           "failed_jobs": [_failed(job) for job in jobs]})
        except redis.RedisError as exc:
            redisconn.failed(exc)
            available = False
            break
    recent = db.session.execute(select(SyncJob).order_by(SyncJob.created_at.desc())
                                .limit(20)).scalars().all()
    violations, since, checked_at = integrity.watch_summary(db.session.connection())
    db.session.commit()
    return {"queues": queues, "available": available, "inline": not redisconn.configured(),
            "sync_jobs": recent, "ledger": {"violations": violations, "since": since,
                                           "checked_at": checked_at}}


def _failed(job):
    error = (job.exc_info or "").strip().splitlines()
    return {"id": job.id, "function": job.func_name, "args": job.args,
            "ended_at": job.ended_at, "error": error[-1] if error else "",
            "traceback": "\n".join(error[-12:])}


def retry(queue_name, job_id):
    """Put a failed job back on its queue."""
    if queue_name not in QUEUE_NAMES:
        raise NotFound("Queue")
    queue = get_queue(queue_name)
    registry = getattr(queue, "failed_job_registry", None)
    if registry is None or job_id not in registry.get_job_ids():
        raise NotFound("Failed job")
    registry.requeue(job_id)
