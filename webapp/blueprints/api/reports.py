"""/reports: low stock, valuation, sales and movements; shopkeepers get their own stores only."""
from datetime import date, datetime

from flask import request
from pydantic import BaseModel, ConfigDict, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import api_user, check_store
from webapp.blueprints.api.schemas import DecimalText, QueryId, Search
from webapp.blueprints.api.spec import PageQuery, page_model, responses, spec
from webapp.infra.replica import replica_reads
from webapp.jobs.tasks import refresh_inline_without_worker
from webapp.services import expiry, policy, reports

DateText = str | None


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    store_id: QueryId | None = Field(None, description="One store (default: every store you see).")


class RangeQuery(_Query):
    date_from: DateText = Field(None, alias="from", max_length=10,
                                description="First Pakistan day, YYYY-MM-DD (default: 27 days "
                                            "before `to`).")
    date_to: DateText = Field(None, alias="to", max_length=10,
                              description="Last Pakistan day, YYYY-MM-DD (default: today).")


class SalesQuery(RangeQuery):
    top: int = Field(10, ge=1, le=1000, description="How many top products.")


class LowStockQuery(PageQuery):
    store_id: QueryId | None = Field(None, description="One store (default: every store you see).")
    q: Search | None = Field(None, description="Part of the name or SKU, or the barcode.")
    category: str | None = Field(None, max_length=80)
    city: str | None = Field(None, max_length=80)
    cover_days: int = Field(reports.DEFAULT_COVER_DAYS, ge=1, le=365,
                            description="Days of recent sales the suggested reorder covers.")


class ValuationQuery(PageQuery):
    store_id: QueryId | None = Field(None, description="One store (default: every store you see).")
    city: str | None = Field(None, max_length=80)


class LowStockOut(BaseModel):
    store_id: int
    store_code: str
    product_id: int
    sku: str
    name: str
    unit: str
    quantity: DecimalText
    reorder_level: DecimalText
    negative: bool
    sold_28_days: DecimalText
    avg_daily_sales: DecimalText
    suggested: DecimalText = Field(description="Suggested reorder quantity.")


class StoreValueOut(BaseModel):
    store_id: int
    store_code: str
    store_name: str
    city: str
    levels: int
    low: int
    negative: int
    without_cost: int = Field(description="Levels with stock but no cost price (0 at cost).")
    units: DecimalText
    value_cost: DecimalText
    value_sale: DecimalText


class ValueTotalOut(BaseModel):
    stores: int
    levels: int
    low: int
    negative: int
    without_cost: int
    units: DecimalText
    value_cost: DecimalText
    value_sale: DecimalText


class ValuationOut(page_model(StoreValueOut, "StoreValuePage")):
    totals: ValueTotalOut
    as_of: datetime | None = Field(description="Every store: figures of the last refresh; "
                                               "null when counted now.")


class Figures(BaseModel):
    quantity: DecimalText
    amount: DecimalText
    movements: int


class SalesFigures(Figures):
    """Net of voids and returns (recorded on the day of the void or return)."""

    quantity: DecimalText = Field(description="Quantity sold, minus what voids and returns "
                                              "put back.")
    amount: DecimalText = Field(description="Sales value, minus what voids and returns refunded.")
    movements: int = Field(description="Sale movements (basket lines) recorded.")
    cost: DecimalText = Field(description="Cost of what was sold (net): the unit cost recorded "
                                          "on each sale movement, the product's cost price "
                                          "then; 0 where it had none.")
    profit: DecimalText = Field(description="amount − cost.")
    refunded: DecimalText = Field(description="Sales value given back by voids and returns.")
    reversals: int = Field(description="Movements of voids and returns.")
    without_cost: int = Field(description="Sale movements with no cost price (counted at 0).")


class DaySalesOut(SalesFigures):
    day: date


class StoreSalesOut(SalesFigures):
    store_id: int
    store_code: str
    store_name: str


class ProductSalesOut(SalesFigures):
    product_id: int
    sku: str
    name: str
    unit: str
    archived: bool


class SalesOut(BaseModel):
    first_day: date
    last_day: date
    total: SalesFigures
    days: list[DaySalesOut]
    stores: list[StoreSalesOut]
    top_products: list[ProductSalesOut]


class TypeOut(Figures):
    type: str
    delta: DecimalText


class ReasonOut(Figures):
    reason: str


class MovementSummaryOut(BaseModel):
    first_day: date
    last_day: date
    types: list[TypeOut]
    removal_reasons: list[ReasonOut]


class ExpiringQuery(PageQuery):
    store_id: QueryId | None = Field(None, description="One store (default: every store you see).")
    within_days: int = Field(expiry.DEFAULT_WITHIN_DAYS, ge=0, le=expiry.MAX_WITHIN_DAYS,
                             description="Batches expiring within this many Pakistan days from "
                                         "today; expired ones always come first.")


class ExpiringBatchOut(BaseModel):
    store_id: int
    store_code: str
    product_id: int
    sku: str
    name: str
    unit: str
    expires_on: date = Field(description="The batch's last good day.")
    batch_code: str | None
    quantity: DecimalText = Field(description="What is left of the batch.")
    value_cost: DecimalText | None = Field(description="quantity × the product's cost price; "
                                                       "null without a cost price.")
    expired: bool = Field(description="expires_on is before today (Pakistan time).")
    days_left: int = Field(description="Days from today to expires_on (negative: expired).")


class ExpiringTotalsOut(BaseModel):
    batches: int
    expired_batches: int
    value_cost: DecimalText = Field(description="Every listed batch at cost.")
    expired_value: DecimalText = Field(description="The expired ones at cost.")
    without_cost: int = Field(description="Batches of products without a cost price (0).")


class ExpiredStoreOut(BaseModel):
    store_id: int
    store_code: str
    movements: int
    value_cost: DecimalText


class ExpiredLastMonthOut(BaseModel):
    """Removals with reason `expired` in the last calendar month, at their recorded cost."""

    first_day: date
    last_day: date
    movements: int
    value_cost: DecimalText
    stores: list[ExpiredStoreOut]


class ExpiringOut(page_model(ExpiringBatchOut, "ExpiringBatchPage")):
    totals: ExpiringTotalsOut
    expired_last_month: ExpiredLastMonthOut


LowStockPage = page_model(LowStockOut, "LowStockPage")


def _text(item):
    return {k: (str(v) if hasattr(v, "quantize") else v) for k, v in item.items()}


def _scope(store_id):
    """The stores this caller may see, narrowed to store_id (404 if not theirs)."""
    refresh_inline_without_worker()
    if store_id is None:
        return policy.visible_store_ids(api_user())
    check_store(store_id)
    return {store_id}


@bp.get("/reports/low-stock")
@spec.validate(query=LowStockQuery, resp=responses(HTTP_200=LowStockPage), tags=["reports"])
@replica_reads
def low_stock_report():
    """Levels at or under their reorder level, store by store, with a suggested reorder."""
    query = request.context.query
    stores = _scope(query.store_id)
    page = reports.low_stock(stores, q=query.q, category=query.category, city=query.city,
                             cover_days=query.cover_days, page=query.page,
                             per_page=query.per_page)
    return LowStockPage(items=[_text(i) for i in page.items], page=page.page,
                        per_page=page.per_page, total=page.total)


@bp.get("/reports/valuation")
@spec.validate(query=ValuationQuery, resp=responses(HTTP_200=ValuationOut), tags=["reports"])
@replica_reads
def valuation_report():
    """Stock value at cost and at sale price per store, and in total."""
    query = request.context.query
    _scope(query.store_id)
    result = reports.valuation(policy.visible_store_ids(api_user()), store_id=query.store_id,
                               city=query.city, page=query.page, per_page=query.per_page)
    page = result["page"]
    return ValuationOut(items=[_text(i) for i in page.items], page=page.page,
                        per_page=page.per_page, total=page.total,
                        totals=_text(result["total"]), as_of=result["as_of"])


@bp.get("/reports/sales")
@spec.validate(query=SalesQuery, resp=responses(HTTP_200=SalesOut), tags=["reports"])
@replica_reads
def sales_report():
    """Sales per Pakistan day, per store and top products for a date range, net of voids and
    returns, with cost and profit."""
    query = request.context.query
    stores = _scope(query.store_id)
    span = reports.date_range(query.date_from, query.date_to)
    days = reports.sales_by_day(stores, span)
    return SalesOut(first_day=span.start, last_day=span.end,
                    total=_text(reports.sales_total(days)),
                    days=[_text(d) for d in days],
                    stores=[_text(s) for s in reports.sales_by_store(stores, span)],
                    top_products=[_text(p) for p in
                                  reports.sales_by_product(stores, span, limit=query.top)])


@bp.get("/reports/movements")
@spec.validate(query=RangeQuery, resp=responses(HTTP_200=MovementSummaryOut), tags=["reports"])
@replica_reads
def movements_report():
    """Movements by type, and removals (shrinkage) by reason, for a date range."""
    query = request.context.query
    stores = _scope(query.store_id)
    span = reports.date_range(query.date_from, query.date_to)
    return MovementSummaryOut(first_day=span.start, last_day=span.end,
                              types=[_text(t) for t in reports.movements_by_type(stores, span)],
                              removal_reasons=[_text(r) for r in
                                               reports.removals_by_reason(stores, span)])


@bp.get("/reports/expiring")
@spec.validate(query=ExpiringQuery, resp=responses(HTTP_200=ExpiringOut), tags=["reports"])
@replica_reads
def expiring_report():
    """Batches with stock left that have expired or expire within `within_days`, soonest
    first, valued at cost; and what was removed as expired last month."""
    query = request.context.query
    stores = _scope(query.store_id)
    summary = expiry.totals(stores, None, query.within_days)
    page = expiry.expiring(stores, None, query.within_days, page=query.page,
                           per_page=query.per_page)
    last_month = expiry.expired_last_month(stores)
    return ExpiringOut(
        items=[_text(b) for b in page.items], page=page.page, per_page=page.per_page,
        total=summary["batches"], totals=_text(summary),
        expired_last_month=dict(_text(last_month),
                                stores=[_text(s) for s in last_month["stores"]]))
