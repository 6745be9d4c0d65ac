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
after every check; a poll that brings it back in the same signed session, for the same store
and query, while the version is unchanged, is answered 304 here, first of all hooks, with one
Redis round trip and no SQL. Anything else (no cookie, another session, a changed store, a
login older than REMEMBER_COOKIE_DURATION, Redis down) goes the whole way as before.

What a 304 tells is "what you were shown is still right": a user who lost the store since
learns nothing new, and the first change sends them through the checks.
"""
import hashlib
import hmac
import time

from flask import current_app, make_response, request, session

from webapp.services import lookup, stock_cache

ENDPOINT = "stock.stock_list"


def etag(version, login_id, store_id, query_string):
    """The list's ETag for this version, login, store and query."""
    message = f"{login_id}|{store_id}|".encode() + query_string
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return f"{version}-{hmac.new(key, message, hashlib.sha256).hexdigest()[:16]}"


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


def answer_unchanged():
    """before_request, first of all: 304 for a poll whose ETag still holds, else nothing."""
    if request.endpoint != ENDPOINT or not request.if_none_match:
        return None
    login_id = session.get("_user_id")
    if not login_id:
        return None
    try:
        issued = int(login_id.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return None
    max_age = current_app.config["REMEMBER_COOKIE_DURATION"].total_seconds()
    if not time.time() - max_age < issued <= time.time() + 60:
        return None
    store_id = request.view_args["store_id"]
    version = stock_cache.store_version(store_id)
    if version is None:
        return None
    tag = etag(version, login_id, store_id, request.query_string)
    if not matches(tag):
        return None
    response = not_modified(tag)
    # A logged-in answer (web/security.py would say so once the user was loaded).
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app):
    """Call once every other before_request hook is registered: this one goes first."""
    app.before_request_funcs.setdefault(None, []).insert(0, answer_unchanged)
