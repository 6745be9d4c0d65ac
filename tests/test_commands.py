"""One command per ledger operation: its fields are declared once and every door builds it."""
import dataclasses
import typing
from decimal import Decimal

import pytest
from sqlalchemy import select

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store
from webapp.blueprints.api import spec as api_spec
from webapp.blueprints.api.movements import MovementCreate
from webapp.blueprints.api.sync import SyncMovement
from webapp.blueprints.api.transfers import CountLine, TransferCreate
from webapp.extensions import db
from webapp.models import AuditLog, User
from webapp.services import accounts, audit, commands, policy
from webapp.services.errors import N_, DomainError

# API bodies of operations that are not commands (the catalogue, stores, orders, tokens,
# webhooks), and the sync batch, whose items are MovementCreate (checked below) with an id.
NOT_COMMANDS = {"ProductCreate", "ProductUpdate", "StoreCreate", "StoreUpdate",
                "SupplierCreate", "OrderCreate", "OrderPatch", "TokenRequest", "WebhookCreate",
                "NoBody", "SyncBatch"}


def names(command):
    return [f.name for f in dataclasses.fields(command)]


def test_the_api_bodies_are_the_commands_fields():
    # a movement that names a batch is a DatedMovement: the body has its fields
    assert list(MovementCreate.model_fields) == names(commands.DatedMovement)
    assert names(commands.DatedMovement) == names(commands.Movement) + ["expires_on",
                                                                        "batch_code"]
    assert list(TransferCreate.model_fields) == names(commands.Transfer)
    assert list(CountLine.model_fields) == names(commands.CountLine)
    assert set(SyncMovement.model_fields) == set(names(commands.DatedMovement)) | {"id"}


def _json_bodies(app):
    """Each API write's JSON body model, by name."""
    shapes = {model.__name__: model for model in api_spec.BODY_SHAPES}
    names = {api_spec.spec.get_function_metadata(view).json
             for endpoint, view in app.view_functions.items() if endpoint.startswith("api.")
             and getattr(api_spec.spec.get_function_metadata(view), "json", None)}
    return {name: shapes.get(name) for name in names}


def _nested_models(annotation):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _nested_models(arg)


def _assert_derived(model):
    """Every field of `model` is its command's field as declared there (type, bounds,
    description, alias, default), and its only validator is the command's own `check`."""
    shape = api_spec.BODY_SHAPES[model]
    hints = typing.get_type_hints(shape, include_extras=True)
    declared = {f.name: f for f in dataclasses.fields(shape)}
    nested = {api_spec.BODY_SHAPES[inner]: inner for field in model.model_fields.values()
              for inner in _nested_models(field.annotation)}
    for name, field in model.model_fields.items():
        expected = FieldInfo.from_annotation(api_spec._swap(hints[name], nested))
        assert (field.annotation, field.metadata, field.description, field.alias) == \
            (expected.annotation, expected.metadata, expected.description, expected.alias), name
        assert field.is_required() or field.default in (None, declared[name].default), name
    decorators = model.__pydantic_decorators__
    assert not decorators.field_validators and not decorators.model_serializers
    assert set(decorators.model_validators) == ({"check"} if hasattr(shape, "check") else set())
    for inner in nested.values():
        _assert_derived(inner)


def test_every_command_body_of_the_api_is_built_from_its_command(app):
    """No API model restates a command's rule: a body for a command operation is built from
    the command (or the request it declares), lines and all, with no validator of its own."""
    bodies = _json_bodies(app)
    assert {name for name, model in bodies.items() if model is None} == NOT_COMMANDS
    for name, model in bodies.items():
        if model is not None:
            _assert_derived(model)
    _assert_derived(MovementCreate)  # a sync batch's items
    assert set(SyncMovement.model_fields) - set(MovementCreate.model_fields) == {"id"}
    assert {commands.SaleRequest, commands.SaleLineRequest, commands.PaymentRequest,
            commands.ReturnRequest, commands.CountRequest, commands.DeliveryRequest,
            commands.NewCustomer, commands.CustomerPayment, commands.SupplierPayment,
            commands.Closing, commands.CashCount, commands.Void, commands.Transfer} <= \
        set(api_spec.BODY_SHAPES.values())


def test_the_document_gives_the_commands_bounds(app):
    schemas = app.test_client().get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    name = schemas["CustomerCreate"]["properties"]["name"]
    assert (name["minLength"], name["maxLength"]) == (1, commands.MAX_NAME)
    assert schemas["SaleCreate"]["properties"]["lines"]["maxItems"] == commands.MAX_SALE_LINES
    assert schemas["ReceiptCreate"]["properties"]["lines"]["maxItems"] == \
        commands.MAX_ORDER_LINES
    assert schemas["NotesIn"]["properties"]["5000"]["anyOf"][0]["maximum"] == \
        commands.MAX_NOTE_COUNT
    assert set(schemas["NotesIn"]["properties"]) == {*map(str, commands.NOTES), "coins"}
    quantity = schemas["ReturnLineIn"]["properties"]["quantity"]["anyOf"][0]
    assert quantity["maximum"] == float(commands.MAX_QUANTITY) or \
        quantity["maximum"] == commands.MAX_QUANTITY


def test_a_change_to_a_commands_rule_is_the_apis(app, monkeypatch):
    """The basket line's rule across fields lives in the basket module; the API's line model
    asks it on each request, so changing it there changes what the API refuses."""
    store = make_store()
    product = make_product(sku="DAAL")
    client = api_as(app, "admin")
    mixed = {"store_id": store.id, "lines": [{"product_id": product.id, "quantity": "1",
                                              "amount": "5"}]}
    refused = client.post("/api/v1/sales", json=mixed)
    assert refused.status_code == 422
    assert refused.json["error"]["fields"] == {
        "lines.0": "Give a quantity or an amount, not both."}

    def no_loose_sales(line, prefix=""):
        raise DomainError("invalid", N_("Sell by quantity only."))

    monkeypatch.setattr(commands.SaleLineRequest, "check", staticmethod(no_loose_sales))
    refused = client.post("/api/v1/sales", json={"store_id": store.id, "lines": [
        {"product_id": product.id, "quantity": "1"}]})
    assert refused.status_code == 422
    assert refused.json["error"]["fields"] == {"lines.0": "Sell by quantity only."}


def test_parse_checks_and_normalises_once():
    command = commands.Movement.parse(store_id="3", product_id=7, sku="ignored", type="sale",
                                      quantity="1.5", note="  till 2 ", unit_price="95",
                                      occurred_at="2026-01-02T10:00:00")
    assert (command.store_id, command.product_id, command.sku) == (3, 7, None)
    assert command.quantity == Decimal("1.500") and str(command.quantity) == "1.500"
    assert command.note == "till 2" and command.unit_price == Decimal("95.00")
    assert command.occurred_at.utcoffset().total_seconds() == 0  # Pakistan time, made UTC
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.quantity = Decimal(2)


@pytest.mark.parametrize("raw, field", [
    ({"type": "sale", "store_id": 1, "product_id": 1, "quantity": 1, "colour": "red"}, "colour"),
    ({"type": "theft", "store_id": 1, "product_id": 1, "quantity": 1}, "type"),
    ({"type": "sale", "store_id": 1, "quantity": 1}, "product_id"),
    ({"type": "sale", "store_id": 1, "product_id": 1, "quantity": "0"}, "quantity"),
])
def test_parse_refuses_bad_values_naming_the_field(raw, field):
    with pytest.raises(DomainError) as caught:
        commands.Movement.parse(**raw)
    assert field in caught.value.fields


def test_a_stored_command_reads_back_as_it_was_built():
    command = commands.Movement.parse(store_id=1, product_id=2, type="stock_in", quantity="2.5",
                                      unit_cost="10.5", supplier_id=4,
                                      occurred_at="2026-01-02T10:00:00+05:00")
    data = command.dump()
    assert data["quantity"] == "2.500" and "sku" not in data
    assert commands.Movement.load(data) == command


def test_count_lines_are_ordered_by_product_and_checked():
    count = commands.Count.parse(5, [{"product_id": 9, "quantity": "2"},
                                     {"product_id": 3, "quantity": 0, "expected": "4"}])
    assert [line.product_id for line in count.lines] == [3, 9]
    assert count.lines[0].expected == Decimal("4.000") and count.lines[1].expected is None
    with pytest.raises(DomainError) as caught:
        commands.Count.parse(5, [{"product_id": 3, "quantity": 1},
                                 {"product_id": 3, "quantity": 2}])
    assert "counts.1.product_id" in caught.value.fields


def test_one_table_answers_for_a_token_or_a_job_user(app):
    admin = policy.Principal(1, "admin", frozenset())
    manager = policy.Principal(2, "manager", frozenset())
    assert policy.can(admin, "sync.view_all_jobs") and not policy.can(manager,
                                                                      "sync.view_all_jobs")
    assert policy.can(manager, "catalog.manage")
    assert not policy.can(policy.Principal(3, "shopkeeper", frozenset({1})), "catalog.manage")


def test_an_inactive_user_is_created_in_one_step_with_one_event(app):
    user = accounts.create_user(ADMIN, "resting", "password-123", role="manager", active=False)
    audit.drain_all()
    assert db.session.get(User, user.id).active is False
    events = db.session.execute(select(AuditLog.action, AuditLog.after)
                                .where(AuditLog.entity_id == str(user.id))).all()
    assert [e.action for e in events] == ["user.create"]
    assert events[0].after["active"] is False
