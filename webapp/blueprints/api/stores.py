"""/stores and their stock: shopkeepers see their own stores only (others are 404)."""
from datetime import date
from typing import Annotated

from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import (
    actor,
    api_user,
    check_store,
    api_permission,
    store_or_404,
)
from webapp.blueprints.api.idempotency import run_once
from webapp.blueprints.api.schemas import (
    DecimalText,
    Flag,
    LevelOut,
    Money,
    QueryId,
    Search,
    StockRowOut,
    StoreOut,
)
from webapp.blueprints.api.spec import (
    Body,
    PageQuery,
    json_text_response,
    page_model,
    page_of,
    responses,
    spec,
)
from webapp.infra.replica import replica_reads
from webapp.services import catalog, expiry, lists, policy, stock_cache
from webapp.services.catalog import MAX_EXPIRY_WARNING_DAYS

StorePage = page_model(StoreOut)
WarningDays = Annotated[int, Field(ge=0, le=MAX_EXPIRY_WARNING_DAYS, strict=True,
                                          description="Flag batches expiring within this many "
                                                      "days (0: expired only).")]
StockPage = page_model(StockRowOut, "StockPage")


class StoreQuery(PageQuery):
    q: Search | None = Field(None, description="Part of the code, name or city.")
    active: bool | None = None


class StoreCreate(Body):
    code: str = Field(min_length=1, max_length=32, description="Unique, e.g. KHI-0001.")
    name: str = Field(min_length=1, max_length=120)
    city: str = Field("", max_length=80)
    address: str = Field("", max_length=300)
    phone: str = Field("", max_length=40)
    active: Flag = True
    allow_negative_stock: Flag = False
    opening_float: Money | None = Field(None, description="Cash in the drawer when the day "
                                                          "opens (the closing's start).")
    expiry_warning_days: WarningDays = 7


class StoreUpdate(Body):
    code: str = Field(None, min_length=1, max_length=32)
    name: str = Field(None, min_length=1, max_length=120)
    city: str = Field(None, max_length=80)
    address: str = Field(None, max_length=300)
    phone: str = Field(None, max_length=40)
    active: Flag = None
    allow_negative_stock: Flag = None
    opening_float: Money | None = None
    expiry_warning_days: WarningDays = Field(None)


class BatchQuery(PageQuery):
    product_id: QueryId | None = Field(None, description="One product's batches.")


class BatchOut(BaseModel):
    product_id: int
    sku: str
    expires_on: date = Field(description="The batch's last good day.")
    batch_code: str | None
    quantity: DecimalText = Field(description="What is left of the batch.")
    expired: bool = Field(description="expires_on is before today (Pakistan time).")
    days_left: int = Field(description="Days from today to expires_on (negative: expired).")


BatchPage = page_model(BatchOut, "BatchPage")


class StockQuery(PageQuery):
    q: Search | None = Field(None, description="Part of the name or SKU, or the exact barcode.")
    low: bool = Field(False, description="Only levels at or below their reorder level.")


def _out(store):
    return StoreOut.model_validate(store).model_dump(mode="json")


@bp.get("/stores")
@spec.validate(query=StoreQuery, resp=responses(HTTP_200=StorePage), tags=["stores"])
@replica_reads
def list_stores():
    """The stores this user may see."""
    query = request.context.query
    result = lists.stores(policy.visible_store_ids(api_user()), query.q, query.active,
                               query.page, query.per_page)
    return page_of(StorePage, result, [StoreOut.model_validate(s) for s in result.items])


@bp.post("/stores")
@api_permission("stores.manage")
@spec.validate(json=StoreCreate, resp=responses(HTTP_201=StoreOut), tags=["stores"])
def create_store():
    """Open a store (code unique: 409)."""
    data = request.context.json.model_dump(exclude_unset=True)
    return run_once(data, lambda: (_out(catalog.create_store(actor(), data)), 201))


@bp.get("/stores/<int:store_id>")
@spec.validate(resp=responses(HTTP_200=StoreOut), tags=["stores"])
def get_store(store_id):
    """One store."""
    return StoreOut.model_validate(store_or_404(store_id))


@bp.patch("/stores/<int:store_id>")
@api_permission("stores.manage")
@spec.validate(json=StoreUpdate, resp=responses(HTTP_200=StoreOut), tags=["stores"])
def update_store(store_id):
    """Change some fields of a store."""
    data = request.context.json.model_dump(exclude_unset=True)
    return _out(catalog.update_store(actor(), store_id, data))


@bp.get("/stores/<int:store_id>/stock")
@spec.validate(query=StockQuery, resp=responses(HTTP_200=StockPage), tags=["stock"])
@replica_reads
def store_stock(store_id):
    """The store's stock levels, by product name; `low=true` for what needs reordering."""
    store_or_404(store_id)
    query = request.context.query
    return page_of(StockPage, stock_cache.store_levels(store_id, query.q, query.low, query.page,
                                                       query.per_page))


@bp.get("/stores/<int:store_id>/stock/<int:product_id>")
@spec.validate(resp=responses(HTTP_200=LevelOut), tags=["stock"])
def stock_level(store_id, product_id):
    """One level (zero for a product never moved here), served from the stock cache."""
    check_store(store_id)
    return json_text_response(stock_cache.get_level(store_id, product_id, as_json=True))


@bp.get("/stores/<int:store_id>/batches")
@spec.validate(query=BatchQuery, resp=responses(HTTP_200=BatchPage), tags=["stock"])
@replica_reads
def store_batches(store_id):
    """The store's batches with stock left (products that track expiry), soonest first."""
    store_or_404(store_id)
    query = request.context.query
    result = expiry.store_batches(store_id, query.product_id, page=query.page,
                                  per_page=query.per_page)
    return BatchPage(items=[dict(b, quantity=f"{b['quantity']:f}") for b in result.items],
                     page=result.page, per_page=result.per_page, total=result.total)
