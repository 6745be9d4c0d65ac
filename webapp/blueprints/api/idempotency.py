"""Idempotency-Key for every POST: a retry returns the first response; another body is 422."""
from flask import request

from webapp.blueprints.api.auth import actor
from webapp.blueprints.api.spec import json_response
from webapp.extensions import db
from webapp.services import idempotency
from webapp.services.errors import Conflict

REPLAYED = {"Idempotent-Replayed": "true"}


def request_key():
    """The request's Idempotency-Key, checked (400 when malformed), or None."""
    return idempotency.check_key(request.headers.get("Idempotency-Key"))


def ledger_response(result):
    """A LedgerResult as a JSON response; the ledger claimed the key itself."""
    return json_response(result.data, result.status_code, REPLAYED if result.replayed else None)


def run_once(payload, call):
    """Run call() -> (body, status) at most once per Idempotency-Key.

    The key is claimed in the session's transaction, which the service's own commit then
    commits together with its write; the response is stored right after.
    """
    key = request_key()
    if key is None:
        return call()
    scope = actor().scope
    fingerprint = idempotency.fingerprint(
        {"method": request.method, "path": request.path, "body": payload})
    replay = idempotency.claim(db.session.connection(), scope, key, fingerprint)
    if replay is not None:
        db.session.rollback()
        if replay.status_code is None:
            raise Conflict("idempotency_in_progress",
                           "A request with this Idempotency-Key is still being processed.")
        return replay.response, replay.status_code, REPLAYED
    body, status = call()
    idempotency.complete(db.session.connection(), scope, key, status, body)
    db.session.commit()
    return body, status
