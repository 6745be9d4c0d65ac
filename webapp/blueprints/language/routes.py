from urllib.parse import urlsplit

from flask import abort, redirect, request
from flask_login import current_user

from webapp.blueprints.language import bp
from webapp.services import accounts
from webapp.web.i18n import LANGUAGES, remember_language


def _back(target):
    """Back to the page the switch was on: a path on this site only."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") \
            or target.startswith("//"):
        return "/"
    return target


@bp.post("/language")
def switch():
    """Switch the interface language (a plain form, CSRF-checked; works without JavaScript)."""
    language = request.form.get("lang")
    if language not in LANGUAGES:
        abort(400)
    if current_user.is_authenticated:
        accounts.set_language(current_user.id, language)
    return remember_language(redirect(_back(request.form.get("next")), 303), language)
