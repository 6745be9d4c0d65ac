"""/transfers and /stores/<id>/counts: the ledger's multi-row operations."""
from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor
from webapp.blueprints.api.idempotency import ledger_response, request_key
from webapp.blueprints.api.schemas import LevelOut, MovementOut
from webapp.blueprints.api.spec import body_model, responses, spec
from webapp.services import commands
from webapp.services.handlers import handle

TransferCreate = body_model(commands.Transfer, "TransferCreate")


class TransferResult(BaseModel):
    transfer_id: str
    transfer_out: MovementOut
    transfer_in: MovementOut
    from_level: LevelOut
    to_level: LevelOut


CountLine = body_model(commands.CountLine, "CountLine")


CountCreate = body_model(commands.CountRequest, "CountCreate",
                         models={commands.CountLine: CountLine})


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
    command = commands.Transfer.parse(**body.model_dump(exclude_unset=True))
    return ledger_response(handle(actor(), command, request_key()))


@bp.post("/stores/<int:store_id>/counts")
@spec.validate(json=CountCreate, resp=responses(HTTP_201=CountResult), tags=["stock"])
def apply_count(store_id):
    """Apply a shelf count: one adjustment per product whose count differs."""
    body = request.context.json
    command = commands.Count.parse(store_id, [line.model_dump() for line in body.counts],
                                   body.note)
    return ledger_response(handle(actor(), command, request_key()))
