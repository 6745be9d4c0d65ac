"""Webhooks: the endpoints admins register and each event's delivery to each of them."""
from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Text

from webapp.extensions import db
from webapp.models.audit import Json
from webapp.models.types import UTCDateTime, utcnow

EVENT_TYPES = ("sale.completed", "sale.voided", "movement.created", "stock.low",
               "closing.created", "customer.payment", "stock.expiring", "ledger.violation")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoints"

    id = Column(Integer, primary_key=True)
    url = Column(String(2000), nullable=False)
    events = Column(Json, nullable=False)
    # Kept as given (the signature needs it); shown once, when made or rotated.
    secret = Column(String(80), nullable=False)
    # During a rotation the old secret signs too, until previous_secret_until.
    previous_secret = Column(String(80))
    previous_secret_until = Column(UTCDateTime)
    active = Column(Boolean, nullable=False, default=True)
    created_by_id = Column(Integer, ForeignKey("users.id"))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class WebhookDelivery(db.Model):
    """One event for one endpoint; its id is X-Kiryana-Delivery on every attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
    )

    id = Column(String(36), primary_key=True)
    endpoint_id = Column(Integer, ForeignKey("webhook_endpoints.id"), nullable=False)
    event = Column(String(32), nullable=False)
    # The exact JSON body sent on every attempt.
    body = Column(Text, nullable=False)
    status = Column(String(16), nullable=False, default="pending")
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(UTCDateTime, nullable=False)
    # A sender holds the delivery until then (a sender killed mid-send lets go by itself).
    leased_until = Column(UTCDateTime)
    # The sweep queued it until then (so it is not queued again every sweep).
    dispatched_until = Column(UTCDateTime)
    last_status = Column(Integer)
    last_error = Column(String(500))
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    delivered_at = Column(UTCDateTime)
