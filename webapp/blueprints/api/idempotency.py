"""Idempotency-Key for every POST: a retry returns the first response; another body is 422."""
from flask import request

from webapp.blueprints.api.auth import actor
from webapp.blueprints.api.spec import json_response
from webapp.services import idempotency

REPLAYED = {"Idempotent-Replayed": "true"}


def request_key():
    """The request's Idempotency-Key, checked (400 when malformed), or None."""
    return idempotency.check_key(request.headers.get("Idempotency-Key"))


def ledger_response(result):
    """A LedgerResult as a JSON response; the ledger claimed the key itself."""
    return json_response(result.data, result.status_code, REPLAYED if result.replayed else None)


def run_once(payload, call):
    """Run call() -> (body, status) at most once per Idempotency-Key: the claim, the write and
    the stored response commit together (services/idempotency.run_once)."""
    key = request_key()
    if key is None:
        return call()
    body, status, replayed = idempotency.run_once(
        actor().scope, key, {"method": request.method, "path": request.path, "body": payload},
        call)
    return (body, status, REPLAYED) if replayed else (body, status)
