"""A bulk import run by a real RQ worker on PostgreSQL + Redis: progress shows while it runs."""
import io

import pytest

from tests.api_client import api_as
from tests.processes import app_env, start_worker, wait_until
from tests.test_scale_out import ops, redis_url  # noqa: F401  (fixtures)
from webapp.extensions import db
from webapp.models import AuditOutbox, Product

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
ROWS = 20_000


def _outbox():
    count = db.session.scalar(db.select(db.func.count()).select_from(AuditOutbox))
    db.session.commit()
    return count


def test_progress_is_visible_while_a_real_worker_imports(ops, pg_url, redis_url):  # noqa: F811
    api = api_as(ops, "manager")
    lines = ["sku,name,category,unit,sale_price,cost"] + [
        f"W-{i},مال {i},Bulk,piece,\"1,{i % 1000:03d}.50\",900" for i in range(ROWS)]
    sent = api.client.post("/api/v1/imports", data={
        "kind": "products", "dry_run": "false",
        "file": (io.BytesIO("\n".join(lines).encode()), "big.csv")},
        headers={"Authorization": f"Bearer {api.token}"}, content_type="multipart/form-data")
    assert sent.status_code == 202, sent.json
    assert sent.json["status"] == "queued"  # nothing runs until a worker takes it
    url = sent.json["status_url"]
    page = ops.test_client()
    page.post("/login", data={"username": api.user.username, "password": "password-123"})
    seen = []

    def watch():
        status = api.get(url).json
        if status["status"] == "running" and 0 < status["processed"] < status["total"]:
            fragment = page.get(f"/imports/{status['job_id']}/progress").get_data(as_text=True)
            # Only a fragment taken while the job was still running on both sides of it counts
            # (the last rows can finish between the two reads).
            if api.get(url).json["status"] == "running":
                seen.append((status["processed"], "<progress" in fragment,
                             'hx-trigger="every 1s"' in fragment))
        return status["status"] == "done" and status

    worker = start_worker(app_env(pg_url, redis_url, ops.prefix))
    try:
        done = wait_until(watch, timeout=180, interval=0.02, what="the import to finish")
        wait_until(lambda: _outbox() == 0, timeout=60, what="the audit outbox to drain")
    finally:
        worker.stop()
    assert seen, "never saw the job part-way through"
    assert all(bar and polling for _n, bar, polling in seen)
    assert (done["created"], done["refused"], done["processed"]) == (ROWS, 0, ROWS)
    assert db.session.scalar(db.select(db.func.count()).select_from(Product)) == ROWS
    final = page.get(f"/imports/{done['job_id']}/progress").get_data(as_text=True)
    assert "hx-trigger" not in final  # polling stops once it is done
