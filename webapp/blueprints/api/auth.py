"""Bearer-token authentication and the caller's identity for API views.

Its hooks read Flask's context through infra/current (the objects behind the proxies)."""
import hashlib
import threading
import time
from functools import wraps

from flask import abort, g
from flask_limiter.util import get_remote_address

from webapp.infra.current import app_config, request_globals, this_app, this_request
from webapp.services import accounts, policy
from webapp.services.errors import Forbidden, NotFound

PUBLIC = "_api_public"


def public(view):
    """Mark a view as callable without a token (/auth/token and /openapi.json)."""
    setattr(view, PUBLIC, True)
    return view


def bearer_token():
    header = this_request().headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class TokenCache:
    """token hash → Principal for a few seconds, so a request does not pay three queries to
    authenticate. A revoked or expired token, or a deactivated user, is refused within
    API_TOKEN_CACHE_SECONDS (per worker process); 0 turns the cache off.

    One lookup per token at a time (`lookup_lock`): when an entry expired under load, every
    thread of a worker missed it at once and each paid the same ORM queries (4 % of a sale's
    CPU under gunicorn in bench/profile-sale_random.txt, for one token)."""

    MAX_ENTRIES = 10_000
    STRIPES = 64

    def __init__(self):
        self._entries = {}
        self._locks = [threading.Lock() for _ in range(self.STRIPES)]

    def lookup_lock(self, key):
        """The lock a miss on `key` (a sha256 digest) takes before looking the token up."""
        return self._locks[key[0] % self.STRIPES]

    def get(self, key):
        entry = self._entries.get(key)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, key, principal, seconds):
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (principal, time.monotonic() + seconds)

    def clear(self):
        self._entries.clear()


token_cache = TokenCache()


def principal_for(token):
    """The Principal behind a live token, or None (cached for API_TOKEN_CACHE_SECONDS)."""
    if not token:
        return None
    seconds = app_config()["API_TOKEN_CACHE_SECONDS"]
    if not seconds:
        return _look_up(token)
    key = hashlib.sha256(token.encode()).digest()
    principal = token_cache.get(key)
    if principal is None:
        with token_cache.lookup_lock(key):
            principal = token_cache.get(key)  # another thread may have just looked it up
            if principal is None:
                principal = _look_up(token)
                if principal is not None:
                    token_cache.put(key, principal, seconds)
    return principal


def _look_up(token):
    user = accounts.user_for_token(token)
    return None if user is None else policy.Principal.of(user)


def is_public():
    """Whether this request's endpoint needs no token (or matched no endpoint at all); asked
    once per request (identify keeps the answer for the rate limit and authenticate)."""
    req = this_request()
    known = getattr(req, "api_public", None)  # on the request, not g: a test's app context
    if known is None:                         # can outlive one request
        view = this_app().view_functions.get(req.endpoint)
        known = req.api_public = view is None or getattr(view, PUBLIC, False)
    return known


def identify():
    """before_request: the token's Principal in g.api_user (None when there is no live one)."""
    request_globals().api_user = None if is_public() else principal_for(bearer_token())


def authenticate():
    """before_request, after the rate limit: every non-public endpoint needs a live token."""
    if not is_public() and request_globals().api_user is None:
        abort(401, description="Send a valid token: Authorization: Bearer <token>.")


def rate_limit_key():
    """Rate limits count per user, however many tokens they mint; without one, per IP."""
    principal = request_globals().get("api_user")
    if principal is not None:
        return f"user:{principal.id}"
    return "ip:" + (get_remote_address() or "unknown")


def api_user():
    return request_globals().api_user


def actor():
    """The Actor for this request: the token's user (role and stores, for the handler's
    authorization), source "api", the client's IP."""
    return policy.actor_for(request_globals().api_user, "api",
                            this_request().remote_addr)


def api_permission(permission):
    """API decorator: the token's user must hold `permission` in services/policy.py (else 403
    forbidden). The view keeps the name of its permission (`view.permission`), which
    tests/test_policy_table.py reads."""
    policy.PERMISSIONS[permission]  # a misspelt permission fails at import, not at request

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not policy.can(g.api_user, permission):
                raise Forbidden("Your role may not do this.")
            return view(*args, **kwargs)
        wrapped.permission = permission
        return wrapped
    return decorator


def store_or_404(store_id):
    """The store if this user may see it; another shop looks exactly like a missing one."""
    return policy.get_store_or_404(store_id, g.api_user)


def check_store(store_id, field="store_id"):
    """404 (on `field`) unless the user may see this store; does not load it."""
    if not policy.can_see_store(g.api_user, store_id):
        raise NotFound("Store", field=field)
