"""The ledger invariants under real concurrency on PostgreSQL (threads, own sessions)."""
import random
import threading
import time
from collections import Counter
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tests.factories import ADMIN, make_product, make_store
from webapp.extensions import db
from webapp.models import StockLevel, StockMovement
from webapp.services import commands, ledger
from webapp.services.errors import DomainError, InsufficientStock
from webapp.services.integrity import ledger_violations
from webapp.services.ledger.batches import NO_BATCH_VIOLATIONS, batch_violations

pytestmark = pytest.mark.postgres


def run_threads(app, count, work):
    """Run work(i) in `count` threads, each in its own app context; return results and errors."""
    results, errors = [None] * count, []
    barrier = threading.Barrier(count)
    # Threads read ids off the test's ORM objects; a commit expired them, and reloading them
    # from 32 threads at once would share this thread's session. Load them here, once.
    for obj in list(db.session.identity_map.values()):
        db.session.refresh(obj)

    def target(i):
        with app.app_context():
            barrier.wait()
            try:
                results[i] = work(i)
            except Exception as exc:  # collected and asserted on by the test
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    return results, errors


def assert_ledger_consistent():
    """Invariant 1 (levels, balance chain) and invariant 9 (batches add up to the level)."""
    conn = db.session.connection()
    violations, batches = ledger_violations(conn), batch_violations(conn)
    db.session.rollback()
    assert violations == {"levels": [], "chain": [], "orphans": []}
    assert batches == NO_BATCH_VIOLATIONS


def test_32_threads_selling_one_product_until_it_runs_out(pg_app):
    store, product = make_store(), make_product(unit="piece")
    initial = 300
    ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id, product_id=product.id,
                                                          type="stock_in", quantity=initial))

    def sell_until_empty(_):
        sold = refused = 0
        while True:
            try:
                ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                      product_id=product.id,
                                                                      type="sale", quantity=1))
                sold += 1
            except InsufficientStock:
                refused += 1
                return sold, refused

    started = time.monotonic()
    results, errors = run_threads(pg_app, 32, sell_until_empty)
    elapsed = time.monotonic() - started
    assert errors == []
    assert sum(sold for sold, _ in results) == initial
    assert sum(refused for _, refused in results) == 32
    quantity = db.session.get(StockLevel, (store.id, product.id)).quantity
    assert quantity == 0
    balances = db.session.scalars(select(StockMovement.balance_after)).all()
    assert min(balances) >= 0
    assert_ledger_consistent()
    print(f"\n32 threads sold {initial} units in {elapsed:.2f}s")


def test_random_mix_of_all_movement_types_keeps_every_invariant(pg_app):
    stores = [make_store() for _ in range(4)]
    negative = make_store(allow_negative_stock=True)
    products = [make_product(unit="kg") for _ in range(6)]
    rows = [(s, p) for s in stores + [negative] for p in products]
    for s, p in rows[::2]:
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=s.id, product_id=p.id,
                                                              type="stock_in", quantity=20))
    outcomes = Counter()
    lock = threading.Lock()

    def random_work(i):
        rng = random.Random(i)
        for _ in range(60):
            s, p = rng.choice(rows)
            qty = Decimal(rng.randint(1, 5000)) / 1000
            kind = rng.choice(["stock_in", "sale", "sale", "removal", "adjustment",
                               "transfer", "count"])
            try:
                if kind == "transfer":
                    other = rng.choice([x for x in stores if x.id != s.id])
                    a, b = (s, other) if rng.random() < 0.5 else (other, s)
                    ledger.transfer(ADMIN, commands.Transfer.parse(from_store_id=a.id,
                                                                   to_store_id=b.id,
                                                                   product_id=p.id, quantity=qty))
                elif kind == "count":
                    picks = rng.sample(products, 3)
                    ledger.apply_count(ADMIN, commands.Count.parse(store_id=s.id, counts=[
                        {"product_id": x.id, "quantity": Decimal(rng.randint(0, 30))}
                        for x in picks]))
                else:
                    ledger.record_movement(ADMIN,
                        commands.Movement.parse(store_id=s.id, product_id=p.id, type=kind,
                                                quantity=Decimal(rng.randint(0, 30)) if kind == "adjustment" else qty,
                                                reason="expired" if kind == "removal" else None))
                result = "ok"
            except InsufficientStock:
                result = "refused"
            with lock:
                outcomes[(kind, result)] += 1

    started = time.monotonic()
    _, errors = run_threads(pg_app, 16, random_work)
    elapsed = time.monotonic() - started
    assert errors == []
    assert sum(outcomes.values()) == 16 * 60
    assert outcomes[("sale", "ok")] > 0 and outcomes[("transfer", "ok")] > 0
    assert_ledger_consistent()
    negatives = db.session.scalar(select(func.count()).select_from(StockLevel).where(
        StockLevel.quantity < 0, StockLevel.store_id != negative.id))
    assert negatives == 0
    print(f"\n16 threads × 60 random movements in {elapsed:.2f}s: {dict(outcomes)}")


def test_opposite_transfers_do_not_deadlock(pg_app):
    a, b, product = make_store(), make_store(), make_product(unit="piece")
    for store in (a, b):
        ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                              product_id=product.id,
                                                              type="stock_in", quantity=1000))

    def shuttle(i):
        source, target = (a, b) if i % 2 else (b, a)
        for _ in range(25):
            ledger.transfer(ADMIN, commands.Transfer.parse(from_store_id=source.id,
                                                           to_store_id=target.id,
                                                           product_id=product.id, quantity=1))

    _, errors = run_threads(pg_app, 16, shuttle)
    assert errors == []
    levels = db.session.scalars(select(StockLevel.quantity)).all()
    assert sum(levels) == 2000 and sorted(levels) == [1000, 1000]
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 2 + 16 * 25 * 2
    assert_ledger_consistent()


def test_concurrent_idempotent_replays_write_once(pg_app):
    store, product = make_store(), make_product()

    def same_request(_):
        return ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                     product_id=product.id,
                                                                     type="stock_in",
                                                                     quantity="2.5"), idempotency_key="k-1")

    results, errors = run_threads(pg_app, 12, same_request)
    assert errors == []
    assert len({repr(r.data) for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert db.session.get(StockLevel, (store.id, product.id)).quantity == Decimal("2.5")

    def conflicting(i):
        return ledger.record_movement(ADMIN, commands.Movement.parse(store_id=store.id,
                                                                     product_id=product.id,
                                                                     type="stock_in",
                                                                     quantity=str(10 + i)), idempotency_key="k-2")

    results, errors = run_threads(pg_app, 8, conflicting)
    assert len([r for r in results if r is not None]) == 1
    assert len(errors) == 7
    assert all(isinstance(e, DomainError) and e.code == "idempotency_key_reused" for e in errors)
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 2
    assert_ledger_consistent()
