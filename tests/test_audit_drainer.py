"""The worker's drainer thread (worker.py): woken through Redis by the sales' drain requests,
it empties the outbox at once, in few drains however many sales asked."""
import threading
import time

import pytest
from sqlalchemy import event, func, select

import worker
from tests.api_client import api_as
from tests.factories import ADMIN, make_product, make_store
from webapp.extensions import db
from webapp.infra import redisconn
from webapp.models import AuditLog, AuditOutbox
from webapp.services import audit, commands, ledger

SALES = 20


@pytest.mark.postgres
@pytest.mark.redis
def test_the_drainer_moves_every_sale_event_soon_in_fewer_drains_than_sales(redis_pg_app,
                                                                           monkeypatch):
    store, product = make_store(), make_product(unit="piece")
    ledger.record_movement(ADMIN, commands.Movement.parse(
        store_id=store.id, product_id=product.id, type="stock_in", quantity=100))
    audit.drain_all()
    logged = db.session.scalar(select(func.count()).select_from(AuditLog))
    drains = []
    real = worker.drain_audit
    monkeypatch.setattr(worker, "drain_audit", lambda: drains.append(1) or real())
    stop = threading.Event()
    drainer = threading.Thread(target=worker._drainer, args=(redis_pg_app, stop))
    drainer.start()
    try:
        api = api_as(redis_pg_app)
        for _ in range(SALES):
            response = api.post("/api/v1/movements", json={
                "store_id": store.id, "product_id": product.id, "type": "sale",
                "quantity": "1"})
            assert response.status_code == 201, response.json
        deadline = time.monotonic() + 10
        while db.session.scalar(select(func.count()).select_from(AuditOutbox)):
            db.session.commit()
            assert time.monotonic() < deadline, "the drainer left events in the outbox"
            time.sleep(0.05)
    finally:
        stop.set()
        redisconn.run(lambda r: r.rpush(redisconn.prefixed(audit.DRAIN_WAKE), 1))
        drainer.join(timeout=10)
    assert not drainer.is_alive()
    assert db.session.scalar(select(func.count()).select_from(AuditLog)) - logged >= SALES
    assert 1 <= len(drains) < SALES / 2  # gathered: not a drain per sale


def test_a_drain_stops_at_a_short_batch_without_asking_the_outbox_again(app):
    """Five events in batches of two: three reads of the outbox (2, 2, 1), none after the
    short one."""
    for n in range(5):
        audit.record_now(None, "test.event", "thing", n)
    reads = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "audit_outbox" in statement:
            reads.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert audit.drain_all(batch_size=2) == 5
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(reads) == 3
    assert db.session.scalar(select(func.count()).select_from(AuditOutbox)) == 0
