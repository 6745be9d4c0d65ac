"""An integrator's first day, through a Python client generated at test time from the served
OpenAPI document (openapi-python-client, into a temporary folder: nothing generated is kept;
offline: it reads the document from a file, and runs with no network where it can).

The server does not check its own responses here (as in production), so the generated models
are what reads every answer: a response field renamed or dropped without the document following
fails to parse, a field the document does not declare is caught by `documented`, and a status
the document does not list raises (raise_on_unexpected_status).
"""
import importlib
import json
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import httpx
import pytest

from tests.live_api import API_RATE_LIMIT, live_api

pytestmark = pytest.mark.postgres

PACKAGE = "kiryana_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")
# Generation takes about a second of CPU; the bound only catches a generator gone wrong.
GENERATION_SECONDS = 60
# Schemas the document declares open (additionalProperties: true), such as an error's details.
OPEN = set()


@pytest.fixture(scope="module")
def site():
    with live_api() as site:
        yield site


@pytest.fixture(scope="module")
def generated(site, tmp_path_factory):
    """The client package generated from the live server's /api/v1/openapi.json."""
    folder = tmp_path_factory.mktemp("generated")
    document = folder / "openapi.json"
    document.write_bytes(httpx.get(f"{site['url']}/api/v1/openapi.json").content)
    config = folder / "config.json"  # JSON is YAML: no post hooks (ruff), our package name
    config.write_text(f'{{"post_hooks": [], "project_name_override": "{PACKAGE}", '
                      f'"package_name_override": "{PACKAGE}"}}')
    started = time.monotonic()
    subprocess.run([*_offline(), str(GENERATOR), "generate", "--path", str(document),
                    "--meta", "none", "--config", str(config),
                    "--output-path", str(folder / PACKAGE)],
                   check=True, capture_output=True, timeout=GENERATION_SECONDS, cwd=folder)
    assert time.monotonic() - started < GENERATION_SECONDS
    OPEN.update(name for name, schema in json.loads(document.read_bytes())["components"]
                ["schemas"].items() if schema.get("additionalProperties") is True)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _offline():
    """Where this machine lets us, the generator runs in a network namespace of its own with no
    network at all, so a generator that fetched anything would fail here."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"],
                                                  capture_output=True).returncode == 0:
        return ["unshare", "-n"]
    return []


def documented(value, path="response"):
    """Every object the client parsed has only the fields its schema declares (a model with no
    declared field is a free-form object, such as a sync item's movement; an open one takes
    more)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            documented(item, f"{path}[{i}]")
    elif attrs.has(type(value)):
        declared = [f.name for f in attrs.fields(type(value)) if f.name != "additional_properties"]
        extra = getattr(value, "additional_properties", {})
        assert not (declared and extra) or type(value).__name__ in OPEN, \
            f"{path}: not in the document: {sorted(extra)}"
        for name in declared:
            documented(getattr(value, name), f"{path}.{name}")
    return value


class Api:
    """Calls a generated operation and checks its status and its parsed body."""

    def __init__(self, generated, client):
        self.generated, self.client = generated, client

    def __call__(self, operation, status, /, **kwargs):
        group, name = operation.split(".")
        module = importlib.import_module(f"{PACKAGE}.api.{group}.{name}")
        response = module.sync_detailed(client=self.client, **kwargs)
        assert response.status_code == status, (operation, response.content)
        self.last = response
        return documented(response.parsed)

    def model(self, name):
        return getattr(importlib.import_module(f"{PACKAGE}.models"), name)


def test_a_whole_day_through_a_generated_client(site, generated):
    models = importlib.import_module(f"{PACKAGE}.models")
    anonymous = generated.Client(base_url=site["url"], raise_on_unexpected_status=True)
    api = Api(generated, anonymous)

    # A token for the username and password; a wrong password is 401 invalid_credentials.
    refused = api("auth.create_token", 401, body=models.TokenRequest(
        username=site["username"], password="not-the-password"))
    assert refused.error.code == "invalid_credentials"
    token = api("auth.create_token", 201, body=models.TokenRequest(
        username=site["username"], password=site["password"], name="pos"))
    assert token.token.startswith("kir_") and token.expires_at.utcoffset() == timedelta(0)
    api.client = generated.AuthenticatedClient(base_url=site["url"], token=token.token,
                                               raise_on_unexpected_status=True)

    # Two stores and two products; a PATCH with no body changes nothing.
    saddar = api("stores.create_store", 201, body=models.StoreCreate(
        code="KHI-0001", name="Saddar", city="Karachi"))
    clifton = api("stores.create_store", 201, body=models.StoreCreate(
        code="KHI-0002", name="Clifton", city="Karachi"))
    assert (saddar.code, saddar.active, saddar.allow_negative_stock) == ("KHI-0001", True, False)
    assert api.last.headers["X-RateLimit-Limit"] == API_RATE_LIMIT.split()[0]
    duplicate = api("stores.create_store", 409, body=models.StoreCreate(code="khi-0001",
                                                                        name="Again"))
    assert duplicate.error.code == "duplicate_code"
    assert api("stores.update_store", 200, store_id=clifton.id).name == "Clifton"
    assert api("stores.update_store", 200, store_id=clifton.id,
               body=models.StoreUpdate(phone="021-1234567")).phone == "021-1234567"
    assert [s.code for s in api("stores.list_stores", 200).items] == ["KHI-0001", "KHI-0002"]
    assert api("stores.get_store", 200, store_id=saddar.id).name == "Saddar"

    sugar = api("products.create_product", 201, body=models.ProductCreate(
        sku="CHEENI-1KG", name="Cheeni", sale_price="150.00", cost="120.00",
        unit=models.ProductCreateUnit.KG, reorder_level="5", category="Grocery"))
    soap = api("products.create_product", 201, body=models.ProductCreate(
        sku="SOAP-LUX", name="Lux soap", sale_price="60", category="Toiletries"))
    assert (sugar.sale_price, sugar.unit, soap.unit) == ("150.00", "kg", "piece")
    soap = api("products.update_product", 200, product_id=soap.id,
               body=models.ProductUpdate(sale_price="65.00"))
    assert soap.sale_price == "65.00"
    assert api("products.get_product", 200, product_id=sugar.id).sku == "CHEENI-1KG"
    found = api("products.list_products", 200, q="cheeni")
    assert (found.total, [p.id for p in found.items]) == (1, [sugar.id])

    # A supplier, and stock in: one movement per product, the first retried with its key.
    supplier = api("suppliers.create_supplier", 201, body=models.SupplierCreate(
        name="Karachi Wholesale", phone="021-5550000"))
    assert [s.name for s in api("suppliers.list_suppliers", 200).items] == ["Karachi Wholesale"]
    stock_in = models.MovementCreate(store_id=saddar.id, product_id=sugar.id, quantity="20",
                                     type_=models.MovementCreateType.STOCK_IN,
                                     supplier_id=supplier.id, unit_cost="118.50")
    received = api("movements.record_movement", 201, body=stock_in,
                   idempotency_key="delivery-2026-12-06-1")
    assert (received.movement.delta, received.level.quantity) == ("20.000", "20.000")
    replayed = api("movements.record_movement", 201, body=stock_in,
                   idempotency_key="delivery-2026-12-06-1")
    assert api.last.headers["Idempotent-Replayed"] == "true"
    assert (replayed.movement.id, replayed.level.quantity) == (received.movement.id, "20.000")
    reused = api("movements.record_movement", 422, body=models.MovementCreate(
        store_id=saddar.id, product_id=sugar.id, quantity="21",
        type_=models.MovementCreateType.STOCK_IN), idempotency_key="delivery-2026-12-06-1")
    assert reused.error.code == "idempotency_key_reused"
    api("movements.record_movement", 201, body=models.MovementCreate(
        store_id=saddar.id, sku="soap-lux", quantity="12",
        type_=models.MovementCreateType.STOCK_IN))

    # A basket sale (sugar by amount, soap by quantity), a short basket refused whole.
    sale = api("sales.complete_sale", 201, idempotency_key="till-1-sale-1",
               body=models.SaleCreate(store_id=saddar.id, lines=[
                   models.SaleLineIn(sku="CHEENI-1KG", amount="300"),
                   models.SaleLineIn(product_id=soap.id, quantity="3")])).sale
    assert (sale.number, sale.status, sale.total) == (1, "completed", "495.00")
    assert [(line.sku, line.quantity, line.line_total, line.level.quantity)
            for line in sale.lines] == [("CHEENI-1KG", "2.000", "300.00", "18.000"),
                                        ("SOAP-LUX", "3.000", "195.00", "9.000")]
    short = api("sales.complete_sale", 409, body=models.SaleCreate(store_id=saddar.id, lines=[
        models.SaleLineIn(product_id=soap.id, quantity="1"),
        models.SaleLineIn(product_id=sugar.id, quantity="100")]))
    assert short.error.code == "insufficient_stock"
    assert list(short.error.fields.additional_properties) == ["lines.1.quantity"]

    # A return of one soap; a second sale voided with no body; voiding it again is refused.
    returned = api("sales.return_lines", 201, sale_id=sale.id, body=models.ReturnCreate(
        lines=[models.ReturnLineIn(product_id=soap.id, quantity="1")]))
    assert (returned.return_.amount, returned.return_.lines[0].level.quantity) == \
        ("65.00", "10.000")
    assert returned.sale.refunded == "65.00" and returned.sale.lines[1].returnable == "2.000"
    too_many = api("sales.return_lines", 422, sale_id=sale.id, body=models.ReturnCreate(
        lines=[models.ReturnLineIn(product_id=soap.id, quantity="5")]))
    assert too_many.error.fields.additional_properties
    second = api("sales.complete_sale", 201, body=models.SaleCreate(
        store_id=saddar.id, lines=[models.SaleLineIn(product_id=sugar.id, quantity="1.5")])).sale
    assert (second.number, second.total) == (2, "225.00")
    voided = api("sales.void_sale", 200, sale_id=second.id).sale
    assert (voided.status, voided.voided_at is not None) == ("voided", True)
    assert api("sales.void_sale", 409, sale_id=second.id).error.code == "already_voided"
    assert api("sales.get_sale", 200, sale_id=sale.id).sale.total == "495.00"
    listed = api("sales.list_sales", 200, store_id=saddar.id)
    assert [(s.number, s.status) for s in listed.items] == [(2, "voided"), (1, "completed")]

    # A transfer to the other store, and a shelf count that finds one soap missing.
    moved = api("movements.create_transfer", 201, body=models.TransferCreate(
        from_store_id=saddar.id, to_store_id=clifton.id, product_id=sugar.id, quantity="4"))
    assert (moved.from_level.quantity, moved.to_level.quantity) == ("14.000", "4.000")
    assert moved.transfer_out.transfer_id == moved.transfer_in.transfer_id == moved.transfer_id
    counted = api("stock.apply_count", 201, store_id=saddar.id, body=models.CountCreate(counts=[
        models.CountLine(product_id=soap.id, quantity="9"),
        models.CountLine(product_id=sugar.id, quantity="14")]))
    assert [(m.product_id, m.delta, m.balance_after) for m in counted.adjustments] == \
        [(soap.id, "-1.000", "9.000")]
    assert [level.product_id for level in counted.unchanged] == [sugar.id]

    # A sync batch from an offline till: a job, each item applied once, one refused.
    batch = models.SyncBatch(movements=[
        models.SyncMovement(id="till-1-17", store_id=clifton.id, product_id=sugar.id,
                            quantity="1", type_=models.SyncMovementType.SALE),
        models.SyncMovement(id="till-1-18", store_id=clifton.id, product_id=sugar.id,
                            quantity="50", type_=models.SyncMovementType.SALE)])
    job = api("sync.submit_sync", 202, body=batch, idempotency_key="till-1-batch-4")
    assert job.status_url == f"/api/v1/sync/{job.job_id}"
    for _ in range(50):
        status = api("sync.sync_status", 200, job_id=job.job_id)
        if status.status == "done":
            break
        time.sleep(0.1)
    assert (status.status, status.total, status.applied, status.failed) == ("done", 2, 1, 1)
    assert [(item.id, item.status) for item in status.items] == [
        ("till-1-17", "applied"), ("till-1-18", "failed")]
    assert status.items[0].level.additional_properties["quantity"] == "3.000"
    assert status.items[1].error.additional_properties["code"] == "insufficient_stock"

    # Stock: the store's list, one level from the cache, what runs low.
    stock = api("stock.store_stock", 200, store_id=saddar.id)
    assert [(row.sku, row.quantity, row.low) for row in stock.items] == [
        ("CHEENI-1KG", "14.000", False), ("SOAP-LUX", "9.000", False)]
    level = api("stock.stock_level", 200, store_id=clifton.id, product_id=sugar.id)
    assert (level.quantity, level.low) == ("3.000", True)
    assert [row.sku for row in api("stock.store_stock", 200, store_id=clifton.id,
                                   low=True).items] == ["CHEENI-1KG"]

    # Following the ledger: after_id pages oldest first, and an empty page means caught up.
    followed, after = [], 0
    while True:
        page = api("movements.list_movements", 200, after_id=after, per_page=3)
        if not page.items:
            break
        followed += page.items
        after = page.items[-1].id
    assert [m.id for m in followed] == sorted(m.id for m in followed)
    assert [m.type_ for m in followed] == [
        "stock_in", "stock_in", "sale", "sale", "adjustment", "sale", "adjustment",
        "transfer_out", "transfer_in", "adjustment", "sale"]
    newest = api("movements.list_movements", 200, store_id=clifton.id)
    assert [m.type_ for m in newest.items] == ["sale", "transfer_in"]

    # The reports.
    low = api("reports.low_stock_report", 200)
    assert [(row.store_code, row.sku) for row in low.items] == [("KHI-0002", "CHEENI-1KG")]
    valuation = api("reports.valuation_report", 200)
    assert valuation.totals.stores == 2
    assert Decimal(valuation.totals.value_sale) == 17 * 150 + 9 * 65
    sales = api("reports.sales_report", 200, store_id=saddar.id)
    # Net of the return and the void: 495 + 225 sold, 65 + 225 put back.
    assert (sales.total.amount, sales.total.refunded, sales.total.reversals) == \
        ("430.00", "290.00", 2)
    assert [p.sku for p in sales.top_products] == ["CHEENI-1KG", "SOAP-LUX"]
    summary = api("reports.movements_report", 200)
    assert {t.type_: t.movements for t in summary.types}["transfer_out"] == 1
    audit = api("audit.list_audit", 200, action="sale.void")
    assert [event.entity_id for event in audit.items] == [str(second.id)]

    # Purchasing: an order to the supplier, received through the ledger.
    order = api("purchasing.create_order", 201, body=models.OrderCreate(
        store_id=clifton.id, supplier_id=supplier.id, lines=[
            models.OrderLineIn(product_id=sugar.id, packs="10", unit_cost="119.00")]))
    assert (order.status, order.total_cost) == ("draft", "1190.00")
    sent = api("purchasing.update_order", 200, order_id=order.id,
               body=models.OrderPatch(status=models.OrderPatchStatusType0.SENT))
    assert sent.status == "sent"
    receipt = api("purchasing.receive", 201, order_id=order.id, body=models.ReceiptCreate(
        lines=[models.ReceiptLineIn(product_id=sugar.id, quantity="10")]))
    assert receipt.order.status == "received" and receipt.levels[0].quantity == "13.000"
    assert receipt.movements[0].unit_cost == "119.00" and not receipt.over_received
    assert [o.id for o in api("purchasing.list_orders", 200, status=
                              models.OrderQueryStatusType0.RECEIVED).items] == [order.id]
    assert api("purchasing.get_order", 200, order_id=order.id).lines[0].received_quantity == \
        "10.000"

    # The khata: a customer, a sale partly on credit, a payment, the reminder.
    customer = api("customers.create_customer", 201, body=models.CustomerCreate(
        store_id=clifton.id, name="Bilal", phone="0321 7654321", credit_limit="1000")).customer
    assert (customer.phone, customer.balance, customer.credit_limit) == \
        ("+923217654321", "0.00", "1000.00")
    assert api("customers.create_customer", 409, body=models.CustomerCreate(
        store_id=clifton.id, name="Bilal again", phone="+923217654321")).error.code == "duplicate"
    credit = api("sales.complete_sale", 201, body=models.SaleCreate(
        store_id=clifton.id, customer_id=customer.id, lines=[
            models.SaleLineIn(product_id=sugar.id, quantity="2")], payments=[
            models.PaymentIn(method=models.PaymentInMethod.CASH, amount="100"),
            models.PaymentIn(method=models.PaymentInMethod.CREDIT, amount="200")])).sale
    assert (credit.customer_id, [(p.method, p.amount) for p in credit.payments]) == \
        (customer.id, [("cash", "100.00"), ("credit", "200.00")])
    over = api("sales.complete_sale", 409, body=models.SaleCreate(
        store_id=clifton.id, customer_id=customer.id, lines=[
            models.SaleLineIn(product_id=sugar.id, quantity="6")], payments=[
            models.PaymentIn(method=models.PaymentInMethod.CREDIT, amount="900")]))
    assert over.error.code == "credit_limit_exceeded"
    mismatch = api("sales.complete_sale", 422, body=models.SaleCreate(
        store_id=clifton.id, lines=[models.SaleLineIn(product_id=sugar.id, quantity="1")],
        payments=[models.PaymentIn(method=models.PaymentInMethod.CASH, amount="1")]))
    assert mismatch.error.code == "payments_mismatch"
    paid = api("customers.receive_payment", 201, customer_id=customer.id,
               idempotency_key="khata-bilal-1", body=models.CustomerPaymentIn(
                   amount="150", method=models.CustomerPaymentInMethod.WALLET, note="JazzCash"))
    assert (paid.entry.kind, paid.entry.amount, paid.customer.balance) == \
        ("payment", "-150.00", "50.00")
    assert [(e.kind, e.balance_after) for e in api(
        "customers.customer_ledger", 200, customer_id=customer.id).items] == \
        [("payment", "50.00"), ("sale", "200.00")]
    assert api("customers.get_customer", 200, customer_id=customer.id).customer.balance == "50.00"
    assert api("customers.update_customer", 200, customer_id=customer.id).customer.name == "Bilal"
    assert api("customers.update_customer", 200, customer_id=customer.id,
               body=models.CustomerUpdate(language=models.CustomerUpdateLanguage.EN)
               ).customer.language == "en"
    assert [c.name for c in api("customers.list_customers", 200, store_id=clifton.id).items] \
        == ["Bilal"]
    reminder = api("customers.customer_reminder", 200, customer_id=customer.id)
    assert reminder.whatsapp_url.startswith("https://wa.me/923217654321?text=")

    # What the store owes the supplier: the receipt (10 × 119.00), less a payment.
    settled = api("suppliers.pay_supplier", 201, supplier_id=supplier.id,
                  body=models.SupplierPaymentIn(store_id=clifton.id, amount="500",
                                                method=models.SupplierPaymentInMethod.CASH))
    assert settled.balance == "690.00"
    owed = api("suppliers.supplier_ledger", 200, supplier_id=supplier.id, store_id=clifton.id)
    assert (owed.balance, [e.kind for e in owed.items]) == ("690.00", ["payment", "receipt"])

    # The day's closing, once.
    closed = api("closings.close_day", 201, store_id=clifton.id,
                 body=models.ClosingCreate(counted_cash="100.00", note="Evening")).closing
    assert (closed.sales_by_method.cash, closed.sales_by_method.credit,
            closed.customer_payments.wallet, closed.paid_to_suppliers) == \
        ("100.00", "200.00", "150.00", "500.00")
    assert Decimal(closed.difference) == Decimal(closed.counted_cash) - \
        Decimal(closed.expected_cash)
    again = api("closings.close_day", 409, store_id=clifton.id,
                body=models.ClosingCreate(counted_cash="100.00"))
    assert again.error.code == "already_closed"
    assert [c.id for c in api("closings.list_closings", 200, store_id=clifton.id).items] == \
        [closed.id]

    # A bad request is the error envelope with a field, and a stranger's id is 404.
    invalid = api("movements.record_movement", 422, body=models.MovementCreate(
        store_id=saddar.id, product_id=sugar.id, quantity="-1",
        type_=models.MovementCreateType.SALE))
    assert invalid.error.code == "invalid" and "quantity" in invalid.error.fields.to_dict()
    assert api("sales.get_sale", 404, sale_id=999999).error.code == "not_found"


def test_a_response_the_document_does_not_describe_fails_the_client(site, generated):
    """What guards the test above: a renamed field cannot be read, an extra one is reported."""
    models = importlib.import_module(f"{PACKAGE}.models")
    store = {"id": 1, "code": "KHI-0001", "name": "Saddar", "city": "", "address": "",
             "phone": "", "active": True, "allow_negative_stock": False,
             "created_at": "2026-12-06T07:00:00+00:00", "updated_at": "2026-12-06T07:00:00+00:00"}
    documented(models.StoreOut.from_dict(store))
    renamed = {("store_code" if key == "code" else key): value for key, value in store.items()}
    with pytest.raises(KeyError):
        models.StoreOut.from_dict(renamed)
    with pytest.raises(AssertionError, match="not in the document"):
        documented(models.StoreOut.from_dict({**store, "region": "Sindh"}))
