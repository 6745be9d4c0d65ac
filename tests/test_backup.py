"""flask backup / restore / verify-ledger on the embedded SQLite database: a backup taken while
sales are being written restores to a consistent ledger holding exactly the sales acknowledged
up to one moment inside the backup."""
import threading
import uuid

import pytest
from sqlalchemy import select, text

from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store
from tests.processes import wait_until
from webapp.extensions import db
from webapp.models import Sale
from webapp.services import commands, ledger


@pytest.fixture
def shop(app):
    store = make_store(code="KHI-0042")
    product = make_product(unit="piece", sale_price="10.00")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=100000))
    return store, product


def sell(client, store, product):
    """One sale with its own idempotency key → its id once the server acknowledged it."""
    response = client.post("/api/v1/sales", headers={"Idempotency-Key": uuid.uuid4().hex},
                           json={"store_id": store.id,
                                 "lines": [{"product_id": product.id, "quantity": "1"}]})
    assert response.status_code == 201, response.json
    return response.json["sale"]["id"]


def test_verify_ledger_prints_what_it_checked_and_fails_on_a_corrupt_level(app, shop):
    store, product = shop
    client = api_as(app)
    for _ in range(3):
        sell(client, store, product)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["verify-ledger"])
    assert result.exit_code == 0, result.output
    assert "1 stores, 1 levels, 4 movements" in result.output and "OK: no violation" in result.output
    one = runner.invoke(args=["verify-ledger", "--store", "KHI-0042"])
    assert one.exit_code == 0 and "store KHI-0042" in one.output
    assert runner.invoke(args=["verify-ledger", "--store", "NOPE-1"]).exit_code == 1
    # Behind the app's back: the level no longer equals the sum of its movements.
    db.session.execute(text("UPDATE stock_levels SET quantity = quantity + 5"))
    db.session.commit()
    broken = runner.invoke(args=["verify-ledger"])
    assert broken.exit_code == 1
    assert "levels that differ from the sum of their movements: 1" in broken.output
    assert "100002" in broken.output and "99997" in broken.output
    assert "1 violations of the ledger's invariants" in broken.output


def test_backup_under_write_traffic_restores_exactly_the_acknowledged_sales(app, shop, tmp_path):
    store, product = (type("Row", (), {"id": row.id}) for row in shop)
    client = api_as(app)
    acknowledged, stop, errors = [], threading.Event(), []

    def writer():
        with app.app_context():
            try:
                while not stop.is_set():
                    acknowledged.append(sell(client, store, product))
            except BaseException as error:  # seen by wait_for below, not lost in the thread
                errors.append(error)
            finally:
                db.session.remove()

    def wait_for(count):
        wait_until(lambda: len(acknowledged) >= count or errors, timeout=60,
                   what=f"{count} acknowledged sales")
        assert not errors, errors

    for _ in range(20):
        acknowledged.append(sell(client, store, product))
    # SQLite takes its write lock at BEGIN: this thread's session must hold no transaction.
    db.session.commit()
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        runner = app.test_cli_runner()
        wait_for(40)
        before = len(acknowledged)
        result = runner.invoke(args=["backup", str(tmp_path / "kiryana.backup")])
        after = len(acknowledged)
        assert result.exit_code == 0, result.output
        wait_for(after + 20)  # write more after the backup
    finally:
        stop.set()
        thread.join()
    db.session.remove()
    assert len(db.session.scalars(select(Sale.id)).all()) == len(acknowledged)

    again = runner.invoke(args=["backup", str(tmp_path / "kiryana.backup")])
    assert again.exit_code == 1 and "already exists" in again.output
    refused = runner.invoke(args=["restore", "--yes", str(tmp_path / "nothing.db")])
    assert refused.exit_code == 1 and "does not exist" in refused.output
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    junk = runner.invoke(args=["restore", "--yes", str(tmp_path / "junk.db")])
    assert junk.exit_code == 1 and "not a Kiryana database backup" in junk.output

    db.session.remove()
    restored = runner.invoke(args=["restore", "--yes", str(tmp_path / "kiryana.backup")])
    assert restored.exit_code == 0, restored.output
    assert "OK: no violation" in restored.output and "before-restore" in restored.output
    db.session.remove()
    ids = db.session.scalars(select(Sale.id).order_by(Sale.id)).all()
    # The backup is one moment: every sale acknowledged before it began, none after it ended,
    # and exactly a prefix of the client's acknowledged sales (none missing, none extra).
    assert before <= len(ids) <= after
    assert ids == sorted(acknowledged)[:len(ids)]
    # The app serves on from the restored database.
    sell(client, store, product)
    db.session.remove()
    assert len(db.session.scalars(select(Sale.id)).all()) == len(ids) + 1
    assert app.test_cli_runner().invoke(args=["verify-ledger"]).exit_code == 0


def test_backup_refuses_postgresql(pg_app):
    result = pg_app.test_cli_runner().invoke(args=["backup", "/tmp/never-written.db"])
    assert result.exit_code == 1 and "pg_basebackup" in result.output


test_backup_refuses_postgresql = pytest.mark.postgres(test_backup_refuses_postgresql)
