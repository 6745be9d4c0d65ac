"""/customers: the khata (udhaar book) of each store; /suppliers/<id>/payments|ledger: what a
store owes its suppliers (services/khata.py, services/payables.py). Shopkeepers see only their
stores' customers (another store's customer is 404)."""
from typing import Literal

from flask import request
from pydantic import BaseModel, Field

from webapp.blueprints.api import bp
from webapp.blueprints.api.auth import actor, api_user, check_store
from webapp.blueprints.api.idempotency import ledger_response, request_key
from webapp.blueprints.api.schemas import DecimalText, QueryId, Search
from webapp.blueprints.api.spec import PageQuery, body_model, page_model, page_of, responses, spec
from webapp.infra.replica import replica_reads
from webapp.models import CUSTOMER_ENTRY_KINDS, LANGUAGES, SUPPLIER_ENTRY_KINDS
from webapp.services import commands, khata, payables

Language = Literal[LANGUAGES]
Method = commands.Method


class CustomerOut(BaseModel):
    id: int
    store_id: int
    name: str
    phone: str | None = Field(description="+92 and the digits.")
    credit_limit: DecimalText | None = Field(description="At most this may be owed (none: "
                                                         "no limit).")
    balance: DecimalText = Field(description="What the customer owes: the sum of the khata's "
                                             "entries.")
    language: Language = Field(description="The reminder's language.")
    note: str
    created_at: str
    updated_at: str


class CustomerResult(BaseModel):
    customer: CustomerOut


CustomerPage = page_model(CustomerOut)


class CustomerQuery(PageQuery):
    store_id: QueryId | None = None
    q: Search | None = Field(None, description="Part of the name, or 3+ digits of the phone.")


CustomerCreate = body_model(commands.NewCustomer, "CustomerCreate")
CustomerUpdate = body_model(commands.NewCustomer, "CustomerUpdate", path=("store_id",),
                            partial=True)
CustomerPaymentIn = body_model(commands.CustomerPayment, "CustomerPaymentIn",
                               path=("customer_id",))


class EntryOut(BaseModel):
    id: int
    customer_id: int
    kind: Literal[CUSTOMER_ENTRY_KINDS]
    amount: DecimalText = Field(description="+ when the customer owes more.")
    balance_after: DecimalText
    method: Method | None
    sale_id: int | None
    note: str
    user_id: int | None
    created_at: str


class PaymentResult(BaseModel):
    entry: EntryOut
    customer: CustomerOut


EntryPage = page_model(EntryOut, "CustomerEntryPage")


class ReminderOut(BaseModel):
    text: str = Field(description="The balance in the customer's language, Western digits.")
    whatsapp_url: str = Field(description="https://wa.me/<digits>?text=…")
    balance: DecimalText
    language: Language


@bp.get("/customers")
@spec.validate(query=CustomerQuery, resp=responses(HTTP_200=CustomerPage), tags=["customers"])
@replica_reads
def list_customers():
    """Customers of the stores this user may see, who owes most first."""
    query = request.context.query
    if query.store_id is not None:
        check_store(query.store_id)
    return page_of(CustomerPage, khata.list_customers(api_user(), query.store_id, query.q,
                                                      query.page, query.per_page))


@bp.post("/customers")
@spec.validate(json=CustomerCreate, resp=responses(HTTP_201=CustomerResult), tags=["customers"])
def create_customer():
    """Add a customer: 201 with balance 0.00; the same phone in the store → 409 duplicate."""
    data = request.context.json.model_dump(exclude_unset=True)
    return ledger_response(khata.create_customer(actor(), api_user(), idempotency_key=request_key(),
                                                 **data))


@bp.get("/customers/<int:customer_id>")
@spec.validate(resp=responses(HTTP_200=CustomerResult), tags=["customers"])
def get_customer(customer_id):
    """One customer with its balance."""
    return {"customer": khata.get_customer(api_user(), customer_id)}


@bp.patch("/customers/<int:customer_id>")
@spec.validate(json=CustomerUpdate, resp=responses(HTTP_200=CustomerResult), tags=["customers"])
def update_customer(customer_id):
    """Change name, phone, credit limit, language or note (the balance only moves by entries)."""
    data = request.context.json.model_dump(exclude_unset=True)
    return ledger_response(khata.update_customer(actor(), api_user(), customer_id,
                                                 idempotency_key=request_key(), **data))


@bp.post("/customers/<int:customer_id>/payments")
@spec.validate(json=CustomerPaymentIn, resp=responses(HTTP_201=PaymentResult),
               tags=["customers"])
def receive_payment(customer_id):
    """Money received from the customer: 201 {entry, customer}; more than owed → 422."""
    body = request.context.json
    return ledger_response(khata.receive_payment(
        actor(), api_user(), customer_id, amount=body.amount, method=body.method, note=body.note,
        idempotency_key=request_key()))


@bp.get("/customers/<int:customer_id>/ledger")
@spec.validate(query=PageQuery, resp=responses(HTTP_200=EntryPage), tags=["customers"])
@replica_reads
def customer_ledger(customer_id):
    """The customer's khata, newest entry first."""
    query = request.context.query
    return page_of(EntryPage, khata.entries(api_user(), customer_id, query.page,
                                            query.per_page))


@bp.get("/customers/<int:customer_id>/reminder")
@spec.validate(resp=responses(HTTP_200=ReminderOut), tags=["customers"])
def customer_reminder(customer_id):
    """A polite reminder of the balance in the customer's language and its WhatsApp link."""
    return khata.reminder(api_user(), customer_id)


# ---------------------------------------------------------------------------------------------
# What a store owes its suppliers


SupplierPaymentIn = body_model(commands.SupplierPayment, "SupplierPaymentIn",
                               path=("supplier_id",))


class SupplierEntryOut(BaseModel):
    id: int
    supplier_id: int
    store_id: int
    kind: Literal[SUPPLIER_ENTRY_KINDS]
    amount: DecimalText = Field(description="+ when the store owes more.")
    balance_after: DecimalText
    method: Method | None
    purchase_receipt_id: int | None
    note: str
    user_id: int | None
    created_at: str


class SupplierPaymentResult(BaseModel):
    entry: SupplierEntryOut
    balance: DecimalText = Field(description="What the store owes the supplier now.")


class SupplierLedgerQuery(PageQuery):
    store_id: QueryId


class SupplierLedger(BaseModel):
    items: list[SupplierEntryOut]
    page: int
    per_page: int
    total: int
    balance: DecimalText = Field(description="What the store owes the supplier.")


@bp.post("/suppliers/<int:supplier_id>/payments")
@spec.validate(json=SupplierPaymentIn, resp=responses(HTTP_201=SupplierPaymentResult),
               tags=["suppliers"])
def pay_supplier(supplier_id):
    """A payment from a store to the supplier: 201 {entry, balance}; more than owed → 422."""
    body = request.context.json
    return ledger_response(payables.pay(actor(), api_user(), supplier_id, store_id=body.store_id,
                                        amount=body.amount, method=body.method, note=body.note,
                                        idempotency_key=request_key()))


@bp.get("/suppliers/<int:supplier_id>/ledger")
@spec.validate(query=SupplierLedgerQuery, resp=responses(HTTP_200=SupplierLedger),
               tags=["suppliers"])
@replica_reads
def supplier_ledger(supplier_id):
    """A store's account with the supplier: entries newest first and what is owed."""
    query = request.context.query
    check_store(query.store_id)
    balance, page = payables.entries(api_user(), supplier_id, query.store_id, query.page,
                                     query.per_page)
    return SupplierLedger(items=page.items, page=page.page, per_page=page.per_page,
                          total=page.total, balance=str(balance))
