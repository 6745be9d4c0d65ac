"""Background jobs for admins: queue depth, failed jobs and their errors, retry, sync batches."""
from flask import Blueprint

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")

from webapp.blueprints.jobs import routes  # noqa: E402,F401
