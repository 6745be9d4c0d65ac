"""Counter sales on the fast SQLite layer: baskets, sell by amount, price overrides, void, returns."""
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import ADMIN, make_product, make_store, make_user
from webapp.extensions import db
from webapp.models import (
    AuditOutbox,
    DailyStockSummary,
    Sale,
    SaleLine,
    SaleReversal,
    StockLevel,
    StockMovement,
)
from webapp.services import commands, ledger, sales
from webapp.services.audit import Actor
from webapp.services.errors import DomainError, InsufficientStock
from webapp.services.integrity import ledger_violations
from webapp.services.ledger.batches import NO_BATCH_VIOLATIONS, batch_violations


def level(store, product):
    row = db.session.get(StockLevel, (store.id, product.id))
    return None if row is None else row.quantity


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def receive(store, product, quantity):
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in",
        quantity=quantity))


def assert_consistent():
    """Invariant 1 and invariant 9 (a tracked product's batches add up to its level)."""
    assert ledger_violations(db.session.connection()) == {"levels": [], "chain": [],
                                                          "orphans": []}
    assert batch_violations(db.session.connection()) == NO_BATCH_VIOLATIONS


def _shop():
    store = make_store()
    sugar = make_product(unit="kg", sale_price="150.00", name="Cheeni")
    soap = make_product(unit="piece", sale_price="60.00", name="Soap")
    tea = make_product(unit="pack", sale_price="450.00", name="Chai")
    for product, quantity in ((sugar, 20), (soap, 10), (tea, 5)):
        receive(store, product, quantity)
    return store, sugar, soap, tea


@pytest.fixture
def shop(app):
    return _shop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_shop(request):
    """The shop on SQLite and on PostgreSQL, where each line of a basket is one statement
    (the level, the movement and the daily summary) and the store and products one load."""
    request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    return _shop()


def cashier(store, role="shopkeeper"):
    user = make_user(role=role, stores=[store])
    return user, Actor(user_id=user.id, source="web", ip="127.0.0.1")


def test_a_basket_writes_one_sale_movement_per_line_and_the_sale(any_shop):
    store, sugar, soap, tea = any_shop
    result = sales.complete_sale(ADMIN, store_id=store.id, lines=[
        {"product_id": sugar.id, "quantity": "1.5"},
        {"product_id": soap.id, "quantity": 3},
        {"sku": tea.sku.lower(), "quantity": 1}])
    sale = result.data["sale"]
    assert result.status_code == 201
    assert sale["number"] == 1 and sale["status"] == "completed"
    assert sale["total"] == "855.00"  # 225 + 180 + 450
    assert [line["line_total"] for line in sale["lines"]] == ["225.00", "180.00", "450.00"]
    assert [line["level"]["quantity"] for line in sale["lines"]] == ["18.500", "7.000", "4.000"]
    movements = db.session.scalars(select(StockMovement).where(StockMovement.type == "sale")
                                   .order_by(StockMovement.id)).all()
    assert {m.id for m in movements} == {line["movement_id"] for line in sale["lines"]}
    assert (level(store, sugar), level(store, soap), level(store, tea)) == \
        (Decimal("18.5"), Decimal("7"), Decimal("4"))
    summary = db.session.execute(select(DailyStockSummary.quantity, DailyStockSummary.amount)
                                 .where(DailyStockSummary.type == "sale",
                                        DailyStockSummary.product_id == sugar.id)).one()
    assert summary == (Decimal("1.5"), Decimal("225.00"))
    # One audit event for the basket, which lists its movements; none per movement.
    assert db.session.scalar(select(func.count()).where(
        AuditOutbox.action == "sale.complete")) == 1
    assert not set(db.session.scalars(select(AuditOutbox.entity_id).where(
        AuditOutbox.action == "movement.create"))) & {str(m.id) for m in movements}
    # The answer is the sale as it is read back later, with the levels after the write.
    read_back = sales.get_sale(make_user(role="admin"), sale["id"])
    assert read_back == {**sale, "lines": [{**line, "level": None} for line in sale["lines"]]}
    second = sales.complete_sale(ADMIN, store_id=store.id,
                                 lines=[{"product_id": soap.id, "quantity": 1}])
    assert second.data["sale"]["number"] == 2
    assert_consistent()


def test_one_short_line_refuses_the_whole_basket_and_names_every_short_line(any_shop):
    store, sugar, soap, tea = any_shop
    before = (count(StockMovement), count(Sale), count(SaleLine))
    with pytest.raises(InsufficientStock) as caught:
        sales.complete_sale(ADMIN, store_id=store.id, lines=[
            {"product_id": soap.id, "quantity": 11},
            {"product_id": sugar.id, "quantity": 2},
            {"product_id": tea.id, "quantity": 6}])
    assert set(caught.value.fields) == {"lines.0.quantity", "lines.2.quantity"}
    assert caught.value.status == 409 and caught.value.code == "insufficient_stock"
    assert (count(StockMovement), count(Sale), count(SaleLine)) == before
    assert (level(store, sugar), level(store, soap), level(store, tea)) == \
        (Decimal("20"), Decimal("10"), Decimal("5"))


def test_a_product_never_stocked_sells_into_the_negative_where_the_store_allows_it(any_shop):
    _store, sugar, soap, _tea = any_shop
    store = make_store(allow_negative_stock=True)
    receive(store, soap, 1)
    result = sales.complete_sale(ADMIN, store_id=store.id, lines=[
        {"product_id": sugar.id, "quantity": "2"}, {"product_id": soap.id, "quantity": "3"}])
    assert [line["level"]["quantity"] for line in result.data["sale"]["lines"]] == \
        ["-2.000", "-2.000"]
    assert (level(store, sugar), level(store, soap)) == (Decimal("-2"), Decimal("-2"))
    assert_consistent()


def test_bad_lines_are_refused_with_their_field(shop):
    store, sugar, soap, _tea = shop
    cases = [
        ([], "lines"),
        ([{"product_id": sugar.id}], "lines.0.quantity"),
        ([{"product_id": sugar.id, "quantity": 1, "amount": 100}], "lines.0.quantity"),
        ([{"product_id": sugar.id, "quantity": 1}, {"product_id": sugar.id, "quantity": 2}],
         "lines.1.product_id"),
        ([{"product_id": soap.id, "quantity": "1.5"}], "lines.0.quantity"),
        ([{"product_id": 999999, "quantity": 1}], "lines.0.product_id"),
        ([{"sku": "NOPE", "quantity": 1}], "lines.0.sku"),
        ([{"product_id": sugar.id, "quantity": "-1"}], "lines.0.quantity"),
        ([{"product_id": soap.id, "amount": "10"}], "lines.0.amount"),
    ]
    for lines, field in cases:
        with pytest.raises(DomainError) as caught:
            sales.complete_sale(ADMIN, store_id=store.id, lines=lines)
        assert field in caught.value.fields, (lines, caught.value.fields)
    assert count(Sale) == 0


def test_sell_by_amount_works_out_the_quantity_at_the_units_scale(shop):
    store, sugar, soap, _tea = shop
    sale = sales.complete_sale(ADMIN, store_id=store.id, lines=[
        {"product_id": sugar.id, "amount": "100"},
        {"product_id": soap.id, "amount": "130"}]).data["sale"]
    assert sale["lines"][0]["quantity"] == "0.667"  # Rs 100 of cheeni at Rs 150/kg
    assert sale["lines"][0]["line_total"] == "100.00"
    assert sale["lines"][1]["quantity"] == "2.000"  # whole pieces, rounded down
    assert sale["lines"][1]["line_total"] == "130.00"
    assert level(store, sugar) == Decimal("19.333")


def test_shopkeepers_discount_is_limited_by_the_store_and_managers_are_free(shop):
    store, sugar, _soap, _tea = shop
    _user, keeper = cashier(store)
    _boss, manager = cashier(store, role="manager")
    with pytest.raises(DomainError) as caught:
        sales.complete_sale(keeper, store_id=store.id,
                            lines=[{"product_id": sugar.id, "quantity": 1, "unit_price": "140"}])
    assert caught.value.code == "discount_not_allowed" and caught.value.status == 403
    assert "lines.0.unit_price" in caught.value.fields
    store.max_discount_percent = Decimal("10")
    db.session.commit()
    sale = sales.complete_sale(keeper, store_id=store.id, lines=[
        {"product_id": sugar.id, "quantity": 1, "unit_price": "135"}]).data["sale"]
    assert sale["lines"][0]["unit_price"] == "135.00"
    assert sale["lines"][0]["list_price"] == "150.00"
    with pytest.raises(DomainError):
        sales.complete_sale(keeper, store_id=store.id, lines=[
            {"product_id": sugar.id, "quantity": 1, "unit_price": "134.99"}])
    sales.complete_sale(manager, store_id=store.id, lines=[
        {"product_id": sugar.id, "quantity": 1, "unit_price": "1"}])
    # The same rule guards the single-movement door.
    with pytest.raises(DomainError) as caught:
        ledger.record_movement(keeper, commands.Movement.parse(
            store_id=store.id, product_id=sugar.id, type="sale",
            quantity=1, unit_price="100"))
    assert caught.value.fields == {"unit_price": caught.value.message}
    result = ledger.record_movement(keeper, commands.Movement.parse(
        store_id=store.id, product_id=sugar.id, type="sale",
        quantity=1, unit_price="140"))
    assert result.data["movement"]["unit_price"] == "140.00"
    overrides = db.session.scalars(select(AuditOutbox).where(
        AuditOutbox.action == "price.override")).all()
    assert [o.after["unit_price"] for o in overrides] == ["135.00", "1.00", "140.00"]


def test_void_restores_every_level_and_links_each_reversal_to_its_sale_movement(shop):
    store, sugar, soap, tea = shop
    user, keeper = cashier(store)
    sale = sales.complete_sale(keeper, store_id=store.id, lines=[
        {"product_id": sugar.id, "quantity": "2.5"}, {"product_id": soap.id, "quantity": 4},
        {"product_id": tea.id, "quantity": 2}]).data["sale"]
    voided = sales.void_sale(keeper, sale["id"])
    assert voided.status_code == 200 and voided.data["sale"]["status"] == "voided"
    assert (level(store, sugar), level(store, soap), level(store, tea)) == \
        (Decimal("20"), Decimal("10"), Decimal("5"))
    links = {r.original_movement_id: r for r in db.session.scalars(select(SaleReversal))}
    assert set(links) == {line["movement_id"] for line in sale["lines"]}
    for reversal in links.values():
        movement = db.session.get(StockMovement, reversal.movement_id)
        original = db.session.get(StockMovement, reversal.original_movement_id)
        assert (movement.type, movement.reason) == ("adjustment", "void")
        assert movement.delta == -original.delta and movement.product_id == original.product_id
    with pytest.raises(DomainError) as caught:
        sales.void_sale(keeper, sale["id"])
    assert (caught.value.code, caught.value.status) == ("already_voided", 409)
    with pytest.raises(DomainError) as caught:
        sales.return_lines(keeper, sale["id"], lines=[{"product_id": soap.id, "quantity": 1}])
    assert caught.value.code == "already_voided"
    assert_consistent()


def test_shopkeeper_voids_only_their_own_sale_within_the_window_managers_any(shop):
    store, sugar, _soap, _tea = shop
    _user, keeper = cashier(store)
    _other, colleague = cashier(store)
    _boss, manager = cashier(store, role="manager")
    first = sales.complete_sale(keeper, store_id=store.id,
                                lines=[{"product_id": sugar.id, "quantity": 1}]).data["sale"]
    with pytest.raises(DomainError) as caught:
        sales.void_sale(colleague, first["id"])
    assert caught.value.status == 403
    row = db.session.get(Sale, first["id"])
    row.created_at = row.created_at - timedelta(minutes=16)
    db.session.commit()
    with pytest.raises(DomainError) as caught:
        sales.void_sale(keeper, first["id"])
    assert (caught.value.code, caught.value.status) == ("void_window_passed", 403)
    assert sales.void_sale(manager, first["id"]).data["sale"]["status"] == "voided"


def test_returns_are_bounded_by_sold_minus_returned_and_a_void_then_puts_back_the_rest(shop):
    store, sugar, soap, _tea = shop
    sale = sales.complete_sale(ADMIN, store_id=store.id, lines=[
        {"product_id": sugar.id, "quantity": "3"},
        {"product_id": soap.id, "quantity": 4}]).data["sale"]
    first = sales.return_lines(ADMIN, sale["id"], lines=[{"product_id": soap.id, "quantity": 3}])
    assert first.status_code == 201
    assert first.data["return"]["amount"] == "180.00"
    assert level(store, soap) == Decimal("9")
    with pytest.raises(DomainError) as caught:
        sales.return_lines(ADMIN, sale["id"], lines=[{"product_id": soap.id, "quantity": 2}])
    assert caught.value.code == "return_exceeds_sold" and caught.value.status == 422
    assert caught.value.fields.keys() == {"lines.0.quantity"}
    with pytest.raises(DomainError) as caught:
        sales.return_lines(ADMIN, sale["id"], lines=[{"product_id": 424242, "quantity": 1}])
    assert "lines.0.product_id" in caught.value.fields
    sales.return_lines(ADMIN, sale["id"], lines=[{"product_id": soap.id, "quantity": 1}])
    assert level(store, soap) == Decimal("10")
    voided = sales.void_sale(ADMIN, sale["id"]).data["sale"]
    assert voided["refunded"] == "690.00"
    assert level(store, sugar) == Decimal("20") and level(store, soap) == Decimal("10")
    assert_consistent()


def test_idempotent_replay_of_a_basket_and_of_a_void(shop):
    store, sugar, soap, _tea = shop
    lines = [{"product_id": sugar.id, "quantity": 1}, {"product_id": soap.id, "quantity": 2}]
    first = sales.complete_sale(ADMIN, store_id=store.id, lines=lines, idempotency_key="b-1")
    again = sales.complete_sale(ADMIN, store_id=store.id, lines=lines, idempotency_key="b-1")
    assert again.replayed and again.data == first.data
    assert count(Sale) == 1 and level(store, soap) == Decimal("8")
    with pytest.raises(DomainError) as caught:
        sales.complete_sale(ADMIN, store_id=store.id, lines=lines[:1], idempotency_key="b-1")
    assert caught.value.code == "idempotency_key_reused"
    sale_id = first.data["sale"]["id"]
    void = sales.void_sale(ADMIN, sale_id, idempotency_key="v-1")
    replay = sales.void_sale(ADMIN, sale_id, idempotency_key="v-1")
    assert replay.replayed and replay.data == void.data and replay.status_code == 200
    assert count(SaleReversal) == 2 and level(store, soap) == Decimal("10")
