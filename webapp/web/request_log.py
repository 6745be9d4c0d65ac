"""One log line per request, tagged with a request id (X-Request-ID in and out), and its timing."""
import logging
import re
import secrets
import time

from flask import g, request

from webapp.infra import metrics

log = logging.getLogger("kiryana.request")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# The development server's own access line: `127.0.0.1 - - [30/Nov/2026 04:20:00] "GET / ...`.
WERKZEUG_ACCESS = re.compile(r'^\S+ - - \[[^\]]*\] "')


def _not_werkzeug_access(record):
    """Drop werkzeug's access line (ours says more); keep its start-up banner and errors."""
    return not (record.levelno == logging.INFO and WERKZEUG_ACCESS.match(str(record.msg)))


def _start():
    incoming = request.headers.get("X-Request-ID", "")
    # 32 random hex digits, as uuid4().hex without building a UUID object for it.
    g.request_id = incoming if REQUEST_ID.match(incoming) else secrets.token_hex(16)
    g.request_started = time.perf_counter()


def escape(text):
    """Control characters as escapes, so a %0a in a URL cannot start a forged log line."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _finish(response):
    elapsed = time.perf_counter() - g.get("request_started", time.perf_counter())
    endpoint = request.url_rule.endpoint if request.url_rule else "unmatched"
    metrics.REQUEST_SECONDS.labels(request.method, endpoint, response.status_code).observe(elapsed)
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    user = getattr(g.get("_login_user"), "id", None) or "-"  # never loads a user just to log
    log.info("%s %s %s %.1fms rid=%s user=%s ip=%s", escape(request.method),
             escape(request.full_path.rstrip("?")), response.status_code, elapsed * 1000,
             g.get("request_id", "-"), user, escape(request.remote_addr))
    return response


def _lighter_records():
    """Records without the caller's file and line, thread, process and multiprocessing names:
    no format here prints them, and finding the caller walks the stack on every line (the
    logging HOWTO's "Optimization"; a line costs a third as much, on every request)."""
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False


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
