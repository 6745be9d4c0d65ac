"""The ledger watches itself: the worker's continuous, incremental check of invariant 1 raises
the alarm (gauge, audit event, admin page) within one round of a level changed behind the app's
back, and `flask verify-ledger` clears it once the ledger is right again."""
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import g
from sqlalchemy import select, text

from tests.factories import ADMIN, PASSWORD, make_product, make_store, make_user
from webapp.extensions import db
from webapp.jobs import sweep
from webapp.models import AuditLog, AuditOutbox, LedgerWatch
from webapp.models.types import utcnow
from webapp.services import audit, commands, integrity, ledger

ROUND = dict(settle_seconds=0, stores_per_round=50, max_movements=1_000_000)


def move(store, product, type_, quantity, **batch):
    return ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type=type_, quantity=quantity, **batch))


def check(**overrides):
    summary = integrity.watch_once(db.session.connection(), utcnow(), **{**ROUND, **overrides})
    db.session.commit()
    return summary


def alarms():
    audit.drain_all()
    return db.session.scalars(select(AuditLog).where(AuditLog.action == "ledger.violation")
                              .order_by(AuditLog.id)).all()


def fresh():
    """As a new request would: a new session, and no user Flask-Login kept in the shared g."""
    db.session.remove()
    g.pop("_login_user", None)


def gauge(client):
    body = client.get("/metrics").get_data(as_text=True)
    return next(line for line in body.splitlines()
                if line.startswith("kiryana_ledger_violations "))


@pytest.fixture
def shop(app):
    stores = [make_store(), make_store()]
    products = [make_product(), make_product()]
    for store in stores:
        for product in products:
            move(store, product, "stock_in", 50)
            move(store, product, "sale", 3)
    return stores, products


def test_a_healthy_ledger_is_checked_increment_by_increment(app, shop):
    first = check()
    assert first["movements"] == 8 and first["new_violations"] == 0 and first["stores"] == 2
    stores, products = shop
    move(stores[0], products[1], "sale", 2)
    second = check()
    assert (second["from_id"], second["to_id"], second["movements"]) == (8, 9, 1)
    assert check()["movements"] == 0  # nothing new: nothing read from the ledger
    assert alarms() == [] and "kiryana_ledger_violations 0.0" == gauge(app.test_client())


def test_a_level_corrupted_behind_the_apps_back_raises_the_alarm_within_one_check(app, shop):
    check()
    client = app.test_client()
    pair = {"s": shop[0][1].id, "p": shop[1][0].id}
    db.session.execute(text("UPDATE stock_levels SET quantity = quantity + 5 "
                            "WHERE store_id = :s AND product_id = :p"), pair)
    db.session.commit()
    found = check()  # no movement since: the store-by-store level pass sees it
    assert found["new_violations"] == 1 and found["violations"] == 1
    assert gauge(client) == "kiryana_ledger_violations 1.0"
    [event] = alarms()
    assert event.after["new"] == [f"level:{pair['s']}:{pair['p']}"]
    assert Decimal(str(event.after["examples"]["levels"][0]["quantity"])) == 52
    # Seen again next round: still one breach, no second alarm.
    assert check()["new_violations"] == 0 and len(alarms()) == 1
    # The admin page says it in red.
    admin = make_user("admin", password=PASSWORD).username
    fresh()
    client.post("/login", data={"username": admin, "password": PASSWORD})
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert "ledger-alarm" in page and "found 1 breach" in page
    # Fixed by an operator, then verify-ledger recounts and the alarm clears.
    db.session.execute(text("UPDATE stock_levels SET quantity = quantity - 5 "
                            "WHERE store_id = :s AND product_id = :p"), pair)
    db.session.commit()
    assert app.test_cli_runner().invoke(args=["verify-ledger"]).exit_code == 0
    fresh()
    assert gauge(client) == "kiryana_ledger_violations 0.0"
    page = client.get("/admin/jobs/").get_data(as_text=True)
    assert "ledger-alarm" not in page and "no breach" in page


def test_a_sale_on_a_corrupted_level_is_named_by_its_stores_sums(app, shop):
    stores, products = shop
    check()
    db.session.execute(text("UPDATE stock_levels SET quantity = 100 WHERE store_id = :s "
                            "AND product_id = :p"), {"s": stores[1].id, "p": products[1].id})
    db.session.commit()
    sale = move(stores[1], products[1], "sale", 1).data["movement"]
    # The sale moved on from the corrupted level, so the level agrees with it: the store's
    # levels no longer add up to its movements, and the store checked pair by pair names both.
    found = check()
    assert found["movements"] == 1 and found["new_violations"] == 2
    assert sorted(alarms()[0].after["new"]) == sorted(
        [f"chain:{sale['id']}", f"level:{stores[1].id}:{products[1].id}"])
    assert db.session.get(LedgerWatch, 1).violations == 2


def test_a_broken_link_between_two_new_movements_is_seen_by_the_increment(app, shop):
    stores, products = shop
    check()
    move(stores[0], products[0], "sale", 1)
    db.session.execute(text("UPDATE stock_levels SET quantity = quantity + 2 "
                            "WHERE store_id = :s AND product_id = :p"),
                       {"s": stores[0].id, "p": products[0].id})
    db.session.commit()
    second = move(stores[0], products[0], "sale", 1).data["movement"]
    found = check(stores_per_round=0)  # no store pass: the increment alone
    assert found["movements"] == 2 and alarms()[0].after["new"] == [f"chain:{second['id']}"]


def test_movements_younger_than_the_settle_time_wait_for_the_next_round(app, shop):
    assert check(settle_seconds=3600)["movements"] == 0
    assert check()["movements"] == 8


def test_the_sweep_runs_a_round_when_one_is_due(app, shop, monkeypatch):
    monkeypatch.setitem(app.config, "LEDGER_CHECK_SETTLE_SECONDS", 0)
    assert sweep.sweep_once(app) == []
    state = db.session.get(LedgerWatch, 1)
    assert state.last_movement_id == 8 and state.checked_at is not None
    move(shop[0][0], shop[1][0], "sale", 1)
    sweep.sweep_once(app)  # LEDGER_CHECK_SECONDS (60) not over: no round
    db.session.remove()
    assert db.session.get(LedgerWatch, 1).last_movement_id == 8
    db.session.execute(LedgerWatch.__table__.update().values(
        checked_at=utcnow() - timedelta(seconds=61)))
    db.session.commit()
    sweep.sweep_once(app)
    db.session.remove()
    assert db.session.get(LedgerWatch, 1).last_movement_id == 9
    assert db.session.scalars(select(AuditOutbox)).all() == []


@pytest.mark.postgres
def test_the_alarm_on_postgresql_partitions(pg_app):
    store, product = make_store(), make_product()
    for _ in range(3):
        move(store, product, "stock_in", 10)
    assert check()["movements"] == 3
    db.session.execute(text("UPDATE stock_levels SET quantity = quantity - 1"))
    db.session.commit()
    move(store, product, "sale", 1)
    found = check(stores_per_round=0)
    # The sale moved on from the corrupted level: the increment alone (no store pass) sees
    # nothing wrong in it; the store's sums do.
    assert found["new_violations"] == 0
    found = check()
    assert found["new_violations"] == 2
    assert {k.split(":")[0] for k in alarms()[0].after["new"]} == {"chain", "level"}
    report = integrity.verify(db.session.connection())
    assert len(report["violations"]["levels"]) == 1 and len(report["violations"]["chain"]) == 1


def credit_sale(api, store_id, product_id, customer_id, quantity="2"):
    response = api.post("/api/v1/sales", json={
        "store_id": store_id, "customer_id": customer_id,
        "lines": [{"product_id": product_id, "quantity": quantity}],
        "payments": [{"method": "credit", "amount": f"{100 * int(quantity)}.00"}]})
    assert response.status_code == 201, response.json
    return response.json["sale"]


@pytest.fixture
def khata(app, shop):
    """(api, customer id, its store's id, a product's id): a customer of the first store with two
    sales on credit (200.00 each)."""
    from tests.api_client import api_as

    store_id, product_id = shop[0][0].id, shop[1][0].id
    api = api_as(app)
    response = api.post("/api/v1/customers", json={"store_id": store_id, "name": "Asif"})
    assert response.status_code == 201, response.json
    customer_id = response.json["customer"]["id"]
    for _ in range(2):
        credit_sale(api, store_id, product_id, customer_id)
    fresh()
    return api, customer_id, store_id, product_id


def test_a_customers_balance_corrupted_behind_the_apps_back_raises_the_alarm_within_one_check(
        app, shop, khata):
    """Invariant 8: the customer's balance against its entries, read from the round's new
    entries and the store's running total of them, not from the customer's history."""
    customer_id = khata[1]
    first = check()
    assert first["entries"] == 2 and first["new_violations"] == 0
    assert check()["entries"] == 0  # nothing new: no entry read
    db.session.execute(text("UPDATE customers SET balance = balance + 50 WHERE id = :c"),
                       {"c": customer_id})
    db.session.commit()
    found = check()  # no entry since: the store's sums see it, the store named customer-wise
    assert found["new_violations"] == 1
    [event] = alarms()
    assert event.after["new"] == [f"customer:{customer_id}"]
    runner = app.test_cli_runner()
    broken = runner.invoke(args=["verify-ledger"])
    assert broken.exit_code == 1
    assert "customers whose balance differs from the sum of their entries: 1" in broken.output
    assert "'balance': 450" in broken.output and "'ledger': 400" in broken.output
    db.session.execute(text("UPDATE customers SET balance = balance - 50 WHERE id = :c"),
                       {"c": customer_id})
    db.session.commit()
    result = runner.invoke(args=["verify-ledger"])
    assert result.exit_code == 0, result.output
    assert "1 customers, 2 entries" in result.output


def test_a_broken_link_between_two_new_entries_is_seen_by_the_increment(app, shop, khata):
    api, customer_id, store_id, product_id = khata
    check()
    db.session.execute(text("UPDATE customers SET balance = balance + 7 WHERE id = :c"),
                       {"c": customer_id})
    db.session.commit()
    sale = credit_sale(api, store_id, product_id, customer_id)
    fresh()
    # The sale's entry moved on from the corrupted balance: its balance_after is out of line
    # with the entry before it, and the customer agrees with it.
    found = check(stores_per_round=0)  # no store pass: the increment alone
    assert found["entries"] == 1 and found["new_violations"] == 0  # one new entry: no link
    credit_sale(api, store_id, product_id, customer_id)
    fresh()
    db.session.execute(text("UPDATE customers SET balance = balance + 1 WHERE id = :c"),
                       {"c": customer_id})
    db.session.commit()
    third = credit_sale(api, store_id, product_id, customer_id)
    fresh()
    entry = db.session.execute(text("SELECT id FROM customer_entries WHERE sale_id = :s"),
                               {"s": third["id"]}).scalar()
    found = check(stores_per_round=0)
    assert found["entries"] == 2 and alarms()[0].after["new"] == [f"entry:{entry}"]
    assert sale  # the first corruption is the store pass's to find (next test above)


def test_a_batch_corrupted_behind_the_apps_back_raises_the_alarm_within_one_check(app, shop):
    """Invariant 9: a tracked product's batches in a store against its level, for the round's
    stores (batches are few: no history is read)."""
    store = shop[0][0]
    product = make_product(tracks_expiry=True)
    move(store, product, "stock_in", 10, expires_on="2027-06-30")  # the ledger keeps the batch
    batch = db.session.execute(text("SELECT id FROM stock_batches WHERE product_id = :p"),
                               {"p": product.id}).scalar()
    assert check()["new_violations"] == 0
    db.session.execute(text("UPDATE stock_batches SET quantity = 6 WHERE id = :b"), {"b": batch})
    db.session.commit()
    found = check()
    assert found["new_violations"] == 1
    assert alarms()[0].after["new"] == [f"batch-level:{store.id}:{product.id}"]
    broken = app.test_cli_runner().invoke(args=["verify-ledger"])
    assert broken.exit_code == 1
    assert "tracked levels their batches do not add up to: 1" in broken.output
    assert "batches that differ from the sum of their batch rows: 1" in broken.output
    one = app.test_cli_runner().invoke(args=["verify-ledger", "--store", store.code])
    assert one.exit_code == 1 and "batches that differ from the sum of their batch rows: 1" \
        in one.output


@pytest.mark.postgres
def test_a_customer_and_a_batch_corrupted_on_postgresql(pg_app):
    """The same two checks' SQL on PostgreSQL (partitioned movements, numeric money)."""
    from tests.api_client import api_as

    store, product = make_store(), make_product()
    tracked = make_product(tracks_expiry=True)
    move(store, product, "stock_in", 50)
    move(store, tracked, "stock_in", 4, expires_on="2027-06-30")  # with its batch
    store_id, product_id, tracked_id = store.id, product.id, tracked.id
    api = api_as(pg_app)
    customer_id = api.post("/api/v1/customers", json={"store_id": store_id,
                                                      "name": "Asif"}).json["customer"]["id"]
    credit_sale(api, store_id, product_id, customer_id)
    fresh()
    batch = db.session.execute(text("SELECT id FROM stock_batches WHERE product_id = :p"),
                               {"p": tracked_id}).scalar()
    assert batch is not None
    assert check()["new_violations"] == 0
    db.session.execute(text("UPDATE customers SET balance = balance + 1"))
    db.session.execute(text("UPDATE stock_batches SET quantity = 3"))
    db.session.commit()
    # The customer's store no longer adds up: checked customer by customer, and batch by batch.
    assert check()["new_violations"] == 3
    assert sorted(alarms()[0].after["new"]) == sorted(
        [f"customer:{customer_id}", f"batch-level:{store_id}:{tracked_id}", f"batch:{batch}"])
    violations = integrity.verify(db.session.connection())["violations"]
    assert violations["customers"] == [{"customer_id": customer_id, "store_id": store_id,
                                        "balance": "201.00", "ledger": "200.00"}]
    assert len(violations["batch_levels"]) == 1 and len(violations["batches"]) == 1
