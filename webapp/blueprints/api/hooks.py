"""Request checks shared by every endpoint: rate limit, bearer auth, JSON bodies."""
from flask import abort, request
from werkzeug.exceptions import BadRequest

from webapp.blueprints.api import limits
from webapp.blueprints.api.auth import authenticate, identify
from webapp.extensions import csrf
from webapp.services.errors import NotFound

MAX_ID = 2**31 - 1
BODY_METHODS = ("POST", "PUT", "PATCH")
# Endpoints that take a file upload (multipart/form-data) or no body at all, instead of JSON.
MULTIPART_ENDPOINTS = {"api.create_import"}
BODYLESS_ENDPOINTS = {"api.confirm_import"}


def require_json_body():
    """415 unless the body is JSON; 400 when it does not parse (413 comes from Werkzeug)."""
    if request.method not in BODY_METHODS:
        return
    if request.endpoint in MULTIPART_ENDPOINTS:
        if request.mimetype != "multipart/form-data":
            abort(415, description="Send the file as multipart/form-data.")
        return
    if request.endpoint in BODYLESS_ENDPOINTS and not request.content_length:
        return
    if request.mimetype != "application/json":
        abort(415, description="Send the body as JSON with Content-Type: application/json.")
    try:
        request.get_json()
    except BadRequest:
        abort(400, description="The body is not valid JSON.")


def reject_out_of_range_ids(_endpoint, values):
    """An id no database column can hold is simply not found (not a 500 from the driver)."""
    if any(isinstance(v, int) and v > MAX_ID for v in (values or {}).values()):
        raise NotFound("Resource")


def register(bp):
    csrf.exempt(bp)
    bp.url_value_preprocessor(reject_out_of_range_ids)
    bp.before_request(identify)
    bp.before_request(limits.enforce)
    bp.before_request(authenticate)
    bp.before_request(require_json_body)
