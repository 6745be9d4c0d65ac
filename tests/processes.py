"""Real servers for the scale-out tests: workers, gunicorn, a private Redis, a PostgreSQL pair.

Each helper starts a process on a free loopback port, waits until it answers, and stops it
(by its own pid only) when the test is done.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests import services

ROOT = Path(__file__).resolve().parent.parent

def _pg_bin():
    """PG_BIN, else Debian's newest /usr/lib/postgresql/<version>/bin."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
# initdb and postgres refuse to run as root: as root, run them as the postgres OS user.
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout=15.0, interval=0.05, what="condition"):
    """Poll check() until it returns a truthy value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def unique_prefix():
    return f"t{uuid.uuid4().hex[:10]}:"


def _instance_dir():
    """One scratch instance/ for every child process of this run (config.py writes a key there)."""
    if not hasattr(_instance_dir, "path"):
        _instance_dir.path = tempfile.mkdtemp(prefix="kiryana-instance-")
        atexit.register(shutil.rmtree, _instance_dir.path, True)
    return _instance_dir.path


def app_env(database_url, redis_url, prefix, **extra):
    """Environment for a production-mode app process (gunicorn or worker) in these tests."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_REPLICA_URL",)}
    env.update({
        "APP_ENV": "production", "SECRET_KEY": "scale-out-test-secret",
        "SESSION_COOKIE_SECURE": "0", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix, "RQ_QUEUE_PREFIX": prefix, "WORKER_SWEEP_SECONDS": "0.5",
        "SYNC_STALL_SECONDS": "1.5", "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING",
        "INSTANCE_DIR": _instance_dir(), "METRICS_ALLOW": "127.0.0.1/32",
    })
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Process:
    """A child process in its own process group, with its output kept in a log file."""

    def __init__(self, args, env, name):
        self.log_path = Path(tempfile.mkstemp(prefix=f"kiryana-{name}-", suffix=".log")[1])
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, sig=signal.SIGKILL):
        """Signal the whole process group (the process and any children it started)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=15)

    def stop(self):
        if self.proc.poll() is None:
            self.kill(signal.SIGTERM)
        self.log.close()
        self.log_path.unlink(missing_ok=True)

    def output(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")


def start_worker(env):
    return Process([sys.executable, "worker.py"], env, "worker")


def start_gunicorn(env, port, workers=1, app="webapp:create_app()", options=()):
    """gunicorn with ./gunicorn.conf.py serving `app` (any path answering 200 when up)."""
    proc = Process([sys.executable, "-m", "gunicorn", "-w", str(workers), "-b",
                    f"127.0.0.1:{port}", "--graceful-timeout", "2", *options, app],
                   env, "gunicorn")
    # Every worker must have booted: the app answers /healthz several times in a row.
    wait_until(lambda: all(_healthy(port) for _ in range(3 * workers))
               or proc.proc.poll() is not None, timeout=60, interval=0.2,
               what="gunicorn workers to boot")
    assert proc.proc.poll() is None, proc.output()
    return proc


def _healthy(port):
    import requests

    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    except requests.RequestException:
        return False


def start_redis(port):
    if not shutil.which("redis-server"):
        services.missing("redis-server is not installed")
    proc = Process(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no"], os.environ.copy(), "redis")
    proc.port = port
    wait_until(lambda: services.port_open("127.0.0.1", port), timeout=10, what="redis-server")
    return proc


# --- A PostgreSQL primary and its streaming replica, both private to the test -------------

def _as_postgres(*args, **kwargs):
    return subprocess.run([*AS_POSTGRES, *map(str, args)], check=True, capture_output=True,
                          timeout=kwargs.pop("timeout", 60), **kwargs)


def _own(path):
    if AS_POSTGRES:
        shutil.chown(path, "postgres", "postgres")


class PgCluster:
    """A PostgreSQL cluster in a temporary directory, listening on 127.0.0.1:port."""

    def __init__(self, data_dir, port):
        self.data_dir, self.port = Path(data_dir), port
        self.proc = None

    def url(self, database="postgres"):
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def configure(self, **settings):
        settings = {"listen_addresses": "'127.0.0.1'", "port": self.port,
                    "unix_socket_directories": f"'{self.data_dir}'", "fsync": "off",
                    "full_page_writes": "off", "shared_buffers": "'16MB'", **settings}
        text = "".join(f"{k} = {v}\n" for k, v in settings.items())
        (self.data_dir / "postgresql.conf").write_text(text)
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n"
            "local replication all trust\nhost replication all 127.0.0.1/32 trust\n")
        _own(self.data_dir / "postgresql.conf")
        _own(self.data_dir / "pg_hba.conf")

    def start(self):
        self.proc = subprocess.Popen(
            [*AS_POSTGRES, str(PG_BIN / "postgres"), "-D", str(self.data_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(self.ready, timeout=30, interval=0.1, what=f"postgres on {self.port}")

    def ready(self):
        return subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                               str(self.port)]).returncode == 0

    def stop(self, mode="fast"):
        if self.proc is None or self.proc.poll() is not None:
            return
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data_dir, "-m", mode, "-w", "stop")
        self.proc.wait(timeout=30)


def postgres_pair():
    """(primary, replica): a fresh primary and a hot standby made from it by pg_basebackup -R."""
    if not (PG_BIN / "initdb").exists() or (AS_POSTGRES and not shutil.which("runuser")):
        services.missing(f"PostgreSQL server binaries are not in {PG_BIN} (set PG_BIN)")
    base = Path(tempfile.mkdtemp(prefix="kiryana-pg-"))
    _own(base)
    primary = PgCluster(base / "primary", free_port())
    _as_postgres(PG_BIN / "initdb", "-D", primary.data_dir, "-U", "postgres", "--auth=trust",
                 "--no-sync", "-E", "UTF8", "--locale=C")
    primary.configure(wal_level="replica", max_wal_senders=4, hot_standby="on")
    primary.start()
    replica = PgCluster(base / "replica", free_port())
    _as_postgres(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U",
                 "postgres", "-D", replica.data_dir, "-R", "-X", "stream", "-c", "fast")
    replica.configure(hot_standby="on")
    replica.start()
    return base, primary, replica


class TcpProxy:
    """A loopback TCP proxy that can cut the line: a network partition between app and Redis,
    while Redis itself keeps running and keeps its data."""

    def __init__(self, target_port):
        import threading

        self.target_port = target_port
        self.open = True
        self.connections = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        import threading

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self.open = False
        for s in self.connections:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.connections = []

    def restore(self):
        self.open = True

    def close(self):
        self.cut()
        self.listener.close()


# --- pgbouncer in transaction pooling mode, in front of the shared PostgreSQL --------------

def pgbouncer_bin():
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None)


def start_pgbouncer(port, pool_size=4):
    """pgbouncer on 127.0.0.1:port, pool_mode = transaction, every database of the shared
    PostgreSQL behind it; `pool_size` server connections per database, so many clients share
    few server sessions and any state left on a session would leak into another client."""
    binary = pgbouncer_bin()
    if binary is None:
        services.missing("pgbouncer is not installed (apt-get install pgbouncer)")
    folder = Path(tempfile.mkdtemp(prefix="kiryana-pgbouncer-"))
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(f"""[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / 'users.txt'}
admin_users = postgres
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
ignore_startup_parameters = extra_float_digits,options
server_reset_query =
logfile = {folder / 'pgbouncer.log'}
pidfile = {folder / 'pgbouncer.pid'}
""")
    _own(folder)
    for child in folder.iterdir():
        _own(child)
    proc = Process([*AS_POSTGRES, binary, str(folder / "pgbouncer.ini")], os.environ.copy(),
                   "pgbouncer")
    proc.port, proc.folder = port, folder
    wait_until(lambda: services.port_open("127.0.0.1", port) or proc.proc.poll() is not None,
               timeout=10, what="pgbouncer")
    assert proc.proc.poll() is None, proc.output()
    return proc
