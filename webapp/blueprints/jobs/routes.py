from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _

from webapp.blueprints.jobs import bp
from webapp.jobs import admin as job_admin
from webapp.services import audit
from webapp.web import access
from webapp.web.access import page_permission


@bp.get("/")
@page_permission("jobs.manage")
def index():
    """Queues, failed jobs with their last error line, and recent sync batches."""
    return render_template("jobs/index.html", **job_admin.overview())


@bp.post("/<queue>/<job_id>/retry")
@page_permission("jobs.manage")
def retry(queue, job_id):
    """Requeue one failed job."""
    job_admin.retry(queue, job_id)
    audit.record_now(access.actor(), "job.retry", "rq_job", job_id, after={"queue": queue})
    flash(_("Job %(id)s is queued again.", id=job_id), "info")
    return redirect(url_for("jobs.index"))
