"""Sessions that end on the server.

Sessions are signed cookies, so the server cannot delete one; instead every session and
remember cookie carries Flask-Login's *alternative id* "user:generation:issued". The user row's
`session_generation` moves on at logout, "log out everywhere", a password, role or active
change, and a cookie made under an older generation no longer loads a user. `issued` is when
the password was typed: a session or remember cookie older than REMEMBER_COOKIE_DURATION is
refused by the server, whatever the browser keeps.

Creating an API token asks for the password every time (blueprints/admin/routes.py).
"""
import time

from flask import current_app, g, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import login_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload

from webapp.extensions import db
from webapp.models import User

MAX_ID = 2**31 - 1


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus building the signer for requests that carry no
    session cookie (every API call with a bearer token, /healthz): an empty session needs no
    signature checked. About a tenth of a /healthz's CPU under gunicorn (docs/performance.md)."""

    def open_session(self, app, request):
        if app.secret_key and self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def cookie_id(user, issued=None):
    """The alternative id for a login of this user made at `issued` (now by default)."""
    user.login_issued = int(time.time() if issued is None else issued)
    return user.get_id()


# Built once: Session.get built this statement and its cache key again on every logged-in
# request.
USER_WITH_STORES = select(User).options(joinedload(User.stores)).where(User.id == bindparam("uid"))


def load_user(user_id):
    """Flask-Login's user_loader: the user if the id's generation and age are still good."""
    try:
        uid, generation, issued = (int(part) for part in str(user_id).split(":"))
    except ValueError:
        return None
    if not 0 < uid <= MAX_ID:
        return None
    max_age = current_app.config["REMEMBER_COOKIE_DURATION"].total_seconds()
    if not time.time() - max_age < issued <= time.time() + 60:
        return None
    # Its stores in the same statement: every page asks them (policy.can_see_store), and the
    # relationship's own selectin load was a second query on every logged-in request.
    user = db.session.execute(USER_WITH_STORES, {"uid": uid}).unique().scalar_one_or_none()
    if user is None or user.session_generation != generation or not user.active:
        return None
    user.login_issued = issued
    return user


def start(user, remember=False):
    """Log the user in after a password check, with a new CSRF secret."""
    user.login_issued = int(time.time())
    # A new CSRF secret at login, not one planted before it (and not the one cached in g).
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)
    login_user(user, remember=remember)
