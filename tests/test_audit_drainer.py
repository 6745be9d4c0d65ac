"""The worker's drainer thread (worker.py): woken through Redis by the sales' drain requests,
it empties the outbox at once, in few drains however many sales asked."""
import threading
import time

import pytest
from sqlalchemy import func, select

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
