"""/stores/<id>/closings: the daily cash closing, once per store and Pakistan day
(services/closing.py)."""
from datetime import date

from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_user, check_store
from webapp.blueprints.api.idempotency import ledger_response, request_key
from webapp.blueprints.api.schemas import DecimalText
from webapp.blueprints.api.spec import PageQuery, body_model, page_model, page_of, responses, spec
from webapp.infra.replica import replica_reads
from webapp.services import closing, commands


class ByMethod(BaseModel):
    cash: DecimalText
    card: DecimalText
    wallet: DecimalText
    credit: DecimalText


class Received(BaseModel):
    cash: DecimalText
    card: DecimalText
    wallet: DecimalText


class ClosingOut(BaseModel):
    id: int
    store_id: int
    business_date: date = Field(description="The Pakistan day closed.")
    opening_float: DecimalText
    sales_by_method: ByMethod = Field(description="The day's sales net of voids and returns: "
                                                  "their credit part off credit, the rest off "
                                                  "cash.")
    gross_sales: ByMethod = Field(description="The day's sales before voids and returns.")
    cash_paid_back: DecimalText
    credit_reversed: DecimalText
    customer_payments: Received = Field(description="Udhaar received, by method.")
    paid_to_suppliers: DecimalText = Field(description="Cash paid to suppliers.")
    expected_cash: DecimalText = Field(description="opening float + cash sales − cash paid "
                                                   "back + customer cash payments − cash paid "
                                                   "to suppliers.")
    counted_cash: DecimalText
    difference: DecimalText = Field(description="counted − expected.")
    notes: dict[str, int | str] | None = Field(description="The count by note, when given.")
    note: str
    closed_by_id: int | None
    created_at: str


class ClosingResult(BaseModel):
    closing: ClosingOut


ClosingPage = page_model(ClosingOut)


class ClosingQuery(PageQuery):
    from_: date | None = Field(None, alias="from")
    to: date | None = None


NotesIn = body_model(commands.CashCount, "NotesIn")
ClosingCreate = body_model(commands.Closing, "ClosingCreate", path=("store_id",),
                           models={commands.CashCount: NotesIn})


@bp.get("/stores/<int:store_id>/closings")
@spec.validate(query=ClosingQuery, resp=responses(HTTP_200=ClosingPage), tags=["closings"])
@replica_reads
def list_closings(store_id):
    """The store's closings, newest day first."""
    check_store(store_id, field=None)
    query = request.context.query
    return page_of(ClosingPage, closing.list_closings(api_user(), store_id, query.from_,
                                                      query.to, query.page, query.per_page))


@bp.post("/stores/<int:store_id>/closings")
@spec.validate(json=ClosingCreate, resp=responses(HTTP_201=ClosingResult), tags=["closings"])
def close_day(store_id):
    """Close a Pakistan day: 201 {closing}; that day again → 409 already_closed."""
    body = request.context.json
    notes = body.notes.model_dump(exclude_none=True, by_alias=True) if body.notes else None
    return ledger_response(closing.close_day(
        actor(), api_user(), store_id, counted_cash=body.counted_cash, notes=notes,
        business_date=body.business_date, note=body.note, idempotency_key=request_key()))
