from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from webapp.access import permission_required
from webapp.blueprints.jobs import bp
from webapp.services import audit, job_admin


@bp.get("/")
@permission_required("jobs.manage")
def index():
    """Queues, failed jobs with their last error line, and recent sync batches."""
    return render_template("jobs/index.html", **job_admin.overview())


@bp.post("/<queue>/<job_id>/retry")
@permission_required("jobs.manage")
def retry(queue, job_id):
    """Requeue one failed job."""
    job_admin.retry(queue, job_id)
    audit.record_now(audit.Actor(current_user.id, "web", request.remote_addr), "job.retry", "rq_job", job_id,
                     after={"queue": queue})
    flash(f"Job {job_id} is queued again.", "info")
    return redirect(url_for("jobs.index"))
