"""One command per ledger operation: its fields are declared once and every door builds it."""
import dataclasses
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.factories import ADMIN
from webapp.blueprints.api.movements import MovementCreate
from webapp.blueprints.api.sync import SyncMovement
from webapp.blueprints.api.transfers import CountLine, TransferCreate
from webapp.extensions import db
from webapp.models import AuditLog, User
from webapp.services import accounts, audit, commands, policy
from webapp.services.errors import DomainError


def names(command):
    return [f.name for f in dataclasses.fields(command)]


def test_the_api_bodies_are_the_commands_fields():
    assert list(MovementCreate.model_fields) == names(commands.Movement)
    assert list(TransferCreate.model_fields) == names(commands.Transfer)
    assert list(CountLine.model_fields) == names(commands.CountLine)
    assert set(SyncMovement.model_fields) == set(names(commands.Movement)) | {"id"}


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
