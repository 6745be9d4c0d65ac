"""Baskets under real concurrency on PostgreSQL: shared products, no deadlock, invariants hold."""
import random
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import ADMIN, make_product, make_store
from tests.test_ledger_concurrency import assert_ledger_consistent, run_threads
from webapp.extensions import db
from webapp.models import Sale, SaleLine, StockLevel, StockMovement
from webapp.services import commands, ledger, sales
from webapp.services.errors import DomainError, InsufficientStock

pytestmark = pytest.mark.postgres


def test_16_threads_completing_baskets_that_share_products(pg_app):
    store = make_store()
    products = [make_product(unit="piece", sale_price="10.00") for _ in range(6)]
    initial = 60
    for product in products:
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id,
            type="stock_in", quantity=initial))
    ids = [p.id for p in products]

    def shop(i):
        rng = random.Random(i)
        done = refused = 0
        for _ in range(12):
            chosen = rng.sample(ids, 3)  # request order differs from the lock order
            try:
                sales.complete_sale(ADMIN, store_id=store.id, lines=[
                    {"product_id": pid, "quantity": rng.choice([1, 2])} for pid in chosen])
                done += 1
            except InsufficientStock:
                refused += 1
        return done, refused

    results, errors = run_threads(pg_app, 16, shop)
    assert errors == []
    assert sum(done for done, _ in results) == db.session.scalar(
        select(func.count()).select_from(Sale))
    sold = dict(db.session.execute(select(SaleLine.product_id, func.sum(SaleLine.quantity))
                                   .group_by(SaleLine.product_id)).all())
    for pid in ids:
        level = db.session.get(StockLevel, (store.id, pid)).quantity
        assert level == initial - sold.get(pid, 0) and level >= 0
    # Every sale line points at its own sale movement; no movement without a line.
    lines = db.session.scalar(select(func.count()).select_from(SaleLine))
    movements = db.session.scalar(select(func.count()).select_from(StockMovement)
                                  .where(StockMovement.type == "sale"))
    assert lines == movements
    numbers = db.session.scalars(select(Sale.number).order_by(Sale.number)).all()
    assert numbers == list(range(1, len(numbers) + 1))
    db.session.rollback()
    assert_ledger_consistent()


def test_a_void_racing_sales_and_returns_of_the_same_products(pg_app):
    store = make_store()
    a, b = make_product(unit="piece"), make_product(unit="piece")
    for product in (a, b):
        ledger.record_movement(ADMIN, commands.Movement.parse(
            store_id=store.id, product_id=product.id,
            type="stock_in", quantity=100))
    sale = sales.complete_sale(ADMIN, store_id=store.id, lines=[
        {"product_id": b.id, "quantity": 5}, {"product_id": a.id, "quantity": 5}]).data["sale"]

    def work(i):
        if i < 4:  # four voids of one sale: exactly one wins
            try:
                return sales.void_sale(ADMIN, sale["id"]).data["sale"]["status"]
            except DomainError as error:
                return error.code
        if i < 8:  # returns racing the voids: refused once voided, bounded before
            try:
                sales.return_lines(ADMIN, sale["id"], lines=[{"product_id": a.id, "quantity": 2}])
                return "returned"
            except DomainError as error:
                return error.code
        sales.complete_sale(ADMIN, store_id=store.id, lines=[
            {"product_id": a.id, "quantity": 1}, {"product_id": b.id, "quantity": 1}])
        return "sold"

    results, errors = run_threads(pg_app, 16, work)
    assert errors == []
    assert results[:4].count("voided") == 1 and results[:4].count("already_voided") == 3
    assert set(results[4:8]) <= {"returned", "already_voided", "return_exceeds_sold"}
    assert results[4:8].count("returned") <= 2  # 5 sold, 2 at a time
    assert results[8:] == ["sold"] * 8
    # Voided, so all 5 of each came back whatever was returned first; 8 baskets took 1 each.
    assert db.session.get(StockLevel, (store.id, a.id)).quantity == Decimal(92)
    assert db.session.get(StockLevel, (store.id, b.id)).quantity == Decimal(92)
    line = db.session.scalars(select(SaleLine).where(SaleLine.sale_id == sale["id"],
                                                     SaleLine.product_id == a.id)).one()
    assert line.returned_quantity == line.quantity
    db.session.rollback()
    assert_ledger_consistent()
