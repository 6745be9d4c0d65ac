"""The failover drill: a primary with a synchronous standby, a client selling with
idempotency keys through the app (DATABASE_URL naming both hosts, target_session_attrs=
read-write), the primary SIGKILLed mid-traffic, the standby promoted with `pg_ctl promote`
(the operator's step, docs/operations.md), the client retrying each unanswered sale with the
same key. Prints `acknowledged N, found N, lost 0, duplicated 0, outage S s`.

`python -m drill.failover` (and `make drill`); tests/test_failover_drill.py runs it.
"""
import collections
import os
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import psycopg2

from drill import clusters
from tests.processes import (
    AS_POSTGRES,
    PG_BIN,
    PgCluster,
    _as_postgres,
    _own,
    free_port,
    wait_until,
)


class NamespacedCluster(PgCluster):
    """A cluster on another host: in the network namespace of `link` (drill/netns.py), listening
    on its address there; the drill reads it through its Unix socket (`admin_host`), which the
    cut does not hide."""

    def __init__(self, data_dir, port, link):
        super().__init__(data_dir, port)
        self.link, self.host, self.admin_host = link, link.inner_ip, str(data_dir)

    def configure(self, **settings):
        super().configure(listen_addresses=f"'{self.host}'", **settings)
        with open(self.data_dir / "pg_hba.conf", "a") as hba:
            hba.write(f"host all all {self.link.outer_ip}/32 trust\n"
                      f"host replication all {self.link.outer_ip}/32 trust\n")

    def start(self):
        self.proc = subprocess.Popen(
            [*self.link.run_inside(), *AS_POSTGRES, str(PG_BIN / "postgres"), "-D",
             str(self.data_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(self.ready, timeout=30, interval=0.1, what=f"postgres on {self.port}")

    def ready(self):
        return subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", self.host, "-p",
                               str(self.port)]).returncode == 0


def synchronous_pair(base, link=None):
    """(primary, standby): the standby streams from the primary, which waits for it on every
    commit (synchronous_standby_names, synchronous_commit = on). With `link`, the primary runs
    on the other side of it (its own network namespace)."""
    primary = NamespacedCluster(base / "primary", free_port(), link) if link else \
        PgCluster(base / "primary", free_port())
    _as_postgres(PG_BIN / "initdb", "-D", primary.data_dir, "-U", "postgres", "--auth=trust",
                 "--no-sync", "-E", "UTF8", "--locale=C")
    primary.configure(wal_level="replica", max_wal_senders=4, hot_standby="on",
                      synchronous_standby_names="'standby1'", synchronous_commit="on")
    primary.start()
    host = _host(primary)
    standby = PgCluster(base / "standby", free_port())
    _as_postgres(PG_BIN / "pg_basebackup", "-h", host, "-p", primary.port, "-U",
                 "postgres", "-D", standby.data_dir, "-X", "stream", "-c", "fast")
    standby.configure(hot_standby="on", primary_conninfo=(
        f"'host={host} port={primary.port} user=postgres application_name=standby1'"))
    (standby.data_dir / "standby.signal").touch()
    _own(standby.data_dir / "standby.signal")
    standby.start()
    wait_until(lambda: clusters.sql(primary, "SELECT count(*) FROM pg_stat_replication "
                                             "WHERE sync_state = 'sync'")[0] == 1,
               timeout=30, what="the standby to stream synchronously")
    return primary, standby


def _host(cluster):
    return getattr(cluster, "host", "127.0.0.1")


# libpq's own timeouts are what let the app leave a primary that stopped answering: a new
# connection gives up on a host after connect_timeout seconds and tries the next; a connection
# that is open when the line goes dead fails once data it sent stays unacknowledged for
# tcp_user_timeout ms, or, while it waits for an answer, once keepalive probes go unanswered.
# Without them a request on a dead line waits for the kernel's TCP retries: about 15 minutes.
# (docs/operations.md gives production values; the drill's are short to keep it quick.)
DRILL_TIMEOUTS = ("connect_timeout=2&keepalives=1&keepalives_idle=1&keepalives_interval=1"
                  "&keepalives_count=2&tcp_user_timeout=3000")


def multi_host_url(primary, standby, database="kiryana"):
    """libpq's multi-host URL: whichever host accepts writes is the one the app uses."""
    return (f"postgresql+psycopg2://postgres@/{database}?host={_host(primary)}:{primary.port}"
            f"&host={_host(standby)}:{standby.port}&target_session_attrs=read-write"
            f"&{DRILL_TIMEOUTS}")


class Client:
    """Sells one piece at a time, each with its own idempotency key; an unanswered or failed
    sale is sent again with the same key until it is acknowledged (201). The drill sets
    `fault_at` once it has killed or cut; the outage ends at the first 201 to a request sent
    after that. (It used to end at the first 201 after a failed request: when the promotion
    was done before the client's next request, which then went through on its first try — the
    dropped connection's statement sent again to the promoted standby — there was no failure,
    and the drill waited in vain while the client sold: 4 runs in 8 under load.)"""

    def __init__(self, api, store_id, product_id):
        self.api, self.store_id, self.product_id = api, store_id, product_id
        self.acknowledged = {}  # key -> sale id
        self.acknowledged_at = {}  # key -> when the request that got its 201 was sent
        self.fault_at = self.first_ack_after_fault = None
        self.failures = collections.Counter()  # what the failed attempts answered
        self.last_sent = None
        self.stop = threading.Event()

    def run(self, app):
        from webapp.extensions import db

        with app.app_context():
            while not self.stop.is_set():
                key = uuid.uuid4().hex
                while not self.stop.is_set():
                    self.last_sent = sent_at = time.monotonic()
                    try:
                        response = self.api.post(
                            "/api/v1/sales", headers={"Idempotency-Key": key},
                            json={"store_id": self.store_id,
                                  "lines": [{"product_id": self.product_id, "quantity": "1"}]})
                        status = response.status_code
                    except Exception as error:
                        status = type(error).__name__
                    finally:
                        db.session.remove()
                    if status == 201:
                        self.acknowledged[key] = response.json["sale"]["id"]
                        self.acknowledged_at[key] = sent_at
                        if self.fault_at is not None and sent_at >= self.fault_at and \
                                self.first_ack_after_fault is None:
                            self.first_ack_after_fault = time.monotonic()
                        break
                    self.failures[status] += 1
                    time.sleep(0.1)

    def state(self, thread):
        """A line on where the client is, for a drill that waited in vain."""
        waiting = time.monotonic() - self.last_sent if self.last_sent else None
        return (f"client thread alive: {thread.is_alive()}, its request in flight for "
                f"{waiting:.1f} s, failed attempts: {dict(self.failures)}")


def sale_keys(cluster):
    """{idempotency key: number of sales with it} on the cluster."""
    conn = psycopg2.connect(host=getattr(cluster, "admin_host", "127.0.0.1"), port=cluster.port,
                            user="postgres", dbname="kiryana", connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT idempotency_key, count(*) FROM sales GROUP BY idempotency_key")
            return dict(cur.fetchall())
    finally:
        conn.close()


def count_sales(cluster, keys):
    rows = sale_keys(cluster)
    found = sum(1 for key in keys if rows.get(key))
    duplicated = sum(n - 1 for n in rows.values() if n > 1)
    return found, duplicated


def kill_drill(seconds_before=3.0, seconds_after=4.0):
    """The primary SIGKILLed mid-traffic → dict of the drill's figures."""
    return _drill("kill", seconds_before, seconds_after)


def partition_drill(seconds_before=3.0, seconds_after=4.0):
    """The link between the app and a live primary cut mid-traffic → dict of the drill's
    figures, with what the old primary holds (`old_primary`)."""
    return _drill("partition", seconds_before, seconds_after)


def _drill(fault, seconds_before, seconds_after):
    from flask_migrate import upgrade

    from drill import netns
    from tests.api_client import api_as
    from tests.conftest import _config
    from tests.factories import ADMIN, make_product, make_store
    from webapp import create_app
    from webapp.extensions import db
    from webapp.services import commands, ledger

    base = clusters.workspace("kiryana-failover-")
    link = netns.Link() if fault == "partition" else None
    primary = standby = client = None
    try:
        if link:
            link.create()
        primary, standby = synchronous_pair(base, link)
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
        fault_started = time.monotonic()
        if fault == "kill":
            primary.proc.kill()  # runuser; the postmaster and its backends below
            _kill_cluster(primary)
        else:
            link.cut()  # the old primary lives on, unreachable
        # Only a request sent from now on cannot have been answered by the old primary (one
        # sent while `ip` or pgrep ran could, and once ended the wait at once).
        client.fault_at = time.monotonic()
        # The operator's step: promote the standby.
        _as_postgres(PG_BIN / "pg_ctl", "-D", standby.data_dir, "-w", "promote")
        try:
            wait_until(lambda: client.first_ack_after_fault is not None, timeout=60,
                       what="the first sale acknowledged by the new primary")
        except Exception as error:
            raise AssertionError(f"{error}; {client.state(thread)}") from error
        time.sleep(seconds_after)
        client.stop.set()
        thread.join(timeout=30)
        with app.app_context():
            db.engine.dispose()
        keys = list(client.acknowledged)
        found, duplicated = count_sales(standby, keys)
        figures = {"acknowledged": len(keys), "found": found, "lost": len(keys) - found,
                   "duplicated": duplicated,
                   "outage": round(client.first_ack_after_fault - fault_started, 1),
                   "after": sum(1 for t in client.acknowledged_at.values()
                                if t >= client.fault_at)}
        if link:
            figures["old_primary"] = _old_primary(primary, standby, link, set(keys))
        return figures
    finally:
        if client is not None:
            client.stop.set()  # also when the drill failed: no client left calling dead ports
        clusters.remove(base, standby, primary)
        if link:
            link.remove()


def _old_primary(primary, standby, link, acknowledged):
    """What the cut-off primary holds, read through its Unix socket: it is alive and still
    thinks it is the primary; commits it could not get its synchronous standby to confirm wait
    (never acknowledged). Those waits are then ended, so their commits show there (committed on
    the old primary only), and every sale it holds must be one the client saw acknowledged and
    the new primary has: else the old primary accepted a write the client thinks was lost."""
    alive = clusters.sql(primary, "SELECT NOT pg_is_in_recovery()")[0]
    waiting_sql = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep' "
                   "AND datname = 'kiryana'")
    waiting = clusters.sql(primary, waiting_sql)[0]
    clusters.sql(primary, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE wait_event = 'SyncRep'")
    wait_until(lambda: clusters.sql(primary, waiting_sql)[0] == 0, timeout=10,
               what="the old primary's waiting commits to end")
    held = set(sale_keys(primary))
    on_new = set(sale_keys(standby))
    # The link back: the old primary answers over the network again (to be fenced and rebuilt
    # as a standby of the new one: docs/operations.md).
    link.restore()
    wait_until(primary.ready, timeout=30, what="the old primary reachable again")
    return {"alive": bool(alive), "sales": len(held), "waited": waiting,
            "not_acknowledged": len(held - acknowledged), "missing": len(held - on_new)}


def _kill_cluster(cluster):
    """SIGKILL every process of the cluster (the postmaster and its backends), as a machine
    that dies would leave it."""
    pid_file = Path(cluster.data_dir) / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    # Stopped first, so the postmaster forks no backend after the list of its children is read
    # (killed first, its children would no longer be its children).
    os.kill(pid, signal.SIGSTOP)
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    for p in [pid, *map(int, children.split())]:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def report(figures):
    line = (f"acknowledged {figures['acknowledged']}, found {figures['found']}, "
            f"lost {figures['lost']}, duplicated {figures['duplicated']}, "
            f"outage {figures['outage']} s ({figures['after']} sent after the fault, all "
            "on the new primary)")
    old = figures.get("old_primary")
    if old:
        line += (f"; old primary alive: {old['alive']}, holds {old['sales']} sales, "
                 f"{old['waited']} commit(s) left waiting for the standby, "
                 f"{old['not_acknowledged']} not acknowledged, {old['missing']} missing "
                 "from the new primary")
    return line


if __name__ == "__main__":
    print("kill: " + report(kill_drill()), flush=True)
    print("partition: " + report(partition_drill()), flush=True)
