"""The API's own error handlers: everything becomes {"error": {"code", "message", "fields"}}."""
from werkzeug.exceptions import HTTPException

from webapp.extensions import db
from webapp.services.errors import N_, DomainError, Text
from webapp.web.errors import CODES, json_error
from webapp.web.i18n import api_wants_urdu, translate_error_body


class ValidationFailed(DomainError):
    """A request that does not match its schema (422, with a message per field)."""

    def __init__(self, fields):
        first = next(iter(fields.values()), "Invalid request.")
        super().__init__("invalid", N_("The request is not valid: %(first)s", first=first),
                         fields=fields)


def _field_name(loc):
    return ".".join(str(part) for part in loc) or "body"


def raise_validation_error(_req, _resp, error, _instance, _adapter):
    """spectree `before` hook: turn pydantic's error list into our envelope."""
    if error is None:
        return
    fields = {}
    for item in error.errors(include_url=False, include_input=False):
        cause = (item.get("ctx") or {}).get("error")
        ours = cause.args[0] if isinstance(cause, ValueError) and cause.args and \
            isinstance(cause.args[0], Text) else None
        fields.setdefault(_field_name(item["loc"]), ours or item["msg"])
    raise ValidationFailed(fields)


def handle_domain_error(error):
    """English by default; `message` and field messages in Urdu for Accept-Language: ur
    (codes and field names never change)."""
    db.session.rollback()
    message, fields = error.message, error.fields or None
    if api_wants_urdu():
        body = translate_error_body({"message": message, "fields": fields})
        message, fields = body["message"], body["fields"]
    return json_error(error.status, error.code, message, fields=fields, **error.details)


def handle_http_error(error):
    status = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers = headers if status in (405, 429) else {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return json_error(status, CODES.get(status, "error"), error.description or CODES.get(status),
                      headers=headers)


def register(bp):
    bp.register_error_handler(DomainError, handle_domain_error)
    bp.register_error_handler(HTTPException, handle_http_error)
