"""/movements: follow the ledger and record stock_in, sale, removal or adjustment."""
from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_user, check_store
from webapp.blueprints.api.idempotency import ledger_response, request_key
from webapp.blueprints.api.schemas import (
    DayOrMoment,
    LevelOut,
    MovementOut,
    MovementType,
    QueryId,
)
from webapp.blueprints.api.spec import (
    PageQuery,
    body_model,
    page_model,
    page_of,
    responses,
    spec,
)
from webapp.infra.replica import replica_reads
from webapp.services import commands, history, ledger, policy
from webapp.services.validation import time_bound
from webapp.services.handlers import handle

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


MovementCreate = body_model(commands.DatedMovement, "MovementCreate")


class MovementResult(BaseModel):
    movement: MovementOut | None = Field(description="null when an adjustment changed nothing.")
    level: LevelOut


@bp.get("/movements")
@spec.validate(query=MovementQuery, resp=responses(HTTP_200=MovementPage), tags=["movements"])
@replica_reads
def list_movements():
    """The ledger, newest first, filtered; `after_id` follows it oldest first."""
    query = request.context.query
    if query.store_id is not None:
        check_store(query.store_id)
    result = history.movements(history.MovementFilter(
        store_ids=policy.visible_store_ids(api_user()), store_id=query.store_id,
        product_id=query.product_id, type=query.type, since=time_bound(query.from_, "from"),
        until=time_bound(query.to, "to", end=True), after_id=query.after_id),
        query.page, query.per_page)
    items = [ledger.movement_dict(m) for m in result.items]
    history.with_batches(items)
    return page_of(MovementPage, result, items)


@bp.post("/movements")
@spec.validate(json=MovementCreate, resp=responses(HTTP_201=MovementResult,
                                                   HTTP_200=MovementResult),
               tags=["movements"])
def record_movement():
    """Record one movement through the stock ledger: 201 {movement, level}.

    409 insufficient_stock when a sale or removal would take the level below zero.
    """
    body = request.context.json
    command = commands.Movement.parse(**body.model_dump(exclude_unset=True))
    return ledger_response(handle(actor(), command, request_key()))
