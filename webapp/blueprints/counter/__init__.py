"""The counter: a basket sale with line and bill totals, the receipt, void and returns."""
from flask import Blueprint

bp = Blueprint("counter", __name__)

from webapp.blueprints.counter import routes  # noqa: F401
