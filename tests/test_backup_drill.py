"""The PostgreSQL backup drill (docs/operations.md): a cluster that archives its WAL, a base
backup taken under write traffic, more sales after it, then two restores — to the end of the
archive and to a point in time between two known sales — each checked with `flask
verify-ledger` and against the sales the client saw acknowledged: none missing, none extra."""
import subprocess
import sys
import threading
import time
import uuid

import pytest
from flask_migrate import upgrade

from drill import clusters
from tests.api_client import api_as
from tests.conftest import _config
from tests.factories import ADMIN, make_product, make_store
from tests.processes import ROOT, app_env, wait_until
from webapp import create_app
from webapp.extensions import db
from webapp.services import commands, ledger

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


class Client:
    """Sells one piece at a time with a fresh idempotency key; logs each acknowledged sale."""

    def __init__(self, app, api, store_id, product_id):
        self.app, self.api = app, api
        self.store_id, self.product_id = store_id, product_id
        self.acknowledged, self.errors = [], []
        self.running, self.stop = threading.Event(), threading.Event()
        self.running.set()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with self.app.app_context():
            try:
                while not self.stop.is_set():
                    if not self.running.wait(0.05):
                        continue
                    response = self.api.post(
                        "/api/v1/sales", headers={"Idempotency-Key": uuid.uuid4().hex},
                        json={"store_id": self.store_id,
                              "lines": [{"product_id": self.product_id, "quantity": "1"}]})
                    assert response.status_code == 201, response.json
                    self.acknowledged.append(response.json["sale"]["id"])
            except BaseException as error:
                self.errors.append(error)
            finally:
                db.session.remove()

    def wait_for(self, count):
        wait_until(lambda: len(self.acknowledged) >= count or self.errors, timeout=120,
                   what=f"{count} acknowledged sales")
        assert not self.errors, self.errors

    def pause(self):
        """Stop sending and wait until the sale in flight, if any, is answered."""
        self.running.clear()
        time.sleep(0.3)
        return len(self.acknowledged)


def restored_sales(cluster):
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres",
                            dbname="kiryana")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM sales ORDER BY id")
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def verify_ledger(cluster):
    env = app_env(cluster.url("kiryana"), "", "drill:", FLASK_APP="webapp")
    result = subprocess.run([sys.executable, "-m", "flask", "verify-ledger"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_base_backup_under_traffic_restores_to_the_end_and_to_a_point_in_time():
    base = clusters.workspace()
    primary = at_end = at_point = None
    app = None
    try:
        primary = clusters.archiving_primary(base)
        clusters.sql(primary, "CREATE DATABASE kiryana")
        app = create_app(_config(primary.url("kiryana")))
        with app.app_context():
            upgrade()
            store = make_store(code="LHR-0007")
            product = make_product(unit="piece", sale_price="25.00")
            ledger.record_movement(ADMIN, commands.Movement.parse(
                store_id=store.id, product_id=product.id, type="stock_in", quantity=100000))
            client = Client(app, api_as(app), store.id, product.id)
            db.session.remove()
        client.thread.start()
        client.wait_for(30)
        # The base backup is taken while the client keeps selling.
        during = len(client.acknowledged)
        clusters.base_backup(primary, base / "backup")
        client.wait_for(len(client.acknowledged) + 30)  # write more after the backup
        # The chosen point: between two known sales, with the client held still around it.
        held = client.pause()
        point = clusters.sql(primary, "SELECT clock_timestamp()::text")[0]
        time.sleep(0.3)
        before_point = list(client.acknowledged)
        assert len(before_point) == held
        client.running.set()
        client.wait_for(held + 30)
        client.stop.set()
        client.thread.join(timeout=30)
        assert not client.errors, client.errors
        everything = list(client.acknowledged)
        clusters.archive_current_wal(primary)
        assert during >= 30 and len(everything) >= len(before_point) + 30

        at_end, end_seconds = clusters.restore(base / "backup", primary.archive, base / "end")
        assert restored_sales(at_end) == sorted(everything)  # none missing, none extra
        assert "OK: no violation" in verify_ledger(at_end)

        at_point, point_seconds = clusters.restore(base / "backup", primary.archive,
                                                   base / "point", target_time=point)
        assert restored_sales(at_point) == sorted(before_point)
        report = verify_ledger(at_point)
        assert "OK: no violation" in report
        print(f"\nbackup drill: {len(everything)} sales acknowledged; restored to the end in "
              f"{end_seconds:.1f} s ({len(everything)} found), to {point} in "
              f"{point_seconds:.1f} s ({len(before_point)} found, "
              f"{len(everything) - len(before_point)} after the point left out)")
    finally:
        if app is not None:
            with app.app_context():
                db.engine.dispose()
        clusters.remove(base, at_point, at_end, primary)


