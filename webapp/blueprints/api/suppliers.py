"""/suppliers: everyone reads (stock-in names one); managers add them."""
from flask import request
from pydantic import Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_permission
from webapp.blueprints.api.idempotency import run_once
from webapp.blueprints.api.schemas import Search, SupplierOut
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

SupplierPage = page_model(SupplierOut)


class SupplierQuery(PageQuery):
    q: Search | None = Field(None, description="Part of the name.")


class SupplierCreate(Body):
    name: str = Field(min_length=1, max_length=120)
    phone: str = Field("", max_length=40)
    notes: str = Field("", max_length=2000)


@bp.get("/suppliers")
@spec.validate(query=SupplierQuery, resp=responses(HTTP_200=SupplierPage), tags=["suppliers"])
@replica_reads
def list_suppliers():
    """Suppliers by name."""
    query = request.context.query
    result = lists.suppliers(query.q, query.page, query.per_page)
    return page_of(SupplierPage, result, [SupplierOut.model_validate(s) for s in result.items])


@bp.post("/suppliers")
@api_permission("suppliers.manage")
@spec.validate(json=SupplierCreate, resp=responses(HTTP_201=SupplierOut), tags=["suppliers"])
def create_supplier():
    """Add a supplier."""
    data = request.context.json.model_dump()

    def create():
        supplier = catalog.create_supplier(actor(), data)
        return SupplierOut.model_validate(supplier).model_dump(mode="json"), 201

    return run_once(data, create)
