"""/sales: complete a basket, read sales, void one, take a return (services/sales.py)."""
from datetime import datetime
from typing import Literal

from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_user, check_store
from webapp.blueprints.api.idempotency import ledger_response, request_key
from webapp.blueprints.api.schemas import (
    DayOrMoment,
    DecimalText,
    LevelOut,
    PackName,
    QueryId,
    Unit,
)
from webapp.blueprints.api.spec import PageQuery, body_model, page_model, page_of, responses, spec
from webapp.infra.replica import replica_reads
from webapp.models import PAYMENT_METHODS, SALE_STATUSES, SOURCES
from webapp.services import commands, policy, sales
from webapp.services.validation import time_bound
from webapp.services.handlers import handle


SaleLineIn = body_model(commands.SaleLineRequest, "SaleLineIn")
PaymentIn = body_model(commands.PaymentRequest, "PaymentIn")
SaleCreate = body_model(commands.SaleRequest, "SaleCreate",
                        models={commands.SaleLineRequest: SaleLineIn,
                                commands.PaymentRequest: PaymentIn})


class PaymentOut(BaseModel):
    method: Literal[PAYMENT_METHODS]
    amount: DecimalText


class SaleLineOut(BaseModel):
    product_id: int
    sku: str
    name: str
    unit: Unit
    quantity: DecimalText
    unit_price: DecimalText
    list_price: DecimalText = Field(description="The product's price; differs from unit_price "
                                                "when the price was overridden.")
    line_total: DecimalText
    movement_id: int = Field(description="The sale movement this line wrote.")
    returned_quantity: DecimalText
    returnable: DecimalText = Field(description="Sold minus already returned.")
    packs: DecimalText | None = Field(None, description="Whole packs sold (quantity is packs × "
                                                        "the pack size); null for a line in "
                                                        "units.")
    pack_name: PackName | None = Field(None, description="What the pack is called (null: "
                                                         "pack).")
    level: LevelOut | None = Field(None, description="The level right after this write "
                                                     "(only in a write's response).")


class SaleSummaryOut(BaseModel):
    id: int
    number: int = Field(description="Receipt number, per store.")
    store_id: int
    cashier_id: int | None
    status: Literal[SALE_STATUSES]
    total: DecimalText
    note: str
    source: Literal[SOURCES]
    occurred_at: datetime | None
    created_at: datetime
    voided_at: datetime | None
    customer_id: int | None
    payments: list[PaymentOut] = Field(description="How it was paid; they add up to total.")
    reference: str | None = Field(None, description="The provisional receipt number the sale "
                                                    "was sold under with no signal; null "
                                                    "otherwise.")


class SaleOut(SaleSummaryOut):
    store_code: str
    store_name: str
    refunded: DecimalText = Field(description="Put back by returns and a void, in PKR.")
    lines: list[SaleLineOut]
    customer_balance: DecimalText | None = Field(
        None, description="A credit sale's write: the customer's balance right after it.")
    credit_reversed: DecimalText | None = Field(
        None, description="A void's write: what it took off the customer's khata.")


class SaleResult(BaseModel):
    sale: SaleOut


ReturnLineIn = body_model(commands.ReturnLineRequest, "ReturnLineIn")
ReturnCreate = body_model(commands.ReturnRequest, "ReturnCreate",
                          models={commands.ReturnLineRequest: ReturnLineIn})


class ReturnedLineOut(BaseModel):
    product_id: int
    quantity: DecimalText
    amount: DecimalText
    movement_id: int = Field(description="The adjustment (reason return) that put it back.")
    original_movement_id: int = Field(description="The sale movement it reverses.")
    level: LevelOut


class ReturnOut(BaseModel):
    amount: DecimalText
    credit: DecimalText = Field(description="Taken off the customer's khata (up to what the "
                                            "sale still had on credit).")
    cash_back: DecimalText = Field(description="The rest, paid back in cash.")
    lines: list[ReturnedLineOut]


class ReturnResult(BaseModel):
    sale: SaleOut
    return_: ReturnOut = Field(alias="return")


VoidCreate = body_model(commands.Void, "VoidCreate", path=("sale_id",),
                        doc="A void takes no fields: send no body (or `{}`).")


class SaleQuery(PageQuery):
    store_id: QueryId | None = None
    from_: DayOrMoment | None = Field(None, alias="from",
                                      description="From this day (Pakistan time) or moment.")
    to: DayOrMoment | None = Field(None, description="Up to and including this day, or "
                                                     "before this moment.")
    reference: str | None = Field(None, min_length=1, max_length=48,
                                  description="The sale sold under this provisional receipt "
                                              "number.")


SalePage = page_model(SaleSummaryOut, "SalePage")


@bp.get("/sales")
@spec.validate(query=SaleQuery, resp=responses(HTTP_200=SalePage), tags=["sales"])
@replica_reads
def list_sales():
    """Sales (baskets), newest first, without their lines."""
    query = request.context.query
    if query.store_id is not None:
        check_store(query.store_id)
    return page_of(SalePage, sales.list_sales(
        policy.visible_store_ids(api_user()), query.store_id, time_bound(query.from_, "from"),
        time_bound(query.to, "to", end=True), query.page, query.per_page,
        reference=query.reference))


@bp.post("/sales")
@spec.validate(json=SaleCreate, resp=responses(HTTP_201=SaleResult), tags=["sales"])
def complete_sale():
    """Complete a basket: one sale movement per line, all or nothing → 201 {sale}.

    409 insufficient_stock with `fields` keyed `lines.<i>.quantity` when lines are short.
    """
    body = request.context.json
    lines = [line.model_dump(exclude_none=True) for line in body.lines]
    paid = None if body.payments is None else [p.model_dump() for p in body.payments]
    command = sales.parse_sale(body.store_id, lines, body.note, body.occurred_at,
                               body.customer_id, paid, reference=body.reference)
    return ledger_response(handle(actor(), command, request_key()))


@bp.get("/sales/<int:sale_id>")
@spec.validate(resp=responses(HTTP_200=SaleResult), tags=["sales"])
def get_sale(sale_id):
    """One sale with its lines."""
    return {"sale": sales.get_sale(api_user(), sale_id)}


@bp.post("/sales/<int:sale_id>/void")
@spec.validate(json=VoidCreate, resp=responses(HTTP_200=SaleResult), tags=["sales"])
def void_sale(sale_id):
    """Void a sale: 200 with status voided; again → 409 already_voided; a shopkeeper past
    the store's void window → 403 void_window_passed."""
    return ledger_response(handle(actor(), commands.Void.parse(sale_id), request_key()))


@bp.post("/sales/<int:sale_id>/returns")
@spec.validate(json=ReturnCreate, resp=responses(HTTP_201=ReturnResult), tags=["sales"])
def return_lines(sale_id):
    """A customer return: 201; more than sold minus already returned → 422."""
    body = request.context.json
    command = commands.Return.parse(sale_id, [line.model_dump() for line in body.lines],
                                    body.note)
    return ledger_response(handle(actor(), command, request_key()))
