"""gunicorn.conf.py spreads a burst of keep-alive connections over every worker.

On one listening socket shared by the workers, the worker already running won the race for a
burst of connects: a proxy's or a load client's keep-alive connections could all land on one
worker of four, which then served them on one core's GIL. With `reuse_port` each worker has a
socket of its own and the kernel spreads connections over them. The app here is a probe that
answers its worker's pid, so the test needs no database.
"""
import http.client
import socket
from collections import Counter

import pytest

from tests.processes import ROOT, free_port, start_gunicorn, wait_until

WORKERS, CONNECTIONS = 4, 32


def _pid(conn):
    conn.request("GET", "/")
    response = conn.getresponse()
    return int(response.read())


@pytest.mark.slow
def test_a_burst_of_keepalive_connections_reaches_every_worker():
    port = free_port()
    server = start_gunicorn({"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, port, WORKERS,
                            app="tests.pid_probe:app",
                            options=("--worker-class", "gthread", "--threads", "2"))
    try:
        # Every worker listening (each binds its own socket as it boots): new connections have
        # reached four different pids.
        seen = set()

        def every_worker_answers():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                seen.add(_pid(conn))
            except OSError:
                pass
            finally:
                conn.close()
            return len(seen) == WORKERS
        wait_until(every_worker_answers, timeout=60, interval=0.05, what="four workers")

        # The burst: every connection is open before any request is sent on it.
        sockets = [socket.create_connection(("127.0.0.1", port), timeout=5)
                   for _ in range(CONNECTIONS)]
        conns = []
        for sock in sockets:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.sock = sock
            conns.append(conn)
        pids = [_pid(conn) for conn in conns]
        # Each connection stays with the worker that accepted it (keep-alive).
        assert [_pid(conn) for conn in conns] == pids
        served = Counter(pids)
        for conn in conns:
            conn.close()
        assert len(served) >= WORKERS - 1, served
        assert max(served.values()) <= 20, served  # 8 each on average
    finally:
        server.stop()
