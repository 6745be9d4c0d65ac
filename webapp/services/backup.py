"""Backups of the embedded SQLite database, taken and put back while the app keeps serving.

SQLite's online backup API copies the database page by page under its own locking, so a copy
taken while sales are being written is a consistent snapshot of one moment (each step takes a
read lock; a write between steps restarts the copy of the changed pages). Restoring goes the
other way through the same API into the live file, so connections the server holds open see
the restored database on their next transaction, never a half-copied file.

PostgreSQL is not backed up from here: operators use pg_basebackup with WAL archiving (point in
time recovery), as docs/operations.md shows step by step.
"""
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy.engine import make_url

from webapp.services.errors import N_, DomainError

# Pages copied per step: small steps let the app's writers in between them.
PAGES_PER_STEP = 256
# Tables a Kiryana database has whatever its migration: a file without them is not one.
REQUIRED_TABLES = {"alembic_version", "stock_levels", "stock_movements", "stores", "products"}


def sqlite_path(engine):
    """The database file behind a SQLite engine; a DomainError for any other database."""
    url = make_url(str(engine.url))
    if url.get_backend_name() != "sqlite":
        raise DomainError("unsupported", N_(
            "flask backup and restore are for the embedded SQLite database; back up "
            "PostgreSQL with pg_basebackup and WAL archiving (docs/operations.md)."))
    if not url.database or url.database == ":memory:":
        raise DomainError("unsupported", N_("An in-memory database has no file to back up."))
    return Path(url.database)


def backup(engine, target):
    """Copy the live database into `target` (a new file) → its size in bytes."""
    source_path, target = sqlite_path(engine), Path(target)
    if target.exists():
        raise DomainError("exists", N_("%(path)s already exists; choose a new file.",
                                                path=str(target)))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    _copy(source_path, partial)
    partial.rename(target)  # a crash mid-copy leaves a .partial file, never a bad backup
    return target.stat().st_size


def restore(engine, source):
    """Put the backup `source` in place of the live database → the path the replaced
    database was saved to first (nothing is lost if the wrong file was restored)."""
    live, source = sqlite_path(engine), Path(source)
    check_backup(source)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept = live.with_name(f"{live.name}.before-restore-{stamp}")
    if live.exists():
        _copy(live, kept)
    _copy(source, live)
    return kept if live.exists() else None


def check_backup(path):
    """Refuse a file that is not a whole, readable Kiryana SQLite database."""
    path = Path(path)
    if not path.is_file():
        raise DomainError("not_found", N_("%(path)s does not exist.", path=str(path)))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchone()[0]
            tables = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        verdict, tables = "not a database", set()
    if verdict != "ok" or not REQUIRED_TABLES <= tables:
        raise DomainError("invalid", N_("%(path)s is not a Kiryana database backup.",
                                                   path=str(path)))


def _copy(source_path, target_path):
    source = sqlite3.connect(source_path, timeout=30)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        source.backup(target, pages=PAGES_PER_STEP, sleep=0.005)
    finally:
        target.close()
        source.close()
