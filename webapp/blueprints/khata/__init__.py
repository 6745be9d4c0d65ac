"""The money pages: customers and their khata, the daily closing, what is owed to suppliers."""
from flask import Blueprint

bp = Blueprint("khata", __name__)

from webapp.blueprints.khata import routes  # noqa: E402,F401
