"""One guard at the door for hostile input, before any view, form or schema sees it.

Each check turns input the database or the parser would choke on into a clear 4xx instead of
a 500 and a traceback: PostgreSQL refuses NUL bytes in text and integers past bigint, Python's
json recurses once per nesting level, and control characters forge lines in logs.

- text: no C0/C1 control character (tab, newline and carriage return allowed in bodies), no
  lone surrogate, in the path, any query or form parameter (names too) or any JSON string;
- JSON: at most MAX_JSON_BYTES, nested at most MAX_JSON_DEPTH deep (counted on the raw bytes
  before parsing), integers within ±2^53;
- integer parameters (`page`, `per_page`, `*_id`, …) within a 32-bit id, and `<int:…>` URL
  parts too (a larger id is simply not found);
- an uploaded file's name: no control character (PostgreSQL refuses a NUL in the job's
  filename).

The bulk-import uploads get their own size limit (IMPORT_MAX_BYTES) here, before the form is
read: reading it under MAX_CONTENT_LENGTH first would refuse a file the import allows.

A refusal is answered here, before any blueprint's hooks or error handlers run (they may
expect a logged-in user): 422 with the usual error page, or the API's envelope naming the field.
"""
import re

from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from webapp.infra.current import app_config, this_request
from webapp.web.errors import html_error, json_error, wants_json

# C0 controls except tab/newline/CR, DEL, C1 controls, and lone surrogates (from JSON "\ud800").
_CONTROL_IN_BODY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_ANYWHERE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_DIGITS = re.compile(r"^\s*[+-]?\d+\s*$")
MAX_ID = 2**31 - 1
MAX_JSON_INT = 2**53
INTEGER_PARAMS = frozenset(("page", "per_page", "cover_days", "ttl_days", "product", "user",
                            "limit", "offset", "days"))
# Every byte but the four that nest, for bytes.translate(None, delete=...).
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class Refused(Exception):
    def __init__(self, field, message):
        super().__init__(message)
        self.field, self.message = field or "body", message


def _refuse(field, message):
    raise Refused(field, message)


def _check_text(field, value, pattern=_CONTROL_ANYWHERE):
    if isinstance(value, str) and pattern.search(value):
        _refuse(field, f"{field or 'The request'} contains a control character.")


def _is_integer_param(name):
    return name in INTEGER_PARAMS or name.endswith("_id") or name == "id"


def _too_big(digits):
    digits = digits.strip().lstrip("+-").lstrip("0")
    # Compared as text first: int() refuses strings of more than 4,300 digits.
    return len(digits) > len(str(MAX_ID)) or (digits != "" and int(digits) > MAX_ID)


def _check_params(params, pattern):
    for name, value in params.items(multi=True):
        _check_text(name, name)
        _check_text(name, value, pattern)
        if _is_integer_param(name) and _DIGITS.match(value) and _too_big(value):
            _refuse(name, f"{name} is out of range.")


def json_depth(raw):
    """How deep a JSON document nests, read from its bytes (strings skipped), without parsing."""
    depth = deepest = 0
    for byte in _JSON_STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS):
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _walk(value, path, max_depth, depth=0):
    if depth > max_depth:
        _refuse(path, "The JSON body is nested too deeply.")
    if isinstance(value, str):
        _check_text(path, value, _CONTROL_IN_BODY)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > MAX_JSON_INT:
            _refuse(path, f"{path or 'A number'} is too large.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, key)
            _walk(item, f"{path}.{key}" if path else key, max_depth, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}.{index}" if path else str(index), max_depth, depth + 1)


def _check_json(req, config):
    raw = req.get_data(cache=True)
    if len(raw) > config["MAX_JSON_BYTES"]:
        raise RequestEntityTooLarge()
    max_depth = config["MAX_JSON_DEPTH"]
    # A document cannot nest deeper than it has brackets: counting them (in C) spares the
    # scan for nearly every body (1.7 % of a sale's CPU under load).
    if raw.count(b"{") + raw.count(b"[") > max_depth and json_depth(raw) > max_depth:
        _refuse("body", f"The JSON body may nest at most {max_depth} levels.")
    body = req.get_json(silent=True)  # a body that does not parse is the view's 400
    if body is not None and not isinstance(body, dict):
        _refuse("body", "The body must be a JSON object.")
    _walk(body, "", max_depth)


def check_request():
    """before_request: refuse hostile text, JSON and integers before anything reads them."""
    try:
        _check()
    except Refused as refused:
        if wants_json():
            return json_error(422, "invalid", f"The request is not valid: {refused.message}",
                              fields={refused.field: refused.message})
        return html_error(422, refused.message)


# Endpoints whose uploads have their own size limit (the setting's name).
LARGE_UPLOADS = {"imports.upload": "IMPORT_MAX_BYTES", "api.create_import": "IMPORT_MAX_BYTES"}

# Only these read a body (a GET's Content-Type header, which API clients send on every request,
# says nothing: no view reads its body).
BODY_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))


def _check():
    # Every request runs this: the objects behind the proxies (infra/current).
    req, config = this_request(), app_config()
    _check_text("path", req.path)
    if req.args:
        _check_params(req.args, _CONTROL_ANYWHERE)
    if req.method not in BODY_METHODS:
        return
    if req.is_json:
        _check_json(req, config)
    elif req.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if req.endpoint in LARGE_UPLOADS:
            req.max_content_length = config[LARGE_UPLOADS[req.endpoint]]
        for name, upload in req.files.items(multi=True):
            _check_text(name, upload.filename)
        _check_params(req.form, _CONTROL_IN_BODY)


def reject_out_of_range_ids(_endpoint, values):
    """An `<int:…>` URL part no id column can hold is simply not found (not a driver error)."""
    if any(isinstance(v, int) and not isinstance(v, bool) and v > MAX_ID
           for v in (values or {}).values()):
        raise NotFound()


def init_app(app):
    app.before_request(check_request)
    app.url_value_preprocessor(reject_out_of_range_ids)
