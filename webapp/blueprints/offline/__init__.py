"""The installable app: manifest, service worker, and the doors the offline queue replays into."""
from flask import Blueprint

bp = Blueprint("offline", __name__)

from webapp.blueprints.offline import routes  # noqa: E402,F401
