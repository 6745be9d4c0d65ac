"""One log line per request, tagged with a request id (X-Request-ID in and out), and its timing."""
import logging
import re
import secrets
import time
from urllib.parse import quote

from webapp.infra import metrics
from webapp.infra.current import request_globals, this_request

log = logging.getLogger("kiryana.request")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# The development server's own access line: `127.0.0.1 - - [30/Nov/2026 04:20:00] "GET / ...`.
WERKZEUG_ACCESS = re.compile(r'^\S+ - - \[[^\]]*\] "')


def _not_werkzeug_access(record):
    """Drop werkzeug's access line (ours says more); keep its start-up banner and errors."""
    return not (record.levelno == logging.INFO and WERKZEUG_ACCESS.match(str(record.msg)))


def _start():
    # Every request runs this and _finish: the objects behind the proxies (infra/current).
    wsgi = this_request().environ  # the request's: request.headers.get, directly
    incoming = wsgi.get("HTTP_X_REQUEST_ID", "")
    ctx = request_globals()
    # 32 random hex digits, as uuid4().hex without building a UUID object for it.
    ctx.request_id = incoming if REQUEST_ID.match(incoming) else secrets.token_hex(16)
    ctx.request_started = time.perf_counter()


def escape(text):
    """Control characters as escapes, so a %0a in a URL cannot start a forged log line."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


# What a logged path keeps as it is: everything printable but the space (and the %-escapes
# quote() writes), so "/x 200 1ms rid=… user=1" cannot pass for a line's own fields.
_PATH_SAFE = "/?&=:@!$'()*+,;-._~%[]"


def logged_path(full_path):
    """The request's path and query as one token: spaces, quotes and control characters
    %-escaped (Urdu and other letters too), so the fields after it are the line's own."""
    return quote(full_path, safe=_PATH_SAFE)


def _user(ctx):
    """The logged-in user's id, or the bearer token's user's; never loads a user just to log."""
    found = getattr(ctx.get("_login_user"), "id", None) or getattr(ctx.get("api_user"), "id", None)
    return found or "-"


def _finish(response):
    req, ctx = this_request(), request_globals()
    elapsed = time.perf_counter() - ctx.get("request_started", time.perf_counter())
    endpoint = req.url_rule.endpoint if req.url_rule else "unmatched"
    metrics.child(metrics.REQUEST_SECONDS, req.method, endpoint,
                  response.status_code).observe(elapsed)
    request_id = ctx.get("request_id", "-")
    response.headers["X-Request-ID"] = request_id
    log.info("%s %s %s %.1fms rid=%s user=%s ip=%s", escape(req.method),
             logged_path(req.full_path.rstrip("?")), response.status_code, elapsed * 1000,
             request_id, _user(ctx), escape(req.remote_addr))
    return response


def _lighter_records():
    """Records without the caller's file and line: finding the caller walks the stack on every
    line (the logging HOWTO's "Optimization"), and no format here prints them (they read
    "(unknown file)" and 0). The process and thread stay: gunicorn's own format prints
    `[%(process)d]`, which a record without its process cannot fill ("--- Logging error ---"
    543 times in one run, issue 23), and they cost a getpid and a thread lookup."""
    logging._srcfile = None


def init_app(app):
    if not app.testing:  # pytest's own log format prints the caller's file and line
        _lighter_records()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=app.config["LOG_LEVEL"],
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
    werkzeug = logging.getLogger("werkzeug")
    if _not_werkzeug_access not in werkzeug.filters:
        werkzeug.addFilter(_not_werkzeug_access)
    app.before_request(_start)
    app.after_request(_finish)
