"""/movements: follow the ledger and record stock_in, sale, removal or adjustment."""
from datetime import datetime, time, timedelta
from typing import Literal

from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_user, check_store
from webapp.blueprints.api.idempotency import ledger_response, request_key
from webapp.blueprints.api.schemas import (
    DayOrMoment,
    Id,
    LevelOut,
    Money,
    MovementOut,
    MovementType,
    Quantity,
    QueryId,
)
from webapp.blueprints.api.spec import (
    Body,
    PageQuery,
    page_model,
    page_of,
    responses,
    spec,
)
from webapp.infra.replica import replica_reads
from webapp.models import ADJUSTMENT_REASONS, REMOVAL_REASONS
from webapp.services import ledger, lists, policy
from webapp.services.validation import PAKISTAN

MovementPage = page_model(MovementOut)


class MovementQuery(PageQuery):
    store_id: QueryId | None = None
    product_id: QueryId | None = None
    type: MovementType | None = None
    from_: DayOrMoment | None = Field(None, alias="from",
                                      description="From this day (Pakistan time) or moment.")
    to: DayOrMoment | None = Field(None, description="Up to and including this day, or "
                                                     "before this moment.")
    after_id: int | None = Field(None, ge=0, le=2**63 - 1,
                                 description="Keyset paging: movements after this id, oldest "
                                             "first (page is then ignored).")


class MovementCreate(Body):
    store_id: Id
    product_id: Id | None = Field(None, description="Give product_id or sku.")
    sku: str | None = Field(None, min_length=1, max_length=64)
    type: Literal[ledger.RECORDABLE_TYPES]
    quantity: Quantity = Field(description="More than zero; for an adjustment, the shelf count.")
    expected: Quantity | None = Field(None, description="Adjustment: the level when the count "
                                                        "began (default: the level now).")
    reason: Literal[REMOVAL_REASONS + ADJUSTMENT_REASONS] | None = None
    note: str | None = Field(None, max_length=500)
    unit_price: Money | None = None
    unit_cost: Money | None = None
    supplier_id: Id | None = None
    occurred_at: datetime | None = Field(None, description="Client time; Pakistan time when it "
                                                           "has no offset.")


class MovementResult(BaseModel):
    movement: MovementOut | None = Field(description="null when an adjustment changed nothing.")
    level: LevelOut


def _moment(value, end=False):
    """A day means its start in Pakistan time (or the next day's start, for `to`)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=PAKISTAN)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time.min, tzinfo=PAKISTAN)


@bp.get("/movements")
@spec.validate(query=MovementQuery, resp=responses(HTTP_200=MovementPage), tags=["movements"])
@replica_reads
def list_movements():
    """The ledger, newest first, filtered; `after_id` follows it oldest first."""
    query = request.context.query
    if query.store_id is not None:
        check_store(query.store_id)
    items, total = lists.movements(
        policy.visible_store_ids(api_user()), query.store_id, query.product_id, query.type,
        _moment(query.from_), _moment(query.to, end=True), query.after_id, query.page,
        query.per_page)
    return page_of(MovementPage, items, total, query)


@bp.post("/movements")
@spec.validate(json=MovementCreate, resp=responses(HTTP_201=MovementResult,
                                                   HTTP_200=MovementResult),
               tags=["movements"])
def record_movement():
    """Record one movement through the stock ledger: 201 {movement, level}.

    409 insufficient_stock when a sale or removal would take the level below zero.
    """
    body = request.context.json
    check_store(body.store_id)
    result = ledger.record_movement(
        actor(), store_id=body.store_id, product_id=body.product_id, sku=body.sku,
        type=body.type, quantity=body.quantity, expected=body.expected, reason=body.reason,
        note=body.note, unit_price=body.unit_price, unit_cost=body.unit_cost,
        supplier_id=body.supplier_id, occurred_at=body.occurred_at,
        idempotency_key=request_key())
    return ledger_response(result)
