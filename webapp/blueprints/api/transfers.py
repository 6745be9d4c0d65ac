"""/transfers and /stores/<id>/counts: the ledger's multi-row operations."""
from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, check_store, store_or_404
from webapp.blueprints.api.idempotency import ledger_response, request_key
from webapp.blueprints.api.schemas import Id, LevelOut, MovementOut, Quantity
from webapp.blueprints.api.spec import Body, responses, spec
from webapp.services import ledger


class TransferCreate(Body):
    from_store_id: Id
    to_store_id: Id
    product_id: Id
    quantity: Quantity
    note: str | None = Field(None, max_length=500)


class TransferResult(BaseModel):
    transfer_id: str
    transfer_out: MovementOut
    transfer_in: MovementOut
    from_level: LevelOut
    to_level: LevelOut


class CountLine(Body):
    product_id: Id
    quantity: Quantity = Field(description="What is on the shelf.")
    expected: Quantity | None = Field(None, description="The level when the count began.")


class CountCreate(Body):
    counts: list[CountLine] = Field(min_length=1, max_length=ledger.MAX_COUNT_LINES)
    note: str | None = Field(None, max_length=500)


class CountResult(BaseModel):
    store_id: int
    adjustments: list[MovementOut]
    unchanged: list[LevelOut]
    changed_during_count: list[int] = Field(description="Products sold or received while "
                                                        "the shelf was being counted.")


@bp.post("/transfers")
@spec.validate(json=TransferCreate, resp=responses(HTTP_201=TransferResult), tags=["movements"])
def create_transfer():
    """Move stock from one store to another (both must be yours), atomically."""
    body = request.context.json
    check_store(body.from_store_id, "from_store_id")
    check_store(body.to_store_id, "to_store_id")
    result = ledger.transfer(actor(), from_store_id=body.from_store_id,
                             to_store_id=body.to_store_id, product_id=body.product_id,
                             quantity=body.quantity, note=body.note,
                             idempotency_key=request_key())
    return ledger_response(result)


@bp.post("/stores/<int:store_id>/counts")
@spec.validate(json=CountCreate, resp=responses(HTTP_201=CountResult), tags=["stock"])
def apply_count(store_id):
    """Apply a shelf count: one adjustment per product whose count differs."""
    store_or_404(store_id)
    body = request.context.json
    counts = [line.model_dump(exclude_none=True) for line in body.counts]
    result = ledger.apply_count(actor(), store_id=store_id, counts=counts, note=body.note,
                                idempotency_key=request_key())
    return ledger_response(result)
