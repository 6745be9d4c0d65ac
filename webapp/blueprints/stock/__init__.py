"""Stock work in a store: the shopkeeper's home, counts, transfers and the movement history."""
from flask import Blueprint

bp = Blueprint("stock", __name__)

from webapp.blueprints.stock import count, expiring, routes, rows  # noqa: E402,F401
