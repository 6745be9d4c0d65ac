"""Purchase orders: make them from low stock, share them with the supplier, receive against them."""
from flask import Blueprint

bp = Blueprint("purchasing", __name__, url_prefix="/purchasing")

from webapp.blueprints.purchasing import routes  # noqa: E402,F401
