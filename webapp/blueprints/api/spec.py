"""The OpenAPI document and the schema helpers every endpoint module uses.

spectree turns the pydantic v2 models given to `@spec.validate(...)` into request
validation, response serialisation and `/api/v1/openapi.json`, so no schema is written twice.
"""
import dataclasses
import json
import types
import typing

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from spectree import Response, SecurityScheme, SecuritySchemeData, SpecTree
from spectree.plugins.base import Context
from spectree.plugins.flask_plugin import FlaskPlugin
from spectree.utils import get_multidict_items

from webapp.infra.current import this_request
from webapp.blueprints.api.errors import raise_validation_error
from webapp.services import paging
from webapp.services.errors import DomainError


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable machine-readable code, e.g. insufficient_stock.")
    message: str = Field(description="What went wrong, for a person.")
    fields: dict[str, str] | None = Field(None, description="Per-field messages.")


class ErrorEnvelope(BaseModel):
    """Every error response: {"error": {"code", "message", "fields"}}."""

    error: ErrorBody


ERROR_STATUSES = (400, 401, 403, 404, 409, 413, 415, 422, 429)

class _Plugin(FlaskPlugin):
    """spectree's Flask plugin, reading only the parts of a request that have a model, and
    checking responses against their models only where API_CHECK_RESPONSES is on (development
    and tests). In production a response that broke its model could only become a 500, and the
    check costs every request a second pass over the bytes it has just built; the tests
    (schemathesis over every operation) keep the contract."""

    def request_validation(self, request, query, json, form, headers, cookies):
        # spectree's own copies every header and cookie into dicts first, model or not: 2 % of
        # a sale's CPU under load (bench/profile-sale_random.txt), for nothing here.
        validate = self.model_adapter.validate_obj
        request = this_request()  # spectree hands the proxy (infra/current)
        has_data = request.method not in ("GET", "DELETE")
        is_form = request.mimetype in self.FORM_MIMETYPE
        request.context = Context(
            validate(query, get_multidict_items(request.args, query)) if query else None,
            validate(json, request.get_json(silent=True) or {})
            if json and has_data and not is_form else None,
            validate(form, self.fill_form(request)) if form and has_data and is_form else None,
            validate(headers, dict(iter(request.headers))) if headers else None,
            validate(cookies, get_multidict_items(request.cookies)) if cookies else None)

    def validate_response(self, resp, resp_model, skip_validation, force_resp_serialize):
        if not current_app.config["API_CHECK_RESPONSES"]:
            if isinstance(resp, current_app.response_class):
                return resp, None  # already bytes with its status: nothing to unpack or rebuild
            skip_validation = True
        return super().validate_response(resp, resp_model, skip_validation,
                                         force_resp_serialize)


spec = SpecTree(
    "flask",
    backend=_Plugin,
    title="Kiryana Inventory API",
    version="1.0.0",
    description="Stock tracking for kiryana stores. Send `Authorization: Bearer <token>`; "
                "writes accept an `Idempotency-Key` header.",
    # spectree leaves routes under its own path out of the document, so it gets an unused one;
    # the document is served by the blueprint's /openapi.json (see openapi.py).
    path="spectree-unused",
    mode="strict",
    annotations=False,
    page_templates={},
    validation_error_model=ErrorEnvelope,
    before=raise_validation_error,
    security_schemes=[SecurityScheme(name="bearer",
                                     data=SecuritySchemeData(type="http", scheme="bearer"))],
    security={"bearer": []},
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
)


def responses(**ok):
    """spectree Response for the success models given (HTTP_200=Model…) plus every error."""
    return Response(**ok, **{f"HTTP_{status}": ErrorEnvelope for status in ERROR_STATUSES})


def _accepts_null(schema):
    """Whether a JSON schema lets null through (a schema with no type at all does)."""
    kind = schema.get("type")
    if kind == "null" or isinstance(kind, list) and "null" in kind:
        return True
    if "anyOf" in schema or "oneOf" in schema:
        return any(_accepts_null(s) for s in schema.get("anyOf", schema.get("oneOf")))
    return not (kind or "$ref" in schema or "enum" in schema or "const" in schema
                or "allOf" in schema)


def _no_null_defaults(schema, _model=None):
    """An optional field that refuses null (`name: str = None`: leave it out, never send null)
    is documented with no default rather than `default: null`, which OpenAPI 3.1 validators
    refuse and stricter generators mistype; a field that takes null keeps it."""
    for field in schema.get("properties", {}).values():
        if "default" in field and field["default"] is None and not _accepts_null(field):
            del field["default"]


class Body(BaseModel):
    """Base for request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)


# Each body model built by body_model → the command or request dataclass it was built from.
BODY_SHAPES = {}


def body_model(shape, name, *, path=(), partial=False, models=None, doc=None):
    """A request-body model with a command's fields (services/commands.py, a command or the
    `...Request` a door sends for it): their types, constraints and defaults are declared there
    once, for the API and the ledger alike; the model restates none of them.

    path: fields the URL gives, left out of the body. partial: every field may be left out (a
    PATCH); one that refuses null still refuses it. models: the models already built for the
    dataclasses the shape nests (its lines). The shape's `check`, a rule across its fields, is
    the model's only validator: its DomainError becomes a 422 naming the object."""
    hints = typing.get_type_hints(shape, include_extras=True)
    fields = {f.name: (_swap(hints[f.name], models or {}),
                       None if partial else ... if f.default is dataclasses.MISSING else f.default)
              for f in dataclasses.fields(shape) if f.name not in path}
    validators = {}
    if hasattr(shape, "check"):
        validators["check"] = model_validator(mode="after")(_checked_by(shape))
    model = create_model(name, __base__=Body, __doc__=doc, __validators__=validators, **fields)
    BODY_SHAPES[model] = shape
    return model


def _checked_by(shape):
    def check(model):
        try:
            shape.check(model.__dict__)  # looked up on each request: the command's rule as it is
        except DomainError as error:
            raise ValueError(error.message) from None
        return model
    return check


def _swap(hint, models):
    """`hint` with each dataclass in `models` replaced by its model, however deep (in a list,
    a union, under Annotated)."""
    if not models:
        return hint
    if isinstance(hint, type) and hint in models:
        return models[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        return typing.Annotated[(_swap(args[0], models), *hint.__metadata__)]
    if origin is types.UnionType or origin is typing.Union:
        return typing.Union[tuple(_swap(arg, models) for arg in args)]
    if origin is list:
        return list[_swap(args[0], models)]
    return hint


_optional_bodies = {}


def body_is_optional(view):
    """Whether a view's JSON body has no required field, so that no body at all means `{}`
    (POST /sales/<id>/void with a bare `curl -X POST`; a PATCH that changes nothing)."""
    known = _optional_bodies.get(view)
    if known is None:
        metadata = spec.get_function_metadata(view)
        key = metadata.json if metadata is not None else None
        known = _optional_bodies[view] = key is not None and not spec.models[key].get("required")
    return known


class PageQuery(BaseModel):
    """?page=&per_page= (at most 200); list query models extend it. Unknown parameters are
    refused (422) so that a misspelt filter is not silently ignored."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)

    page: int = Field(1, ge=1, le=paging.MAX_PAGE)
    per_page: int = Field(paging.PER_PAGE, ge=1, le=paging.MAX_PER_PAGE)


def page_model(item_model, name=None):
    """The list response model {"items": [item], "page", "per_page", "total"}."""
    return create_model(name or f"{item_model.__name__}Page",
                        items=(list[item_model], ...), page=(int, ...), per_page=(int, ...),
                        total=(int, ...))


def json_response(data, status=200, headers=None):
    """A JSON response from plain data. spectree then checks the bytes against the response
    model in pydantic's Rust JSON validator, instead of walking the dicts in Python."""
    return json_text_response(json.dumps(data, separators=(",", ":"), ensure_ascii=False),
                              status, headers)


def json_text_response(text, status=200, headers=None):
    """A JSON response from JSON already written (str or bytes), as json_response writes it."""
    return current_app.response_class(text, status, headers, mimetype="application/json")


def page_of(model, page, items=None):
    """A page response built from the page model and a service's Page (items converted, when
    given, in their place)."""
    return model(items=page.items if items is None else items, page=page.page,
                 per_page=page.per_page, total=page.total)
