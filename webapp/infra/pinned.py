"""One Core connection to the primary database per thread, kept checked out for the thread's life.

The ledger's standalone writes (a movement, a basket) run on it instead of checking a connection
out of the pool and wrapping it in a new Core Connection each time: that checkout, its return
(with the pool's reset) and the wrapper cost ~40 us of a sale's ~2.5 ms under gunicorn. A thread
runs one request at a time, so nothing else ever uses its connection; each process therefore
needs a pool of twice its threads (DATABASE_POOL_SIZE), the other half for the ORM sessions.
When the thread ends, its connection goes back to the pool.
"""
import os
import threading

from webapp.extensions import db

_threads = threading.local()
# Connections a forked child inherited from its parent's threads: kept, never closed (below).
_INHERITED = []


class _Held:
    """A thread's connection; given back to the pool when the thread's locals are dropped."""

    def __init__(self, conn):
        self.conn, self.pid = conn, os.getpid()

    def __del__(self):
        if self.pid == os.getpid():
            try:
                self.conn.close()
            except Exception:  # its engine was disposed or its server went away
                pass
        else:
            # A forked child's copy of its parent's connection: closing it would send
            # PostgreSQL a Terminate on the socket the parent still uses. Keep it, untouched.
            _INHERITED.append(self.conn)


def connection():
    """This thread's connection to the app's primary engine (a new one for a new engine)."""
    engine = db.engine
    held = getattr(_threads, "held", None)
    if held is None or held.pid != os.getpid() or held.conn.engine is not engine \
            or held.conn.closed:
        _threads.held = held = _Held(engine.connect())
    return held.conn


def discard():
    """Give this thread's connection back after a failure (it may be broken); the next write
    takes a fresh one from the pool."""
    _threads.held = None
