"""/audit: the audit log for admins and managers, filtered and paginated."""
from typing import Any

from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import api_permission
from webapp.blueprints.api.schemas import DayOrMoment, QueryId
from webapp.blueprints.api.spec import PageQuery, page_model, page_of, responses, spec
from webapp.infra.replica import replica_reads
from webapp.services import audit


class AuditQuery(PageQuery):
    actor: str | None = Field(None, max_length=64, description="Username.")
    actor_id: QueryId | None = None
    action: str | None = Field(None, max_length=64, description=(
        "An action (product.update) or a family (product)."))
    entity_type: str | None = Field(None, max_length=32)
    entity_id: str | None = Field(None, max_length=64)
    from_: DayOrMoment | None = Field(None, alias="from", description=(
        "From this day (Pakistan time) or moment."))
    to: DayOrMoment | None = Field(None, description=(
        "Up to and including this day, or before this moment."))


class AuditEventOut(BaseModel):
    id: int
    actor_id: int | None
    actor: str | None = Field(description="The actor's username.")
    action: str
    entity_type: str
    entity_id: str | None
    before: Any = None
    after: Any = None
    ip: str | None
    created_at: str


AuditPage = page_model(AuditEventOut)


@bp.get("/audit")
@api_permission("audit.view")
@spec.validate(query=AuditQuery, resp=responses(HTTP_200=AuditPage), tags=["audit"])
@replica_reads
def list_audit():
    """Audit events, newest first: who did what to which entity, before and after."""
    query = request.context.query
    result = audit.search(actor=query.actor, actor_id=query.actor_id, action=query.action,
                                entity_type=query.entity_type, entity_id=query.entity_id,
                                date_from=query.from_, date_to=query.to, page=query.page,
                                per_page=query.per_page)
    return page_of(AuditPage, result)
