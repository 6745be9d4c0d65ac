"""/webhooks: admins register endpoints for events, rotate their secrets, see deliveries and
redeliver one (services/webhooks.py says how events are made, signed and sent)."""
from typing import Literal

from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_permission
from webapp.blueprints.api.spec import Body, PageQuery, page_model, page_of, responses, spec
from webapp.models.webhook import EVENT_TYPES
from webapp.services import webhooks

EventType = Literal[EVENT_TYPES]
NO_STORE = {"Cache-Control": "no-store"}


class WebhookCreate(Body):
    url: str = Field(min_length=1, max_length=webhooks.MAX_URL, description=(
        "http:// or https://; private, loopback and link-local addresses are refused unless "
        "the server sets WEBHOOK_ALLOW_PRIVATE."))
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))


class NoBody(Body):
    """Takes no fields: send no body, or `{}`."""


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: str
    rotation_ends_at: str | None = Field(description=(
        "Until then the previous secret signs too (a second v1 in the signature header)."))


class WebhookList(BaseModel):
    items: list[WebhookOut]


class WebhookWithSecret(BaseModel):
    webhook: WebhookOut
    secret: str = Field(description="Shown once. Verify X-Kiryana-Signature with it.")


class DeliveryOut(BaseModel):
    id: str = Field(description="X-Kiryana-Delivery: the same on every attempt.")
    endpoint_id: int
    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: str | None
    created_at: str
    delivered_at: str | None
    body: str = Field(description="The JSON body sent, exactly.")


class DeliveryResult(BaseModel):
    delivery: DeliveryOut


DeliveryPage = page_model(DeliveryOut)


@bp.get("/webhooks")
@api_permission("webhooks.manage")
@spec.validate(resp=responses(HTTP_200=WebhookList), tags=["webhooks"])
def list_webhooks():
    """Registered endpoints (their secrets are never shown again)."""
    return {"items": webhooks.list_endpoints()}


@bp.post("/webhooks")
@api_permission("webhooks.manage")
@spec.validate(json=WebhookCreate, resp=responses(HTTP_201=WebhookWithSecret),
               tags=["webhooks"])
def create_webhook():
    """Register an endpoint for some events → 201 with its secret, shown this once."""
    body = request.context.json
    endpoint, secret = webhooks.register(actor(), body.url, list(body.events))
    return {"webhook": endpoint, "secret": secret}, 201, NO_STORE


@bp.get("/webhooks/<int:webhook_id>")
@api_permission("webhooks.manage")
@spec.validate(resp=responses(HTTP_200=WebhookOut), tags=["webhooks"])
def get_webhook(webhook_id):
    """One endpoint."""
    return webhooks.get_endpoint(webhook_id)


@bp.delete("/webhooks/<int:webhook_id>")
@api_permission("webhooks.manage")
@spec.validate(resp=responses(HTTP_200=WebhookOut), tags=["webhooks"])
def delete_webhook(webhook_id):
    """Stop sending to an endpoint (its deliveries stay listed)."""
    return webhooks.deactivate(actor(), webhook_id)


@bp.post("/webhooks/<int:webhook_id>/rotate")
@api_permission("webhooks.manage")
@spec.validate(json=NoBody, resp=responses(HTTP_200=WebhookWithSecret), tags=["webhooks"])
def rotate_webhook(webhook_id):
    """A new secret, shown once; the old one signs too until rotation_ends_at."""
    endpoint, secret = webhooks.rotate(actor(), webhook_id)
    return {"webhook": endpoint, "secret": secret}, 200, NO_STORE


@bp.get("/webhooks/<int:webhook_id>/deliveries")
@api_permission("webhooks.manage")
@spec.validate(query=PageQuery, resp=responses(HTTP_200=DeliveryPage), tags=["webhooks"])
def list_deliveries(webhook_id):
    """An endpoint's deliveries, newest first, with their last answer."""
    query = request.context.query
    return page_of(DeliveryPage, webhooks.deliveries(webhook_id, query.page, query.per_page))


@bp.post("/webhooks/deliveries/<delivery_id>/redeliver")
@api_permission("webhooks.manage")
@spec.validate(json=NoBody, resp=responses(HTTP_202=DeliveryResult), tags=["webhooks"])
def redeliver(delivery_id):
    """Send a delivery again now, with the same delivery id → 202."""
    return {"delivery": webhooks.redeliver(actor(), delivery_id)}, 202
