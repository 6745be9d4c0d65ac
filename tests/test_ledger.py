"""The stock ledger on the fast SQLite layer: every movement type, every validation error."""
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from tests.factories import ADMIN, make_product, make_store, make_supplier
from webapp.extensions import db
from webapp.models import AuditOutbox, DailyStockSummary, StockLevel, StockMovement
from webapp.services import commands, ledger
from webapp.services.errors import DomainError, InsufficientStock, NotFound


def level(store, product):
    row = db.session.get(StockLevel, (store.id, product.id))
    return None if row is None else row.quantity


def movement_count():
    return db.session.scalar(select(func.count()).select_from(StockMovement))


@pytest.fixture
def shop(app):
    return make_store(), make_product(unit="kg")


def receive(store, product, quantity, idempotency_key=None, **kwargs):
    command = commands.Movement.parse(store_id=store.id, product_id=product.id,
                                      type="stock_in", quantity=quantity, **kwargs)
    return ledger.record_movement(ADMIN, command, idempotency_key)


def test_stock_in_creates_the_level_and_a_ledger_row(shop):
    store, product = shop
    supplier = make_supplier()
    result = receive(store, product, "12.5", supplier_id=supplier.id, unit_cost="79.50")
    assert result.status_code == 201
    m = result.data["movement"]
    assert (m["type"], m["quantity"], m["delta"], m["balance_after"]) == \
        ("stock_in", "12.500", "12.500", "12.500")
    assert m["unit_cost"] == "79.50" and m["supplier_id"] == supplier.id
    assert result.data["level"]["quantity"] == "12.500"
    assert level(store, product) == Decimal("12.5")


@pytest.mark.parametrize("type_, reason, delta", [
    ("sale", None, "-2.250"),
    ("removal", "damaged", "-2.250"),
    ("removal", "expired", "-2.250"),
    ("removal", "lost", "-2.250"),
    ("removal", "other", "-2.250"),
])
def test_outgoing_movements_take_stock_down(shop, type_, reason, delta):
    store, product = shop
    receive(store, product, 10)
    result = ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                   product_id=product.id,
                                                                   type=type_, quantity="2.25",
                                                                   reason=reason))
    assert result.data["movement"]["delta"] == delta
    assert result.data["movement"]["reason"] == reason
    assert level(store, product) == Decimal("7.75")


def test_sale_records_the_price_of_the_day(shop):
    store, product = shop
    receive(store, product, 10)
    default = ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                    product_id=product.id,
                                                                    type="sale", quantity=1))
    custom = ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                   sku=product.sku.lower(),
                                                                   type="sale", quantity=1,
                                                                   unit_price="95"))
    assert default.data["movement"]["unit_price"] == "100.00"
    assert custom.data["movement"]["unit_price"] == "95.00"


def test_sale_beyond_stock_is_refused_and_writes_nothing(shop):
    store, product = shop
    receive(store, product, 3)
    before = movement_count()
    with pytest.raises(InsufficientStock) as error:
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                              product_id=product.id, type="sale",
                                                              quantity="3.001"))
    assert error.value.status == 409 and error.value.code == "insufficient_stock"
    assert movement_count() == before and level(store, product) == 3


def test_first_sale_of_a_never_stocked_product_is_refused(shop):
    store, product = shop
    with pytest.raises(InsufficientStock):
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                              product_id=product.id, type="sale",
                                                              quantity=1))
    assert movement_count() == 0


def test_store_allowing_negative_stock_goes_negative(app):
    store, product = make_store(allow_negative_stock=True), make_product()
    result = ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                   product_id=product.id,
                                                                   type="sale", quantity=2))
    assert result.data["level"]["quantity"] == "-2.000"
    assert result.data["level"]["negative"] is True and result.data["level"]["low"] is True


def test_decimal_arithmetic_is_exact(shop):
    store, product = shop
    for q in ("0.1", "0.2"):
        receive(store, product, q)
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="sale", quantity="0.3"))
    assert level(store, product) == 0


def test_adjustment_sets_the_shelf_quantity(shop):
    store, product = shop
    receive(store, product, 10)
    result = ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                   product_id=product.id,
                                                                   type="adjustment",
                                                                   quantity="7.5"))
    m = result.data["movement"]
    assert (m["delta"], m["quantity"], m["reason"]) == ("-2.500", "2.500", "count")
    assert (m["expected_quantity"], m["counted_quantity"]) == ("10.000", "7.500")
    same = ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                 product_id=product.id,
                                                                 type="adjustment",
                                                                 quantity="7.5"))
    assert same.data["movement"] is None and same.status_code == 200


def test_count_keeps_sales_made_while_counting(shop):
    store, product = shop
    receive(store, product, 10)
    # The count starts with 10 on the books; 2 are sold; the shelf (before the sale) had 9.
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="sale", quantity=2))
    result = ledger.apply_count(ADMIN, commands.Count.parse(store_id=store.id,
                                                            counts=[{"product_id": product.id, "quantity": 9,
                                         "expected": 10}]))
    assert result.data["changed_during_count"] == [product.id]
    assert result.data["adjustments"][0]["delta"] == "-1.000"
    assert level(store, product) == 7


def test_transfer_moves_stock_between_stores_as_a_linked_pair(app):
    a, b, product = make_store(), make_store(), make_product()
    receive(a, product, 5)
    result = ledger.transfer(ADMIN, commands.Transfer.parse(from_store_id=a.id, to_store_id=b.id,
                                                            product_id=product.id, quantity=2))
    out, into = result.data["transfer_out"], result.data["transfer_in"]
    assert out["transfer_id"] == into["transfer_id"] == result.data["transfer_id"]
    assert (out["delta"], into["delta"]) == ("-2.000", "2.000")
    assert (level(a, product), level(b, product)) == (3, 2)
    with pytest.raises(InsufficientStock):
        ledger.transfer(ADMIN, commands.Transfer.parse(from_store_id=a.id, to_store_id=b.id,
                                                       product_id=product.id, quantity=4))
    assert (level(a, product), level(b, product)) == (3, 2)


def test_archived_product_takes_no_new_movements(app):
    store, product = make_store(), make_product(archived=True)
    with pytest.raises(DomainError) as error:
        receive(store, product, 1)
    assert error.value.code == "product_archived"


@pytest.mark.parametrize("changes, field", [
    ({"quantity": 0}, "quantity"),
    ({"quantity": -1}, "quantity"),
    ({"quantity": "abc"}, "quantity"),
    ({"quantity": "NaN"}, "quantity"),
    ({"quantity": "Infinity"}, "quantity"),
    ({"quantity": float("inf")}, "quantity"),
    ({"quantity": "1e309"}, "quantity"),
    ({"quantity": "1.0005"}, "quantity"),
    ({"quantity": "10000000000"}, "quantity"),
    ({"quantity": True}, "quantity"),
    ({"quantity": None}, "quantity"),
    ({"type": "gift"}, "type"),
    ({"type": "transfer_out"}, "type"),
    ({"type": "removal"}, "reason"),
    ({"type": "removal", "reason": "stolen"}, "reason"),
    ({"type": "sale", "reason": "damaged"}, "reason"),
    ({"unit_price": "-1"}, "unit_price"),
    ({"unit_price": "1.001"}, "unit_price"),
    ({"type": "stock_in", "unit_price": "5"}, "unit_price"),
    ({"unit_cost": "x"}, "unit_cost"),
    ({"note": "x" * 501}, "note"),
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
    ({"supplier_id": 5}, "supplier_id"),
    ({"store_id": "abc"}, "store_id"),
    ({"product_id": None}, "product_id"),
])
def test_bad_input_is_refused_with_the_field_named(shop, changes, field):
    store, product = shop
    receive(store, product, 10)
    args = {"store_id": store.id, "product_id": product.id, "type": "sale", "quantity": 1}
    args.update(changes)
    before = movement_count()
    with pytest.raises(DomainError) as error:
        ledger.record_movement(ADMIN, commands.Movement.parse(**args))
    assert field in error.value.fields
    assert movement_count() == before


def test_unknown_ids_are_not_found(shop):
    store, product = shop
    with pytest.raises(NotFound):
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id + 99,
                                                              product_id=product.id,
                                                              type="stock_in", quantity=1))
    with pytest.raises(NotFound):
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                              product_id=product.id + 99,
                                                              type="stock_in", quantity=1))
    with pytest.raises(NotFound):
        receive(store, product, 1, supplier_id=12345)


def test_whole_units_refuse_fractions(app):
    store, product = make_store(), make_product(unit="piece")
    with pytest.raises(DomainError) as error:
        receive(store, product, "1.5")
    assert "whole" in error.value.message


def test_idempotent_replay_and_conflicting_replay(shop):
    store, product = shop
    first = receive(store, product, 4, idempotency_key="abc-1")
    again = receive(store, product, 4, idempotency_key="abc-1")
    assert again.replayed and again.data == first.data and again.status_code == 201
    assert movement_count() == 1 and level(store, product) == 4
    with pytest.raises(DomainError) as error:
        receive(store, product, 5, idempotency_key="abc-1")
    assert error.value.code == "idempotency_key_reused" and error.value.status == 422
    assert movement_count() == 1


def test_every_movement_is_audited_and_summarised(shop):
    store, product = shop
    receive(store, product, 10, unit_cost="80")
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="sale", quantity="1.5"))
    actions = db.session.scalars(select(AuditOutbox.action)).all()
    assert actions.count("movement.create") == 2
    sale = db.session.scalars(select(DailyStockSummary).where(
        DailyStockSummary.type == "sale")).one()
    assert (sale.quantity, sale.delta, sale.amount, sale.movements) == \
        (Decimal("1.5"), Decimal("-1.5"), Decimal("150"), 1)


def test_workers_purge_idempotency_records_past_retention(app, shop, monkeypatch):
    """Keys live IDEMPOTENCY_RETENTION_DAYS; after that the sweep forgets them."""
    from datetime import timedelta

    import worker
    from webapp.models import IdempotencyRecord
    from webapp.models.types import utcnow

    store, product = shop
    receive(store, product, 1, idempotency_key="old")
    receive(store, product, 1, idempotency_key="new")
    old = db.session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.key == "old")).one()
    old.created_at = utcnow() - timedelta(days=31)
    db.session.commit()
    monkeypatch.setitem(app.config, "IDEMPOTENCY_RETENTION_DAYS", 30)
    worker.sweep_once(app)
    keys = db.session.scalars(select(IdempotencyRecord.key)).all()
    assert keys == ["new"]


def test_integrity_check_finds_a_tampered_level_and_chain(shop):
    """The invariant checker can fail: a level or balance edited behind the ledger is found."""
    from sqlalchemy import text

    from webapp.services.integrity import ledger_violations

    store, product = shop
    receive(store, product, 5)
    first = receive(store, product, 2).data["movement"]["id"]
    conn = db.session.connection()
    assert ledger_violations(conn) == {"levels": [], "chain": [], "orphans": []}
    conn.execute(text("UPDATE stock_levels SET quantity = quantity + 1"))
    conn.execute(text("UPDATE stock_movements SET balance_after = 99 WHERE id = :id"),
                 {"id": first})
    found = ledger_violations(conn)
    assert len(found["levels"]) == 1 and [m["id"] for m in found["chain"]] == [first]
    assert len(ledger_violations(conn, after_id=first - 1)["levels"]) == 1
    assert ledger_violations(conn, after_id=first)["levels"] == []
    db.session.rollback()


# --- Whose transaction a movement runs in --------------------------------------------------------

def test_a_movement_with_no_session_transaction_open_commits_on_its_own_connection(shop):
    store, product = shop
    ids = (SimpleNamespace(id=store.id), SimpleNamespace(id=product.id))
    db.session.commit()  # nothing open: the request has not used the session
    began = []

    def note(*args):
        began.append(args)

    event.listen(Session, "after_begin", note)
    try:
        receive(*ids, "3")  # (store.id would reload the expired store in the session)
    finally:
        event.remove(Session, "after_begin", note)
    assert began == [] and not db.session().in_transaction()  # the session was not used
    with db.engine.connect() as other:  # and it is committed for everyone
        assert other.scalar(select(func.count()).select_from(StockMovement)) == 1


def test_a_movement_joins_the_transaction_the_session_has_open(shop):
    store, product = shop
    product_id = product.id
    db.session.commit()
    product.name = "Renamed in the same transaction"  # pending in the session
    db.session.flush()
    receive(store, product, "3")
    # The ledger committed the session's transaction, the pending rename with it; a movement
    # on a connection of its own would have left it open (and, on SQLite, waited for its lock).
    assert not db.session().in_transaction()
    with db.engine.connect() as other:  # (product.id would reload it: SQLite's BEGIN IMMEDIATE)
        assert other.scalar(select(StockMovement.product_id)) == product_id
        assert other.scalar(text("SELECT name FROM products WHERE id = :id"),
                            {"id": product_id}) == "Renamed in the same transaction"


def test_a_failed_movement_on_its_own_connection_writes_nothing(shop):
    store, product = shop
    receive(store, product, "2")
    db.session.commit()
    with pytest.raises(InsufficientStock):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id, type="sale", quantity="5"))
    assert movement_count() == 1 and level(store, product) == Decimal("2")
