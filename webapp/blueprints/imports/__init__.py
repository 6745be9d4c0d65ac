"""Bulk import pages: upload, dry run, confirm, progress, summary with the refused rows."""
from flask import Blueprint

bp = Blueprint("imports", __name__, url_prefix="/imports")

from webapp.blueprints.imports import routes  # noqa: E402,F401
