"""The live stock list's poll, answered before any session or ORM work when nothing changed.

Every phone with a store page open asks for its stock list every few seconds all day
(static/js/live.js), and almost every answer is "304, nothing changed". Through the whole
request (Flask-Login loading the user, the deactivated-session check, the store and its
membership from PostgreSQL, then the store's version from Redis) a 304 cost about as much
machine time as a sale, and at a few thousand shops the polls alone filled the machine
(`make bench-fleet`, docs/performance.md).

So the list's ETag is bound to who asked: the store's version (stock_cache.store_version, one
Redis round trip), the query, and an HMAC of the session's login (Flask-Login's alternative id
"user:generation:issued") and the store, under SECRET_KEY. The full view hands it out only
after every check; a poll that brings it back in the same signed session cookie, for the same
store and query, while the version is unchanged, is answered 304 by EarlyAnswer, a WSGI
middleware in front of Flask, with one Redis round trip and no SQL. Anything else (no cookie, a
bad signature, another session, a changed store, a login older than REMEMBER_COOKIE_DURATION,
Redis down) goes the whole way as before.

What a 304 tells is "what you were shown is still right": a user who lost the store since
learns nothing new, and the first change sends them through the checks.

The store page itself carries the ETag of the list it shows (`page_etag`), so even the first
poll of a visit is conditional: the query is compared as its sorted, non-empty parameters, not
as the bytes htmx happens to send (it adds the selected product, empty or not).
"""
import hashlib
import hmac
import re
import time
from urllib.parse import parse_qsl, urlencode

from flask import current_app, make_response, request, session
from itsdangerous import BadSignature
from werkzeug.http import parse_cookie, parse_etags

from webapp.infra import metrics
from webapp.services import lookup, stock_cache

ENDPOINT = "stock.stock_list"


def _query(query_string):
    """The poll's parameters in one spelling: sorted, the empty ones left out."""
    pairs = sorted((k, v) for k, v in parse_qsl(query_string.decode("latin-1")) if v)
    return urlencode(pairs).encode()


# Pakistan keeps UTC+5 all year (services/sql.day_of says the same).
PAKISTAN_OFFSET_SECONDS = 5 * 3600


def pakistan_day_number(now=None):
    """Today's Pakistan day as a number: cheap enough for every poll."""
    return int(((time.time() if now is None else now) + PAKISTAN_OFFSET_SECONDS) // 86400)


def etag(version, login_id, store_id, query_string, now=None):
    """The list's ETag for this version, login, store, query and Pakistan day: the list's
    expiry flags change at midnight with no stock changing, so a new day is a new list."""
    message = f"{login_id}|{store_id}|{pakistan_day_number(now)}|".encode() \
        + _query(query_string)
    return f"{version}-{sign(current_app, message)}"


def sign(app, message):
    """The HMAC-SHA256 of `message` (bytes) under the app's SECRET_KEY, hex, cut to 16."""
    key = app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def version_of(tag):
    """The store version an ETag was made for (the part before its signature)."""
    return tag.rsplit("-", 1)[0]


def matches(tag):
    """Whether the request's If-None-Match names `tag` (Flask-Compress tags a compressed
    answer's ETag with its algorithm, "…:gzip")."""
    return any(t.split(":", 1)[0] == tag for t in request.if_none_match)


def not_modified(tag):
    response = make_response("", 304)
    response.set_etag(tag)
    response.headers["Cache-Control"] = "no-cache"
    response.vary.add("HX-Request")
    return response


def current_etag(store_id):
    """The ETag for this request's login and store, with the version from Redis or else the
    database (lookup.levels_version)."""
    return etag(lookup.levels_version(store_id), session.get("_user_id", ""), store_id,
                request.query_string)


class EarlyAnswer:
    """WSGI middleware, outermost: 304 for a poll whose ETag still holds, before Flask builds a
    request (no request context, no hook, no URL matching, no session object: the bare
    cookie's signature is checked with the app's own serializer). Everything else, and every
    poll it cannot answer, goes on to the app unchanged. In /metrics its answers are counted
    under the list's endpoint like the view's."""

    PATH = re.compile(r"/stores/([0-9]{1,9})/stock")  # url_for("stock.stock_list"): a test checks

    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET" and "HTTP_IF_NONE_MATCH" in environ:
            match = self.PATH.fullmatch(environ.get("PATH_INFO", ""))
            if match:
                started = time.perf_counter()
                tag = self._unchanged(environ, int(match[1]))
                if tag is not None:
                    start_response("304 NOT MODIFIED", [
                        ("ETag", f'"{tag}"'), ("Cache-Control", "no-store"),
                        ("Vary", "HX-Request, Cookie")])
                    metrics.child(metrics.REQUEST_SECONDS, "GET", ENDPOINT, 304).observe(
                        time.perf_counter() - started)
                    return []
        return self.wsgi_app(environ, start_response)

    def _unchanged(self, environ, store_id):
        """The ETag if this poll's still holds, else None (then the app answers it)."""
        app = self.app
        login_id = session_login(app, environ)
        if login_id is None:
            return None
        with app.app_context():
            version = stock_cache.store_version(store_id)
            if version is None:
                return None
            tag = etag(version, login_id, store_id,
                       environ.get("QUERY_STRING", "").encode("latin-1"))
        sent = parse_etags(environ["HTTP_IF_NONE_MATCH"])
        if any(t.split(":", 1)[0] == tag for t in sent.as_set(include_weak=True)):
            return tag
        return None


def session_login(app, cookies):
    """The login id ("user:generation:issued") of the signed session cookie in `cookies` (a
    WSGI environ or a Cookie header), checked without Flask: signature, the session's max age
    and the login's own (_fresh); None when any fails."""
    cookie = parse_cookie(cookies).get(app.session_interface.get_cookie_name(app))
    if not cookie:
        return None
    serializer = app.session_interface.get_signing_serializer(app)
    if serializer is None:  # no SECRET_KEY: Flask has no sessions either
        return None
    try:
        data = serializer.loads(cookie,
                                max_age=int(app.permanent_session_lifetime.total_seconds()))
    except BadSignature:
        return None
    login_id = data.get("_user_id") if isinstance(data, dict) else None
    if not isinstance(login_id, str) or not _fresh(app, login_id):
        return None
    return login_id


def _fresh(app, login_id):
    """Whether the login in this alternative id is younger than REMEMBER_COOKIE_DURATION (the
    server's own limit, sessions.load_user)."""
    try:
        issued = int(login_id.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return False
    max_age = app.config["REMEMBER_COOKIE_DURATION"].total_seconds()
    return time.time() - max_age < issued <= time.time() + 60


def register(app):
    """Call last in create_app: the middleware goes outside every other."""
    app.wsgi_app = EarlyAnswer(app, app.wsgi_app)


def page_etag(store_id, args):
    """The ETag of the list a store page is about to show, for the poll that page will send
    (`args`: the list's own parameters and the selected product). Read before the levels are,
    so a change in between makes the first poll fetch the list rather than hide it."""
    return etag(lookup.levels_version(store_id), session.get("_user_id", ""), store_id,
                urlencode({k: v for k, v in args.items() if v}).encode())
