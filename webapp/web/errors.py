"""One place that turns errors into HTML pages, htmx toasts or the API's JSON envelope."""
from flask import current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp.extensions import db
from webapp.services.errors import N_, DomainError
from webapp.web.i18n import api_wants_urdu, translate, translate_error_body

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
         415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
         500: "internal_error", 503: "unavailable"}


# What a person reads on an error page, per status (werkzeug's own descriptions are English).
PAGE_MESSAGES = {
    400: N_("The request could not be understood. Go back and try again."),
    403: N_("You are not allowed to do that"),
    404: N_("This page does not exist, or it is not yours to see."),
    405: N_("This page cannot be used that way."),
    413: N_("What you sent is too large."),
    429: N_("Too many requests. Wait a minute, then try again."),
    500: N_("Something went wrong on our side. Please try again."),
    503: N_("The service is busy or down for a moment. Please try again."),
}


def wants_json():
    return request.path.startswith("/api/")


def json_error(status, code, message, fields=None, headers=None, **details):
    body = {"code": code, "message": message, **details}
    if fields:
        body["fields"] = fields
    response = jsonify({"error": body})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _html_error(status, message):
    return render_template("error.html", status=status, message=translate(message)), status


html_error = _html_error


def handle_domain_error(error):
    db.session.rollback()
    if wants_json():
        body = error.to_dict()
        if api_wants_urdu():
            body = {"error": translate_error_body(body["error"])}
        response = jsonify(body)
        response.status_code = error.status
        return response
    return _html_error(error.status, error.message)


def handle_http_error(error):
    status = error.code or 500
    message = error.description or CODES.get(status, "error")
    headers = dict(error.get_headers()) if status in (405, 429) else {}
    headers.pop("Content-Type", None)
    if wants_json():
        return json_error(status, CODES.get(status, "error"), message, headers=headers)
    if message == type(error).description or not isinstance(message, str):
        message = PAGE_MESSAGES.get(status, message)
    body, status = _html_error(status, message)
    return body, status, headers


def handle_csrf_error(error):
    message = N_("Your form expired or was sent from elsewhere. Reload the page and try again.")
    if wants_json():
        return json_error(400, "csrf_failed", message)
    return _html_error(400, message)


def handle_unexpected(error):
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    db.session.rollback()
    if wants_json():
        return json_error(500, "internal_error", "Something went wrong on our side.")
    return _html_error(500, PAGE_MESSAGES[500])


def register_error_handlers(app):
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    if not app.debug:
        app.register_error_handler(Exception, handle_unexpected)
