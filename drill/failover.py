"""The failover drill: a primary with a synchronous standby, a client selling with
idempotency keys through the app (DATABASE_URL naming both hosts, target_session_attrs=
read-write), the primary SIGKILLed mid-traffic, the standby promoted with `pg_ctl promote`
(the operator's step, docs/operations.md), the client retrying each unanswered sale with the
same key. Prints `acknowledged N, found N, lost 0, duplicated 0, outage S s`.

`python -m drill.failover` (and `make drill`); tests/test_failover_drill.py runs it.
"""
import threading
import time
import uuid
from pathlib import Path

import psycopg2

from drill import clusters
from tests.processes import PG_BIN, PgCluster, _as_postgres, _own, free_port, wait_until


def synchronous_pair(base):
    """(primary, standby): the standby streams from the primary, which waits for it on every
    commit (synchronous_standby_names, synchronous_commit = on)."""
    primary = PgCluster(base / "primary", free_port())
    _as_postgres(PG_BIN / "initdb", "-D", primary.data_dir, "-U", "postgres", "--auth=trust",
                 "--no-sync", "-E", "UTF8", "--locale=C")
    primary.configure(wal_level="replica", max_wal_senders=4, hot_standby="on",
                      synchronous_standby_names="'standby1'", synchronous_commit="on")
    primary.start()
    standby = PgCluster(base / "standby", free_port())
    _as_postgres(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U",
                 "postgres", "-D", standby.data_dir, "-X", "stream", "-c", "fast")
    standby.configure(hot_standby="on", primary_conninfo=(
        f"'host=127.0.0.1 port={primary.port} user=postgres application_name=standby1'"))
    (standby.data_dir / "standby.signal").touch()
    _own(standby.data_dir / "standby.signal")
    standby.start()
    wait_until(lambda: clusters.sql(primary, "SELECT count(*) FROM pg_stat_replication "
                                             "WHERE sync_state = 'sync'")[0] == 1,
               timeout=30, what="the standby to stream synchronously")
    return primary, standby


def multi_host_url(primary, standby, database="kiryana"):
    """libpq's multi-host URL: whichever host accepts writes is the one the app uses."""
    return (f"postgresql+psycopg2://postgres@/{database}?host=127.0.0.1:{primary.port}"
            f"&host=127.0.0.1:{standby.port}&target_session_attrs=read-write"
            "&connect_timeout=2")


class Client:
    """Sells one piece at a time, each with its own idempotency key; an unanswered or failed
    sale is sent again with the same key until it is acknowledged (201)."""

    def __init__(self, api, store_id, product_id):
        self.api, self.store_id, self.product_id = api, store_id, product_id
        self.acknowledged = {}  # key -> sale id
        self.first_failure = self.first_ack_after_failure = None
        self.stop = threading.Event()

    def run(self, app):
        from webapp.extensions import db

        with app.app_context():
            while not self.stop.is_set():
                key = uuid.uuid4().hex
                while not self.stop.is_set():
                    try:
                        response = self.api.post(
                            "/api/v1/sales", headers={"Idempotency-Key": key},
                            json={"store_id": self.store_id,
                                  "lines": [{"product_id": self.product_id, "quantity": "1"}]})
                        status = response.status_code
                    except Exception:
                        status = None
                    finally:
                        db.session.remove()
                    if status == 201:
                        self.acknowledged[key] = response.json["sale"]["id"]
                        if self.first_failure and not self.first_ack_after_failure:
                            self.first_ack_after_failure = time.monotonic()
                        break
                    if self.first_failure is None:
                        self.first_failure = time.monotonic()
                    time.sleep(0.1)


def count_sales(cluster, keys):
    conn = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="postgres",
                            dbname="kiryana")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT idempotency_key, count(*) FROM sales GROUP BY idempotency_key")
            rows = dict(cur.fetchall())
    finally:
        conn.close()
    found = sum(1 for key in keys if rows.get(key))
    duplicated = sum(n - 1 for n in rows.values() if n > 1)
    return found, duplicated


def kill_drill(seconds_before=3.0, seconds_after=4.0):
    """Run the kill drill → dict of its figures."""
    from flask_migrate import upgrade

    from tests.api_client import api_as
    from tests.conftest import _config
    from tests.factories import ADMIN, make_product, make_store
    from webapp import create_app
    from webapp.extensions import db
    from webapp.services import commands, ledger

    base = clusters.workspace("kiryana-failover-")
    primary = standby = client = None
    try:
        primary, standby = synchronous_pair(base)
        clusters.sql(primary, "CREATE DATABASE kiryana")
        app = create_app(_config(multi_host_url(primary, standby)))
        with app.app_context():
            upgrade()
            store, product = make_store(), make_product(unit="piece")
            ledger.record_movement(ADMIN, commands.Movement.parse(
                store_id=store.id, product_id=product.id, type="stock_in", quantity=100000))
            client = Client(api_as(app), store.id, product.id)
            db.session.remove()
        thread = threading.Thread(target=client.run, args=(app,), daemon=True)
        thread.start()
        time.sleep(seconds_before)
        killed_at = time.monotonic()
        primary.proc.kill()  # SIGKILL the postmaster (runuser passes it on)
        _kill_cluster(primary)
        # The operator's step: promote the standby.
        _as_postgres(PG_BIN / "pg_ctl", "-D", standby.data_dir, "-w", "promote")
        wait_until(lambda: client.first_ack_after_failure is not None, timeout=90,
                   what="the first sale acknowledged by the new primary")
        time.sleep(seconds_after)
        client.stop.set()
        thread.join(timeout=30)
        with app.app_context():
            db.engine.dispose()
        keys = list(client.acknowledged)
        found, duplicated = count_sales(standby, keys)
        outage = client.first_ack_after_failure - min(killed_at, client.first_failure or killed_at)
        return {"acknowledged": len(keys), "found": found, "lost": len(keys) - found,
                "duplicated": duplicated, "outage": round(outage, 1)}
    finally:
        if client is not None:
            client.stop.set()  # also when the drill failed: no client left calling dead ports
        clusters.remove(base, standby, primary)


def _kill_cluster(cluster):
    """SIGKILL every process of the cluster (the postmaster and its backends), as a machine
    that dies would leave it."""
    import os
    import signal
    import subprocess

    pid_file = Path(cluster.data_dir) / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    for p in [pid, *map(int, children.split())]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def report(figures):
    return (f"acknowledged {figures['acknowledged']}, found {figures['found']}, "
            f"lost {figures['lost']}, duplicated {figures['duplicated']}, "
            f"outage {figures['outage']} s")


if __name__ == "__main__":
    print("kill: " + report(kill_drill()))
