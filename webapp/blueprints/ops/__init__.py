"""Operator endpoints: health and readiness."""
from flask import Blueprint

bp = Blueprint("ops", __name__)

from webapp.blueprints.ops import routes  # noqa: E402,F401
