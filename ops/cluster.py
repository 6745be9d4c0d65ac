"""`python -m ops.cluster` (`make cluster`): the app scaled out on one machine, as it would be
across several: HAProxy in front of CLUSTER_NODES gunicorn nodes, pgbouncer (transaction
pooling) in front of PostgreSQL, one Redis and CLUSTER_RQ_WORKERS RQ workers, each on its own
port. docs/operations.md ("A cluster on one machine") lists the settings.

No sticky sessions: sessions are cookies signed with the one SECRET_KEY every node shares, the
cache, rate limits and queues are in the one Redis, so HAProxy sends each request to the next
node (roundrobin) and says which in X-Served-By. A node that dies: HAProxy's health check
(/healthz every 500 ms, down after 2 misses) takes it out; a GET or HEAD that it was answering,
or that could not connect, is sent again to another node (retry-on, option redispatch); a write
is never sent twice by HAProxy (disable-l7-retry) unless it could not even connect: the client
sends it again with the same Idempotency-Key (the page forms' `key`), and the ledger answers the
first result without writing again. tests/test_cluster.py kills a node under the fleet's mix.

With `live` (make cluster: CLUSTER_LIVE=1), one live.py serves the store pages' event streams
and HAProxy routes /live/ to it; the nodes are given LIVE_URL=/live. Its streams are long-lived
(a heartbeat every LIVE_HEARTBEAT_SECONDS keeps them inside HAProxy's timeouts) and never
retried; when it dies, or answers its health check 503 (Redis lost), HAProxy refuses /live/ and
pages poll their stock list as they do without it.

Started in the foreground; Ctrl-C (or SIGTERM) stops every process it started. Each process's
log is in CLUSTER_DIR (default instance/cluster). Only Python, PostgreSQL, redis-server,
pgbouncer and haproxy are needed (Debian: apt-get install -y pgbouncer haproxy).
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# initdb-made clusters and pgbouncer refuse to run as root: as root, run pgbouncer as postgres.
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def setting(name, default):
    return os.environ.get(name, default)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(check, seconds, what):
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.1)


def binary(name):
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None)
    if not found:
        raise RuntimeError(f"{name} is not installed (apt-get install -y {name})")
    return found


class Service:
    """One process of the cluster in its own process group, its output in `log`."""

    def __init__(self, name, args, env, folder, port=None):
        self.name, self.port = name, port
        self.log = folder / f"{name}.log"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Signal the process and everything it started (gunicorn's workers)."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def freeze(self):
        """Stop the process and its children without ending them (a node hung, not yet dead)."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def stop(self):
        self.kill(signal.SIGTERM)


HAPROXY_CFG = """global
    log stdout format raw local0 info
    # Each connection costs two descriptors (client and node): within a 20,000 ulimit.
    maxconn 8000

defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 60s
    timeout server 30s
    timeout http-keep-alive 10s
    timeout queue 10s
    # A node that died: connect again elsewhere (redispatch) and, for a GET or HEAD only,
    # send again what it left unanswered.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 502 503 504
    option forwardfor

frontend kiryana
    bind 127.0.0.1:{port}
    http-request disable-l7-retry if !METH_GET !METH_HEAD
{live_route}    default_backend nodes

backend nodes
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter 500ms fastinter 250ms downinter 1s fall 2 rise 2
    http-response set-header X-Served-By %[srv_name]
{servers}
{live_backend}"""

# live.py's event streams: answered at once, then open for up to LIVE_MAX_SECONDS with a
# heartbeat every LIVE_HEARTBEAT_SECONDS (25 s), inside `timeout server`. http-no-delay: each
# event is sent on as it comes; without it HAProxy held an event back with MSG_MORE for more
# (a sale's event reached the page ~200 ms after the sale's answer, 0.1 ms straight from
# live.py). Nothing here compresses, so nothing is buffered. `timeout tunnel` is the inactivity
# limit once both sides only stream.
LIVE_ROUTE = """    use_backend live if { path_beg /live/ }
"""
LIVE_BACKEND = """
backend live
    option httpchk GET /live/healthz
    http-check expect status 200
    default-server inter 1s fastinter 250ms downinter 1s fall 2 rise 1
    option http-no-delay
    timeout server 60s
    timeout tunnel 1h
    http-request disable-l7-retry
    server live1 127.0.0.1:{port} check
"""

PGBOUNCER_INI = """[databases]
* = host={pg_host} port={pg_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder}/users.txt
admin_users = postgres
pool_mode = transaction
default_pool_size = {pool}
max_client_conn = 2000
ignore_startup_parameters = extra_float_digits,options
server_reset_query =
pidfile = {folder}/pgbouncer.pid
"""


class Cluster:
    """Start with start(), stop with stop(); `url` is HAProxy's address."""

    def __init__(self, database_url, nodes=2, workers=2, threads=4, rq_workers=1,
                 port=None, folder=None, redis_url=None, env=None, pool=10, live=False):
        self.database_url = database_url
        self.node_count, self.workers, self.threads = nodes, workers, threads
        self.rq_count, self.pool = rq_workers, pool
        self.port = port or free_port()
        self.temporary = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="kiryana-cluster-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.pgbouncer_folder = None
        self.redis_url = redis_url
        self.extra_env = env or {}
        self.services, self.nodes, self.rq_workers = [], [], []
        self.live = None
        self.live_port = free_port() if live else None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    # --- the parts ---------------------------------------------------------------------------

    def _redis(self):
        port = free_port()
        self.services.append(Service("redis", [
            binary("redis-server"), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--dir", str(self.folder)], os.environ.copy(), self.folder,
            port))
        wait_until(lambda: port_open(port), 10, "redis")
        return f"redis://127.0.0.1:{port}/0"

    def _pgbouncer(self):
        from urllib.parse import urlsplit

        target = urlsplit(self.database_url)
        port = free_port()
        # pgbouncer will not run as root: as postgres it reads its files from a folder of its
        # own, since CLUSTER_DIR may sit where postgres cannot reach (a clone under /root).
        # It logs to stderr, which lands in CLUSTER_DIR/pgbouncer-run.log.
        folder = self.folder
        if AS_POSTGRES:
            folder = self.pgbouncer_folder = Path(tempfile.mkdtemp(prefix="kiryana-pgbouncer-"))
        (folder / "users.txt").write_text('"postgres" ""\n')
        ini = folder / "pgbouncer.ini"
        ini.write_text(PGBOUNCER_INI.format(pg_host=target.hostname or "127.0.0.1",
                                            pg_port=target.port or 5432, port=port,
                                            folder=folder, pool=self.pool))
        if AS_POSTGRES:
            for path in (folder, *folder.iterdir()):
                shutil.chown(path, "postgres", "postgres")
        self.services.append(Service("pgbouncer-run", [*AS_POSTGRES, binary("pgbouncer"),
                                                       str(ini)],
                                     os.environ.copy(), self.folder, port))
        wait_until(lambda: port_open(port), 10, "pgbouncer")
        return target._replace(netloc=f"{target.username or 'postgres'}@127.0.0.1:{port}") \
            .geturl()

    def app_env(self, database_url):
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_REPLICA_URL"}
        env.update({"APP_ENV": "production",
                    "SECRET_KEY": setting("SECRET_KEY", "cluster-demo-secret-change-me"),
                    "SESSION_COOKIE_SECURE": setting("SESSION_COOKIE_SECURE", "0"),
                    "DATABASE_URL": database_url, "REDIS_URL": self.redis_url,
                    "TRUSTED_PROXY_HOPS": "1", "LOG_LEVEL": setting("LOG_LEVEL", "WARNING"),
                    "DATABASE_POOL_SIZE": str(self.threads + 2),
                    "PYTHONPATH": str(ROOT)})
        if self.live_port:
            env["LIVE_URL"] = "/live"
        env.update({k: str(v) for k, v in self.extra_env.items()})
        return env

    def start_node(self, index, database_url):
        port = free_port()
        node = Service(f"node{index}", [
            sys.executable, "-m", "gunicorn", "--workers", str(self.workers),
            "--worker-class", "gthread", "--threads", str(self.threads),
            "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "5", "--preload",
            "webapp:create_app()"], self.app_env(database_url), self.folder, port)
        self.services.append(node)
        return node

    def _live(self):
        """live.py, once it holds its Redis subscription (it needs no database)."""
        self.live = Service("live", [sys.executable, "live.py", "--port", str(self.live_port)],
                            self.app_env(self.database_url), self.folder, self.live_port)
        self.services.append(self.live)
        wait_until(lambda: _healthy(self.live_port, "/live/healthz") or not self.live.alive(),
                   60, "live.py to subscribe")
        if not self.live.alive():
            raise RuntimeError(f"live.py exited: see {self.live.log}")

    def _haproxy(self):
        servers = "\n".join(f"    server node{i} 127.0.0.1:{node.port} check"
                            for i, node in enumerate(self.nodes, 1))
        cfg = self.folder / "haproxy.cfg"
        live = self.live is not None
        cfg.write_text(HAPROXY_CFG.format(
            port=self.port, servers=servers, live_route=LIVE_ROUTE if live else "",
            live_backend=LIVE_BACKEND.format(port=self.live_port) if live else ""))
        subprocess.run([binary("haproxy"), "-c", "-q", "-f", str(cfg)], check=True)
        self.services.append(Service("haproxy", [binary("haproxy"), "-db", "-f", str(cfg)],
                                     os.environ.copy(), self.folder, self.port))
        wait_until(lambda: port_open(self.port), 10, "haproxy")

    def migrate(self):
        """The schema, straight to PostgreSQL (not through pgbouncer)."""
        env = self.app_env(self.database_url)
        subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "db", "upgrade"],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)

    def start(self):
        try:
            self.redis_url = self.redis_url or self._redis()
            self.migrate()
            pooled = self._pgbouncer()
            self.pooled_url = pooled
            for i in range(1, self.node_count + 1):
                self.nodes.append(self.start_node(i, pooled))
            for node in self.nodes:
                wait_until(lambda n=node: _healthy(n.port) or not n.alive(), 90,
                           f"{node.name} to answer /healthz")
                if not node.alive():
                    raise RuntimeError(f"{node.name} exited: see {node.log}")
            for i in range(1, self.rq_count + 1):
                worker = Service(f"rq-worker{i}", [sys.executable, "worker.py"],
                                 self.app_env(pooled), self.folder)
                self.services.append(worker)
                self.rq_workers.append(worker)
            if self.live_port:
                self._live()
            self._haproxy()
            wait_until(lambda: all(_served_by(self.url) for _ in range(2 * len(self.nodes))),
                       20, "HAProxy to see every node up")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for service in reversed(self.services):
            service.stop()
        self.services.clear()
        if self.pgbouncer_folder:
            shutil.rmtree(self.pgbouncer_folder, ignore_errors=True)
        if self.temporary:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _healthy(port, path="/healthz"):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


def _served_by(url):
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
            return r.headers.get("X-Served-By")
    except OSError:
        return None


def _create_database(url):
    """The database in `url`, created if it does not exist yet."""
    import psycopg2
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(parts._replace(path="/postgres").geturl())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def main():
    database_url = setting("CLUSTER_DATABASE_URL",
                           "postgresql://postgres@127.0.0.1:5432/kiryana_cluster")
    _create_database(database_url)
    cluster = Cluster(database_url, nodes=int(setting("CLUSTER_NODES", "2")),
                      workers=int(setting("CLUSTER_NODE_WORKERS", "2")),
                      threads=int(setting("CLUSTER_NODE_THREADS", "4")),
                      rq_workers=int(setting("CLUSTER_RQ_WORKERS", "1")),
                      port=int(setting("CLUSTER_PORT", "8080")),
                      folder=ROOT / setting("CLUSTER_DIR", "instance/cluster"),
                      redis_url=os.environ.get("CLUSTER_REDIS_URL"),
                      pool=int(setting("CLUSTER_PGBOUNCER_POOL", "10")),
                      live=setting("CLUSTER_LIVE", "1") == "1")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    with cluster:
        # The nodes run the production config: the demo accounts get passwords of their own,
        # printed here (seed-demo refuses production without the flag since issue 23).
        subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "seed-demo",
                        "--in-production"],
                       cwd=ROOT, env=cluster.app_env(cluster.database_url), check=True)
        print(f"cluster up: {cluster.url} (HAProxy) -> "
              + ", ".join(f"{n.name} :{n.port}" for n in cluster.nodes)
              + (f"; live.py :{cluster.live_port} at /live/" if cluster.live else "")
              + f"; pgbouncer {cluster.pooled_url}; Redis {cluster.redis_url}; "
              f"{len(cluster.rq_workers)} RQ worker(s); logs in {cluster.folder}. Ctrl-C stops.",
              flush=True)
        try:
            while not stopping and all(s.alive() for s in cluster.services
                                       if s.name.startswith(("haproxy", "pgbouncer", "redis"))):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
