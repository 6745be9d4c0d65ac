"""The language switch: one POST that sets the user's setting (or, before login, a cookie)."""
from flask import Blueprint

bp = Blueprint("language", __name__)

from webapp.blueprints.language import routes  # noqa: E402,F401
