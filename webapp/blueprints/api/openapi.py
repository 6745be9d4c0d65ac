"""GET /openapi.json: the OpenAPI 3.1 document spectree builds from the endpoint decorators."""
import copy
from functools import cache

from flask import jsonify

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import public
from webapp.blueprints.api.spec import spec
from webapp.extensions import limiter


@cache
def document():
    """spectree's document, with a request body that has no required field marked optional:
    such a write takes no body at all (hooks.require_json_body), and a generated client then
    lets the caller leave it out."""
    built = copy.deepcopy(spec.spec)
    schemas = built["components"]["schemas"]
    for operations in built["paths"].values():
        for operation in operations.values():
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
