"""The audit log page: who changed what, when, from where (admins and managers)."""
from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/audit")

from webapp.blueprints.audit import routes  # noqa: E402,F401
