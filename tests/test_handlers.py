"""One way in: every command that changes stock or money goes through handlers.handle, which
asks services/policy.py first. A shopkeeper of another store is refused by the handler itself,
whichever door (or none) built the command, and nothing is written."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import ADMIN, make_product, make_store, make_supplier, make_user
from webapp.extensions import db
from webapp.models import AuditOutbox, IdempotencyRecord, Sale, StockMovement
from webapp.services import (
    closing,
    commands,
    count_drafts,
    handlers,
    khata,
    ledger,
    policy,
    purchasing,
    sales,
)
from webapp.services.audit import Actor
from webapp.services.errors import DomainError


def _count(model):
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def two_shops(app):
    mine, theirs = make_store(), make_store()
    sugar = make_product(unit="kg", sale_price="150.00")
    for store in (mine, theirs):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=sugar.id, type="stock_in", quantity="20"))
    sale = sales.complete_sale(ADMIN, store_id=theirs.id,
                               lines=[{"product_id": sugar.id, "quantity": "1"}])
    order = purchasing.create_order(ADMIN, make_user(role="manager"), store_id=theirs.id,
                                    supplier_id=make_supplier().id,
                                    lines=[{"product_id": sugar.id, "packs": "1"}])
    keeper = make_user(stores=[mine])
    customer = khata.create_customer(ADMIN, None, store_id=theirs.id,
                                     name="Their customer").data["customer"]
    return {"mine": mine, "theirs": theirs, "sugar": sugar, "keeper": keeper,
            "sale_id": sale.data["sale"]["id"], "order_id": order.id,
            "customer_id": customer["id"], "supplier_id": make_supplier().id}


def _commands_for_the_other_store(s):
    theirs, mine, sugar = s["theirs"].id, s["mine"].id, s["sugar"].id
    return [
        commands.Movement.parse(store_id=theirs, product_id=sugar, type="sale", quantity="1"),
        commands.Movement.parse(store_id=theirs, product_id=sugar, type="stock_in", quantity="1",
                                expires_on="2027-05-31"),
        commands.Transfer.parse(from_store_id=theirs, to_store_id=mine, product_id=sugar,
                                quantity="1"),
        commands.Transfer.parse(from_store_id=mine, to_store_id=theirs, product_id=sugar,
                                quantity="1"),
        commands.Count.parse(theirs, [{"product_id": sugar, "quantity": "3"}]),
        commands.CountReview.parse(theirs, "v", ""),
        sales.parse_sale(theirs, [{"product_id": sugar, "quantity": "1"}]),
        commands.Void.parse(s["sale_id"]),
        commands.Return.parse(s["sale_id"], [{"product_id": sugar, "quantity": "1"}]),
        purchasing.parse_delivery(s["order_id"], [{"product_id": sugar, "quantity": "1"}]),
        khata.parse_new_customer(theirs, {"name": "Asif"}),
        commands.CustomerChange(s["customer_id"], (("name", "Asif"),)),
        khata.parse_payment(s["customer_id"], "10", "cash"),
        commands.SupplierPayment(s["supplier_id"], theirs, Decimal("10"), "cash"),
        closing.parse_closing(theirs, "0"),
    ]


@pytest.mark.parametrize("looked_up", [False, True], ids=["door's actor", "bare actor"])
def test_the_handler_refuses_a_shopkeeper_of_another_store_for_every_command(two_shops,
                                                                            looked_up):
    keeper = two_shops["keeper"]
    actor = Actor(keeper.id, "api") if looked_up else policy.actor_for(keeper, "api")
    written = (_count(StockMovement), _count(Sale), _count(AuditOutbox),
               _count(IdempotencyRecord))
    tried = set()
    for i, command in enumerate(_commands_for_the_other_store(two_shops)):
        with pytest.raises(DomainError) as refused:
            handlers.handle(actor, command, f"key-{i}")
        assert refused.value.status == 404, command
        tried.add(type(command))
    db.session.rollback()
    assert (_count(StockMovement), _count(Sale), _count(AuditOutbox),
            _count(IdempotencyRecord)) == written
    # Every operation with a handler was tried except the import's, which needs a manager.
    assert tried == set(handlers.HANDLERS) - {commands.OpeningStock}


def test_the_same_commands_go_through_for_a_shopkeeper_of_that_store(two_shops):
    keeper = make_user(stores=[two_shops["theirs"]])
    actor = policy.actor_for(keeper, "web")
    theirs, sugar = two_shops["theirs"].id, two_shops["sugar"].id
    result = handlers.handle(actor, commands.Movement.parse(
        store_id=theirs, product_id=sugar, type="sale", quantity="1"))
    assert result.status_code == 201
    assert handlers.handle(actor, commands.Return.parse(
        two_shops["sale_id"], [{"product_id": sugar, "quantity": "1"}])).status_code == 201


def test_a_service_called_by_name_goes_through_the_policy_too(two_shops):
    """The registered functions are reached only through handle: calling ledger or sales by
    name (a job, a new door) meets the same refusal."""
    actor = Actor(two_shops["keeper"].id, "web")
    theirs, sugar = two_shops["theirs"].id, two_shops["sugar"].id
    calls = [
        lambda: ledger.record_movement(actor, commands.Movement.parse(
            store_id=theirs, product_id=sugar, type="stock_in", quantity="1")),
        lambda: sales.complete_sale(actor, store_id=theirs,
                                    lines=[{"product_id": sugar, "quantity": "1"}]),
        lambda: sales.void_sale(actor, two_shops["sale_id"]),
        lambda: count_drafts.apply(actor, theirs, "v"),
        lambda: purchasing.receive(actor, two_shops["order_id"],
                                   [{"product_id": sugar, "quantity": "1"}]),
    ]
    for call in calls:
        with pytest.raises(DomainError) as refused:
            call()
        assert refused.value.status == 404


def test_role_rules_are_the_handlers_too(two_shops):
    keeper = policy.actor_for(make_user(stores=[two_shops["theirs"]]), "web")
    opening = commands.Count.parse(two_shops["theirs"].id,
                                   [{"product_id": two_shops["sugar"].id, "quantity": "9"}])
    with pytest.raises(DomainError) as refused:  # imports are a manager's
        handlers.handle(keeper, commands.OpeningStock(opening.store_id, opening.lines))
    assert refused.value.status == 403
    old = datetime.now(timezone.utc) - timedelta(days=5)
    with pytest.raises(DomainError) as refused:  # a shopkeeper may not backdate
        handlers.handle(keeper, sales.parse_sale(
            two_shops["theirs"].id, [{"product_id": two_shops["sugar"].id, "quantity": "1"}],
            occurred_at=old.isoformat()))
    assert refused.value.code == "occurred_at_too_old"
    manager = policy.actor_for(make_user(role="manager"), "web")
    assert handlers.handle(manager, commands.OpeningStock(
        opening.store_id, opening.lines)).status_code == 201


def test_every_command_has_one_handler_and_one_rule():
    assert set(handlers.HANDLERS) == set(policy.COMMAND_RULES)
    with pytest.raises(ValueError):
        handlers.handles(commands.Movement)(lambda actor, command, key=None: None)


def test_a_command_without_a_handler_is_refused_before_anything_runs():
    with pytest.raises(LookupError):
        handlers.handle(ADMIN, object())


# --- the API's creates: the key, the write and the stored response in one transaction -----------

def test_an_api_create_and_its_idempotency_key_commit_together(app, monkeypatch):
    """A failure after the write (here: storing the response) leaves neither the product nor
    a claimed key behind, so the retry with the same key creates it once."""
    from tests.api_client import api_as
    from webapp.models import Product
    from webapp.services import idempotency

    api = api_as(app, "manager")
    body = {"sku": "ONCE-1", "name": "Once", "unit": "piece", "sale_price": "10.00"}
    headers = {"Idempotency-Key": "create-once"}
    real_complete = idempotency.complete

    def crash(*args, **kwargs):
        raise RuntimeError("the process died here")

    monkeypatch.setattr(idempotency, "complete", crash)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert api.post("/api/v1/products", json=body, headers=headers).status_code == 500
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Product)
                             .where(Product.sku == "ONCE-1")) == 0
    assert _count(IdempotencyRecord) == 0
    monkeypatch.setattr(idempotency, "complete", real_complete)
    first = api.post("/api/v1/products", json=body, headers=headers)
    again = api.post("/api/v1/products", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json() == first.get_json()
