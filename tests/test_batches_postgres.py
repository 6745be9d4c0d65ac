"""Batches under real concurrency on PostgreSQL (invariant 9 beside invariant 1), and what a
tracked product's sale costs in round trips."""
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from tests.factories import ADMIN, make_product, make_store
from tests.test_ledger_concurrency import assert_ledger_consistent, run_threads
from webapp.extensions import db
from webapp.services import commands, ledger, sales
from webapp.services.errors import InsufficientStock

pytestmark = pytest.mark.postgres


def _receive(store, product, quantity, expires_on):
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=quantity,
        expires_on=expires_on))


def test_16_threads_selling_a_tracked_product_across_two_batches_with_transfers_and_voids(
        pg_app):
    """Sales (single and basket), transfers both ways and voids race on one tracked product in
    two stores; every level ends equal to its ledger and to its batches, and no batch is
    taken below zero."""
    a, b = make_store(), make_store()
    doodh = make_product(unit="piece", tracks_expiry=True)
    soon, later = date(2027, 3, 1), date(2027, 3, 9)
    for store in (a, b):
        _receive(store, doodh, 150, soon)
        _receive(store, doodh, 150, later)

    def work(i):
        rng = random.Random(i)
        done = {"sold": 0, "refused": 0, "voided": 0, "moved": 0}
        for _ in range(25):
            store, other = (a, b) if rng.random() < 0.5 else (b, a)
            kind = rng.choice(["sale", "sale", "basket", "transfer", "void"])
            try:
                if kind == "sale":
                    ledger.record_movement(ADMIN, commands.Movement.parse(
                        store_id=store.id, product_id=doodh.id, type="sale",
                        quantity=rng.randint(1, 4)))
                    done["sold"] += 1
                elif kind in ("basket", "void"):
                    sale = sales.complete_sale(ADMIN, store_id=store.id, lines=[
                        {"product_id": doodh.id, "quantity": rng.randint(1, 4)}]).data["sale"]
                    done["sold"] += 1
                    if kind == "void":
                        sales.void_sale(ADMIN, sale["id"])
                        done["voided"] += 1
                else:
                    ledger.transfer(ADMIN, commands.Transfer.parse(
                        from_store_id=store.id, to_store_id=other.id, product_id=doodh.id,
                        quantity=rng.randint(1, 6)))
                    done["moved"] += 1
            except InsufficientStock:
                done["refused"] += 1
        return done

    results, errors = run_threads(pg_app, 16, work)
    assert errors == []
    assert sum(r["sold"] for r in results) > 100 and sum(r["voided"] for r in results) > 0
    assert sum(r["moved"] for r in results) > 0
    assert_ledger_consistent()
    remaining = db.session.execute(db.text(
        "SELECT min(quantity), sum(quantity) FROM stock_batches")).one()
    levels = db.session.execute(db.text("SELECT sum(quantity) FROM stock_levels")).scalar()
    assert remaining[0] >= 0 and remaining[1] == levels
    # first expiring first out: the later batch is touched only once the sooner one is gone
    # in that store (a void puts back into what its sale took, so both may hold some again)
    print(f"\n16 threads × 25 on a tracked product: {results[0]} …")


def test_a_tracked_sale_costs_one_round_trip_more_than_an_untracked_one(pg_app, pg_url):
    """Counted at psycopg2 (bench/roundtrips.py's counting connection): a sale of a product that
    does not track expiry costs what it did; one that does costs one more, however many
    batches it takes from (one statement takes them all); a basket line likewise."""
    from bench.roundtrips import COUNTS, _Connection
    from tests.api_client import api_as
    from tests.conftest import _config
    from webapp import create_app

    store = make_store()
    plain = make_product(unit="piece")
    tracked = make_product(unit="piece", tracks_expiry=True)
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=plain.id, type="stock_in", quantity=1000))
    for day in range(1, 200):  # 199 batches of 5: every sale below takes from two of them
        _receive(store, tracked, 5, date(2027, 1, 1) + timedelta(days=day))
    db.session.commit()
    app = create_app(_config(pg_url, SQLALCHEMY_ENGINE_OPTIONS={
        "connect_args": {"connection_factory": _Connection}}))
    with app.app_context():
        api = api_as(app, "admin")

        def count(path, body, n=5):
            for _ in range(3):  # warm: the token cache, statement texts
                assert api.post(path, json=body).status_code == 201
            COUNTS.update(database=0)
            for _ in range(n):
                response = api.post(path, json=body)
                assert response.status_code == 201, response.json
            return COUNTS["database"] / n, response.json

        sale = {"store_id": store.id, "type": "sale", "quantity": "4"}
        untracked, _ = count("/api/v1/movements", {**sale, "product_id": plain.id})
        with_batches, last = count("/api/v1/movements", {**sale, "product_id": tracked.id})
        assert len(last["movement"]["batches"]) == 2  # 4 across a batch's end
        basket = {"store_id": store.id}
        plain_basket, _ = count("/api/v1/sales", {**basket, "lines": [
            {"product_id": plain.id, "quantity": 1}]})
        mixed_basket, sold = count("/api/v1/sales", {**basket, "lines": [
            {"product_id": plain.id, "quantity": 1}, {"product_id": tracked.id, "quantity": 3}]})
        plain_two, _ = count("/api/v1/sales", {**basket, "lines": [
            {"product_id": plain.id, "quantity": 1},
            {"product_id": make_plain_stocked(store).id, "quantity": 1}]})
        assert sold["sale"]["lines"][1]["batches"]
        db.session.remove()
        db.engine.dispose()
    print(f"\nround trips: sale {untracked} untracked, {with_batches} tracked; basket of two "
          f"{plain_two} untracked, {mixed_basket} with a tracked line ({plain_basket} for one)")
    assert with_batches == untracked + 1
    assert mixed_basket == plain_two + 1
    assert_ledger_consistent()


def make_plain_stocked(store):
    product = make_product(unit="piece")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=1000))
    db.session.commit()
    return product
