"""/purchase-orders: orders to suppliers, their status, and receipts through the stock ledger."""
from typing import Literal

from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_user, check_store, api_permission
from webapp.blueprints.api.idempotency import ledger_response, request_key, run_once
from webapp.blueprints.api.schemas import (
    DecimalText,
    Id,
    LevelOut,
    Money,
    MovementOut,
    Quantity,
    QueryId,
    Resource,
)
from webapp.blueprints.api import spec as api_spec
from webapp.blueprints.api.spec import Body, PageQuery, page_model, page_of, responses, spec
from webapp.infra.replica import replica_reads
from webapp.models import ORDER_STATUSES
from webapp.services import commands, purchasing
from webapp.services.handlers import handle

OrderStatus = Literal[ORDER_STATUSES]


class OrderLineOut(Resource):
    id: int
    product_id: int
    sku: str
    name: str
    unit: str
    packs: DecimalText
    pack_size: DecimalText
    quantity: DecimalText = Field(description="Units ordered: packs × pack size.")
    unit_cost: DecimalText | None = Field(description="Expected cost of one unit.")
    received_quantity: DecimalText
    over_received: bool = Field(description="More arrived than was ordered.")
    added_at_receipt: bool = Field(description="Not ordered: added when it arrived.")


class OrderOut(Resource):
    id: int
    store_id: int
    supplier_id: int
    supplier_name: str
    status: OrderStatus
    note: str
    created_by: int | None
    total_cost: DecimalText
    fully_costed: bool = Field(description="False when some line has no cost.")
    created_at: str
    updated_at: str
    sent_at: str | None
    closed_at: str | None
    lines: list[OrderLineOut]


OrderPage = page_model(OrderOut)


class OrderQuery(PageQuery):
    store_id: QueryId | None = None
    supplier_id: QueryId | None = None
    status: OrderStatus | None = None


class OrderLineIn(Body):
    product_id: Id
    packs: Quantity = Field(description="Whole buying packs (the product's pack size each); "
                                        "0 drops the line.")
    unit_cost: Money | None = Field(None, description="Default: the last purchase cost, "
                                                      "else the product's cost.")


class OrderCreate(Body):
    store_id: Id
    supplier_id: Id
    lines: list[OrderLineIn] = Field(min_length=1, max_length=purchasing.MAX_LINES)
    note: str | None = Field(None, max_length=500)


class OrderPatch(Body):
    status: OrderStatus | None = Field(None, description="draft → sent → (receipts) → "
                                                         "received; cancelled while open.")
    lines: list[OrderLineIn] | None = Field(None, min_length=1,
                                            max_length=purchasing.MAX_LINES,
                                            description="Drafts only: replaces the lines.")
    note: str | None = Field(None, max_length=500)


ReceiptLineIn = api_spec.body_model(commands.DeliveryLineRequest, "ReceiptLineIn")
ReceiptCreate = api_spec.body_model(commands.DeliveryRequest, "ReceiptCreate",
                                    models={commands.DeliveryLineRequest: ReceiptLineIn})


class ReceiptLineOut(BaseModel):
    product_id: int
    order_line_id: int
    quantity: DecimalText
    unit_cost: DecimalText | None
    movement_id: int
    over_received: bool
    substitute: bool


class ReceiptOut(BaseModel):
    id: int
    over_received: bool
    lines: list[ReceiptLineOut]


class PayableOut(BaseModel):
    amount: DecimalText = Field(description="What this delivery added to what the store owes "
                                            "the supplier: received quantity × unit cost.")
    balance: DecimalText = Field(description="What the store owes the supplier now.")


class ReceiptResult(BaseModel):
    order: OrderOut
    receipt: ReceiptOut
    movements: list[MovementOut]
    levels: list[LevelOut]
    over_received: bool
    payable: PayableOut


@bp.get("/purchase-orders")
@spec.validate(query=OrderQuery, resp=responses(HTTP_200=OrderPage), tags=["purchasing"])
@replica_reads
def list_orders():
    """Orders in the stores this token's user may see, newest first."""
    query = request.context.query
    if query.store_id is not None:
        check_store(query.store_id)
    page = purchasing.list_orders(api_user(), query.store_id, query.supplier_id, query.status,
                                  query.page, query.per_page)
    return page_of(OrderPage, page, [purchasing.order_dict(o) for o in page.items])


@bp.post("/purchase-orders")
@api_permission("purchasing.manage")
@spec.validate(json=OrderCreate, resp=responses(HTTP_201=OrderOut), tags=["purchasing"])
def create_order():
    """A draft order for one store and supplier: 201 with its lines in packs and units."""
    body = request.context.json
    data = body.model_dump(mode="json")

    def create():
        order = purchasing.create_order(
            actor(), api_user(), store_id=body.store_id, supplier_id=body.supplier_id,
            lines=[line.model_dump() for line in body.lines], note=body.note)
        return purchasing.order_dict(order), 201

    return run_once(data, create)


@bp.get("/purchase-orders/<int:order_id>")
@spec.validate(resp=responses(HTTP_200=OrderOut), tags=["purchasing"])
def get_order(order_id):
    """One order with its lines and what has been received."""
    return purchasing.order_dict(purchasing.get_order(order_id, api_user()))


@bp.patch("/purchase-orders/<int:order_id>")
@api_permission("purchasing.manage")
@spec.validate(json=OrderPatch, resp=responses(HTTP_200=OrderOut), tags=["purchasing"])
def update_order(order_id):
    """Change a draft's lines or note, and/or its status (409 invalid_transition when not
    allowed, e.g. cancelled → sent)."""
    body = request.context.json
    if body.lines is not None or body.note is not None:
        purchasing.update_order(actor(), api_user(), order_id,
                                lines=None if body.lines is None else
                                [line.model_dump() for line in body.lines], note=body.note)
    order = purchasing.get_order(order_id, api_user()) if body.status is None else \
        purchasing.change_status(actor(), api_user(), order_id, body.status)
    return purchasing.order_dict(order)


@bp.post("/purchase-orders/<int:order_id>/receipts")
@spec.validate(json=ReceiptCreate, resp=responses(HTTP_201=ReceiptResult), tags=["purchasing"])
def receive(order_id):
    """Record what arrived, in one transaction: 201 with the stock-ins and the new levels.

    With an Idempotency-Key a retry returns the first response and writes nothing more.
    """
    body = request.context.json
    command = purchasing.parse_delivery(order_id, [line.model_dump() for line in body.lines],
                                        body.note)
    return ledger_response(handle(actor(), command, request_key()))
