"""GET /openapi.json: the OpenAPI 3.1 document spectree builds from the endpoint decorators."""
from flask import jsonify

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import public
from webapp.blueprints.api.spec import spec
from webapp.extensions import limiter


@bp.get("/openapi.json")
@public
@limiter.exempt
def openapi_document():
    """The API's contract, for people and for generated clients."""
    return jsonify(spec.spec)
