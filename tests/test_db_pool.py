"""Each process keeps DATABASE_POOL_SIZE connections open (PostgreSQL): one per gunicorn thread.

Beyond the pool SQLAlchemy opens an overflow connection per checkout and closes it on return;
with its default of 5 under 8 threads, 1 sale in 20 paid for a fresh PostgreSQL backend
(bench: 224–268 sales/s before, 350 after).
"""
import threading

import pytest
from sqlalchemy import event, text

from tests.conftest import _config
from webapp import create_app
from webapp.extensions import db

THREADS = 8  # gunicorn --threads in the production recipe and the benchmark


@pytest.mark.postgres
def test_as_many_threads_as_the_pool_reuse_their_connections(pg_url):
    app = create_app(_config(pg_url))
    assert app.config["DATABASE_POOL_SIZE"] >= THREADS
    with app.app_context():
        engine = db.engine
    opened = []
    event.listen(engine, "connect", lambda *args: opened.append(1))
    together = threading.Barrier(THREADS)

    def requests():
        for _ in range(5):  # five rounds of every thread holding a connection at once
            with app.app_context():
                db.session.execute(text("SELECT 1"))
                together.wait(10)
                db.session.remove()
            together.wait(10)

    threads = [threading.Thread(target=requests) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    engine.dispose()
    assert len(opened) == THREADS  # each thread's first checkout; none opened again
