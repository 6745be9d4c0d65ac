"""Session login and logout for the pages."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from webapp.blueprints.auth import routes  # noqa: E402,F401
