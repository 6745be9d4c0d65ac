"""Bearer-token authentication and the caller's identity for API views."""
import hashlib
from functools import wraps

from flask import abort, current_app, g, request
from flask_limiter.util import get_remote_address

from webapp import access
from webapp.services import accounts, audit
from webapp.services.errors import Forbidden, NotFound

PUBLIC = "_api_public"


def public(view):
    """Mark a view as callable without a token (only /auth/token is)."""
    setattr(view, PUBLIC, True)
    return view


def bearer_token():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def authenticate():
    """before_request: every non-public endpoint needs a live token (else 401)."""
    view = current_app.view_functions.get(request.endpoint)
    if view is None or getattr(view, PUBLIC, False):
        return
    user = accounts.user_for_token(bearer_token())
    if user is None:
        abort(401, description="Send a valid token: Authorization: Bearer <token>.")
    g.api_user = user


def rate_limit_key():
    """Rate limits count per token (hashed, never stored); without one, per IP."""
    token = bearer_token()
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:24]
    return "ip:" + (get_remote_address() or "unknown")


def api_user():
    return g.api_user


def actor():
    """The audit Actor for this request: the token's user, source "api", the client's IP."""
    return audit.Actor(g.api_user.id, "api", request.remote_addr)


def roles_required(*roles):
    """View decorator: the token's user must have one of these roles (else 403)."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.api_user.role not in roles:
                raise Forbidden("Your role may not do this.")
            return view(*args, **kwargs)
        return wrapped
    return decorator


managers_only = roles_required(*access.MANAGERS)
admins_only = roles_required("admin")


def store_or_404(store_id):
    """The store if this user may see it; another shop looks exactly like a missing one."""
    return access.get_store_or_404(store_id, g.api_user)


def check_store(store_id, field="store_id"):
    """404 (on `field`) unless the user may see this store; does not load it."""
    if not access.can_see_store(g.api_user, store_id):
        raise NotFound("Store", field=field)
