"""The store list every user starts from, and store setup for managers."""
from flask import Blueprint

bp = Blueprint("stores", __name__, url_prefix="/stores")

from webapp.blueprints.stores import routes  # noqa: E402,F401
