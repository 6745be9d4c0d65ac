"""Manager reports: pages with charts, and CSV exports."""
from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")

from webapp.blueprints.reports import routes  # noqa: E402,F401
