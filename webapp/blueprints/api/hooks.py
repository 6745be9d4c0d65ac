"""Request checks shared by every endpoint: rate limit, bearer auth, JSON bodies; and the
browser extensions' app-wide hooks, which API requests skip."""
from functools import wraps

from flask import abort
from werkzeug.exceptions import BadRequest

from webapp.infra.current import this_app, this_request
from webapp.blueprints.api import limits
from webapp.blueprints.api.auth import authenticate, identify
from webapp.blueprints.api.spec import body_is_optional
from webapp.extensions import compress, csrf
from webapp.services.errors import NotFound

MAX_ID = 2**31 - 1
BODY_METHODS = ("POST", "PUT", "PATCH")
# Endpoints that take a file upload (multipart/form-data) or no body at all, instead of JSON.
MULTIPART_ENDPOINTS = {"api.create_import"}
BODYLESS_ENDPOINTS = {"api.confirm_import"}


def _empty_body(req):
    return not req.content_length and "Transfer-Encoding" not in req.headers


def require_json_body():
    """415 unless the body is JSON; 400 when it does not parse (413 comes from Werkzeug).
    A write whose body has no required field takes no body, or an empty one with any
    Content-Type or none, as `{}`."""
    req = this_request()
    if req.method not in BODY_METHODS:
        return
    if _empty_body(req) and body_is_optional(
            this_app().view_functions.get(req.endpoint)):
        return
    if req.endpoint in MULTIPART_ENDPOINTS:
        if req.mimetype != "multipart/form-data":
            abort(415, description="Send the file as multipart/form-data.")
        return
    if req.endpoint in BODYLESS_ENDPOINTS and not req.content_length:
        return
    if req.mimetype != "application/json":
        abort(415, description="Send the body as JSON with Content-Type: application/json.")
    try:
        req.get_json()
    except BadRequest:
        abort(400, description="The body is not valid JSON.")


def reject_out_of_range_ids(_endpoint, values):
    """An id no database column can hold is simply not found (not a 500 from the driver)."""
    if any(isinstance(v, int) and v > MAX_ID for v in (values or {}).values()):
        raise NotFound("Resource")


def register(bp):
    csrf.exempt(bp)
    bp.url_value_preprocessor(reject_out_of_range_ids)
    bp.before_request(identify)
    bp.before_request(limits.enforce)
    bp.before_request(authenticate)
    bp.before_request(require_json_body)
    bp.after_request(limits.add_headers)


# App-wide hooks that only concern browsers: Flask-Login refreshing its remember cookie (an API
# request authenticates by bearer token and never logs a session in or out; its check also read
# the session and so added `Vary: Cookie`), Flask-WTF's CSRF check (the blueprint is exempt, so
# it only looked that up) and Flask-Limiter's rate-limit headers (no API view carries a
# Flask-Limiter limit: the API counts in limits.py and writes the same headers from its count).
# Together 7-8 % of a cached level read's CPU under gunicorn (bench.compare). Flask-Compress
# too: it gzips only pages and their assets (config.COMPRESS_MIMETYPES; JSON is nginx's), yet
# parsed every request's Accept-Encoding and added `Vary: Accept-Encoding` to JSON it never
# compresses.
# The operator's endpoints (/healthz, /readyz, /metrics: a load balancer's or a scraper's, never a
# browser's, and never a POST) skip them too: `make bench`'s ceiling is /healthz, which must do
# the same work outside its view as the API requests it is set beside.
BROWSER_ONLY_HOOKS = ("_update_remember_cookie", "csrf_protect", "__inject_headers")
NOT_BROWSER_BLUEPRINTS = ("api", "ops")


def _not_on_api(hook):
    @wraps(hook)
    def for_pages_only(*args):
        if this_request().blueprint in NOT_BROWSER_BLUEPRINTS:
            return args[0] if args else None  # an after_request hook hands the response on
        return hook(*args)
    return for_pages_only


def skip_browser_hooks(app):
    """Call once the extensions have registered their hooks."""
    for hooks in (app.before_request_funcs[None], app.after_request_funcs[None]):
        for i, hook in enumerate(hooks):
            # Flask-Limiter's hook is a functools.partial: its function carries the name.
            if getattr(getattr(hook, "func", hook), "__name__", "") in BROWSER_ONLY_HOOKS \
                    or getattr(hook, "__self__", None) is compress:
                hooks[i] = _not_on_api(hook)
