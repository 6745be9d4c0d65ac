"""The live stock list's push channel, seen from the app: where the store page's events are
(live.py serves them) and the token that lets one login follow one store.

A store page open all day polled its list every second or so (polls.py answers most of those
304, but each is still a request). With LIVE_URL set and Redis configured, the list's element
names an event stream instead (`data-events`) and the version it was read at (`data-version`):
the page refreshes its list when the stream announces another version, and polls only when the
stream is unavailable (static/js/live.js).

The token is what the events server checks besides the session cookie: an HMAC of the login
("user:generation:issued", the session's `_user_id`) and the store under SECRET_KEY, handed
out only by views that have checked the store is the user's. The events server cannot ask the
database who may see which store (no SQL per connection); a logout or a deactivation changes
the login's generation, and the stream, closed after LIVE_MAX_SECONDS, is not reopened.
"""
import hmac

from flask import current_app, session

from webapp.blueprints.stock import polls


def token(app, login_id, store_id):
    return polls.sign(app, f"live|{login_id}|{store_id}".encode())


def token_ok(app, login_id, store_id, given):
    return hmac.compare_digest(token(app, login_id, store_id), given)


def attributes(store_id, etag):
    """The list element's `live_events` URL and `live_version` for this login and store (the
    version the list's ETag was made for, read before the list), or nothing: without LIVE_URL
    or Redis the page polls as before. Call only after the store's access checks."""
    config = current_app.config
    if not (config["LIVE_URL"] and config["REDIS_URL"]):
        return {}
    login_id = session.get("_user_id", "")
    url = f"{config['LIVE_URL'].rstrip('/')}/stores/{store_id}/events" \
          f"?t={token(current_app, login_id, store_id)}"
    return {"live_events": url, "live_version": polls.version_of(etag)}
