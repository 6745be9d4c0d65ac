"""GET /openapi.json: the OpenAPI 3.1 document spectree builds from the endpoint decorators."""
import copy
import re
from functools import cache

from flask import current_app, jsonify

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import public
from webapp.blueprints.api.spec import spec
from webapp.extensions import limiter
from webapp.services.idempotency import MAX_KEY_LENGTH


# POSTs that claim no Idempotency-Key: a token is a new one each time, an upload is checked
# into a job of its own, and confirming a job twice is harmless.
KEYLESS_POSTS = {"/api/v1/auth/token", "/api/v1/imports", "/api/v1/imports/{job_id}/confirm"}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": f"Up to {MAX_KEY_LENGTH} printable characters, unique per write (a UUID). "
                   "A retry with the "
                   "same key and body answers the first response again (header "
                   "Idempotent-Replayed: true) and writes nothing; the same key with another "
                   "body is 422 idempotency_key_reused.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}

# On every answer counted against a token (not on public operations, nor with limits off).
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed in the current window (API_RATE_LIMIT).",
    "X-RateLimit-Remaining": "Requests left in the window; never more than the truth.",
    "X-RateLimit-Reset": "When the window ends, in Unix seconds.",
}


def _headers():
    headers = {name: {"description": text, "schema": {"type": "integer"}}
               for name, text in RATE_LIMIT_HEADERS.items()}
    headers["Retry-After"] = {"description": "Seconds to wait before trying again.",
                              "schema": {"type": "integer"}}
    return headers


@cache
def document():
    """spectree's document, with what its decorators cannot say: a request body that has no
    required field is optional (such a write takes no body at all, hooks.require_json_body,
    and a generated client lets the caller leave it out), and the writes that take an
    Idempotency-Key say so (a generated client then has a parameter for it); each operation's
    id is its view's name (complete_sale, void_sale), so a generated client's functions are;
    the rate-limit headers (limits.add_headers) are on every counted answer."""
    built = copy.deepcopy(spec.spec)
    views = {(method.lower(), re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)):
             rule.endpoint.removeprefix("api.")
             for rule in current_app.url_map.iter_rules() if rule.endpoint.startswith("api.")
             for method in rule.methods}
    schemas = built["components"]["schemas"]
    built["components"]["parameters"] = {"IdempotencyKey": IDEMPOTENCY_KEY}
    built["components"]["headers"] = _headers()
    counted = {name: {"$ref": f"#/components/headers/{name}"} for name in RATE_LIMIT_HEADERS}
    for path, operations in built["paths"].items():
        if "post" in operations and path not in KEYLESS_POSTS:
            operations["post"].setdefault("parameters", []).append(
                {"$ref": "#/components/parameters/IdempotencyKey"})
        for method, operation in operations.items():
            if (method, path) in views:
                operation["operationId"] = views[method, path]
            if operation.get("security") != []:  # public operations are not counted
                for status, response in operation.get("responses", {}).items():
                    response["headers"] = dict(counted, **(
                        {"Retry-After": {"$ref": "#/components/headers/Retry-After"}}
                        if status == "429" else {}))
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body or set(body["content"]) != {"application/json"}:
                continue
            ref = body["content"]["application/json"]["schema"].get("$ref", "")
            if not schemas.get(ref.rsplit("/", 1)[-1], {"required": True}).get("required"):
                body["required"] = False
    return built


@bp.get("/openapi.json")
@public
@limiter.exempt
def openapi_document():
    """The API's contract, for people and for generated clients."""
    return jsonify(document())
