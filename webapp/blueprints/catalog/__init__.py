"""The product catalog: everyone reads it, managers change it."""
from flask import Blueprint

bp = Blueprint("catalog", __name__, url_prefix="/products")

from webapp.blueprints.catalog import routes  # noqa: E402,F401
