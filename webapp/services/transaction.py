"""The ORM session's commit, which a runner may hold back.

A service that writes through the session ends with `commit()`. Run under `held()` (as
idempotency.run_once runs the API's create calls), that commit only flushes: the runner then
commits the write together with its Idempotency-Key claim and stored response, in one
transaction, so a crash can never leave a key claimed without its write or the reverse.
"""
from contextlib import contextmanager

from webapp.extensions import db

_HELD = "commit_held"


def commit():
    """Commit the session's transaction, or flush it while a runner holds the commit."""
    session = db.session
    if session.info.get(_HELD):
        session.flush()
    else:
        session.commit()


@contextmanager
def held():
    """Inside this block, commit() flushes; the caller commits (or rolls back) after it."""
    info = db.session.info
    info[_HELD] = True
    try:
        yield
    finally:
        info.pop(_HELD, None)
