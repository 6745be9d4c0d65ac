"""/products: the catalog (everyone reads; managers create and edit)."""
from flask import request
from pydantic import Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_permission
from webapp.blueprints.api.idempotency import run_once
from webapp.blueprints.api.schemas import (
    Flag,
    Id,
    Money,
    PackName,
    ProductOut,
    Quantity,
    Search,
    Unit,
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
from webapp.services import catalog, lists

ProductPage = page_model(ProductOut)


class ProductQuery(PageQuery):
    q: Search | None = Field(None, description="Part of the name or SKU, or the exact barcode.")
    category: str | None = Field(None, max_length=80)
    archived: bool | None = None


class ProductCreate(Body):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    category: str = Field("", max_length=80)
    unit: Unit = "piece"
    barcode: str | None = Field(None, max_length=64)
    sale_price: Money
    cost: Money | None = None
    reorder_level: Quantity | None = None
    archived: Flag = False
    preferred_supplier_id: Id | None = Field(None, description="Who it is bought from.")
    pack_size: Quantity | None = Field(None, description="Units in one buying pack (default 1); "
                                                   "above 1, the pack may be sold whole.")
    pack_price: Money | None = Field(None, description="Price of one whole pack at the counter; "
                                                       "none: pack_size × sale_price.")
    pack_name: PackName | None = Field(None, description="What the receipt calls the pack "
                                                         "(none: pack).")
    tracks_expiry: Flag = Field(None, description="Stock kept in batches by expiry date (every "
                                "stock-in needs `expires_on`; sales take the batch that expires "
                                "first). Left out: as most products of its category.")


class ProductUpdate(Body):
    sku: str = Field(None, min_length=1, max_length=64)
    name: str = Field(None, min_length=1, max_length=200)
    category: str = Field(None, max_length=80)
    unit: Unit = None
    barcode: str | None = Field(None, max_length=64)
    sale_price: Money = None
    cost: Money | None = None
    reorder_level: Quantity | None = None
    archived: Flag = Field(None, description="true archives the product; history stays.")
    preferred_supplier_id: Id | None = Field(None, description="Who it is bought from.")
    pack_size: Quantity | None = Field(None, description="Units in one buying pack.")
    pack_price: Money | None = Field(None, description="Price of one whole pack; null: "
                                                       "pack_size × sale_price.")
    pack_name: PackName | None = Field(None, description="What the receipt calls the pack.")
    tracks_expiry: Flag = Field(None, description="Turn on (refused with 409 "
                                "`stock_without_dates` while a store holds stock of it without "
                                "dates) or off expiry batches.")


def _fields(body):
    return body.model_dump(exclude_unset=True, mode="json")


@bp.get("/products")
@spec.validate(query=ProductQuery, resp=responses(HTTP_200=ProductPage), tags=["products"])
@replica_reads
def list_products():
    """Products, searched and filtered, by name."""
    query = request.context.query
    result = lists.products(query.q, query.category, query.archived, query.page,
                                 query.per_page)
    return page_of(ProductPage, result, [ProductOut.model_validate(p) for p in result.items])


@bp.post("/products")
@api_permission("catalog.manage")
@spec.validate(json=ProductCreate, resp=responses(HTTP_201=ProductOut), tags=["products"])
def create_product():
    """Add a product (SKU and barcode unique: 409)."""
    data = _fields(request.context.json)
    return run_once(data, lambda: (_out(catalog.create_product(actor(), data)), 201))


@bp.get("/products/<int:product_id>")
@spec.validate(resp=responses(HTTP_200=ProductOut), tags=["products"])
def get_product(product_id):
    """One product."""
    return ProductOut.model_validate(catalog.get_product(product_id))


@bp.patch("/products/<int:product_id>")
@api_permission("catalog.manage")
@spec.validate(json=ProductUpdate, resp=responses(HTTP_200=ProductOut), tags=["products"])
def update_product(product_id):
    """Change some fields of a product; `archived: true` archives it."""
    return _out(catalog.update_product(actor(), product_id, _fields(request.context.json)))


def _out(product):
    return ProductOut.model_validate(product).model_dump(mode="json")
