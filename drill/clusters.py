"""PostgreSQL clusters for the drills: a primary that archives its WAL, base backups of it, and
restores of a base backup to the end of the archive or to a point in time.

Built on tests.processes.PgCluster (initdb and postgres from /usr/lib/postgresql/<v>/bin, run as
the postgres OS user when we are root). Each command here is the one docs/operations.md gives.
"""
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from tests import services
from tests.processes import AS_POSTGRES, PG_BIN, PgCluster, _as_postgres, _own, free_port, wait_until


def _need_binaries():
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_basebackup").exists():
        services.missing(f"PostgreSQL server binaries are not in {PG_BIN} (set PG_BIN)")


def workspace(prefix="kiryana-drill-"):
    """A scratch folder the postgres OS user owns."""
    base = Path(tempfile.mkdtemp(prefix=prefix))
    _own(base)
    return base


def sql(cluster, statement, database="postgres"):
    """Run one statement on the cluster in autocommit; the first row, if any (through its Unix
    socket when it has one on another host: `admin_host`)."""
    conn = psycopg2.connect(host=getattr(cluster, "admin_host", "127.0.0.1"), port=cluster.port,
                            user="postgres", dbname=database, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchone() if cur.description else None
    finally:
        conn.close()


def archiving_primary(base, **settings):
    """A new cluster that archives every finished WAL segment into base/archive."""
    _need_binaries()
    archive = base / "archive"
    archive.mkdir()
    _own(archive)
    primary = PgCluster(base / "primary", free_port())
    _as_postgres(PG_BIN / "initdb", "-D", primary.data_dir, "-U", "postgres", "--auth=trust",
                 "--no-sync", "-E", "UTF8", "--locale=C")
    # The archive_command docs/operations.md gives: never overwrite a segment already kept.
    primary.configure(wal_level="replica", archive_mode="on",
                      archive_command=f"'test ! -f {archive}/%f && cp %p {archive}/%f'",
                      max_wal_senders=4, **settings)
    primary.start()
    primary.archive = archive
    return primary


def base_backup(primary, target):
    """pg_basebackup of a running primary into `target`; its WAL comes from the archive (-X
    none: pg_basebackup waits until the segment that ends the backup is archived)."""
    _as_postgres(PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U",
                 "postgres", "-D", target, "-X", "none", "-c", "fast", timeout=600)
    return Path(target)


def archive_current_wal(primary):
    """Close the current WAL segment and wait until the archiver has kept it."""
    segment = sql(primary, "SELECT pg_walfile_name(pg_switch_wal())")[0]
    wait_until(lambda: (primary.archive / segment).exists(), timeout=60,
               what=f"WAL segment {segment} archived")
    return segment


def restore(backup_dir, archive, target, target_time=None):
    """Start a copy of the base backup that replays the archive (to its end, or up to
    `target_time`) and is then promoted: point-in-time recovery. → (cluster, seconds taken)."""
    started = time.monotonic()
    target = Path(target)
    subprocess.run(["cp", "-a", str(backup_dir), str(target)], check=True)
    if AS_POSTGRES:
        subprocess.run(["chown", "-R", "postgres:postgres", str(target)], check=True)
    cluster = PgCluster(target, free_port())
    settings = {"restore_command": f"'cp {archive}/%f %p'", "recovery_target_action": "'promote'"}
    if target_time is not None:
        settings["recovery_target_time"] = f"'{target_time}'"
    cluster.configure(**settings)
    (target / "recovery.signal").touch()
    _own(target / "recovery.signal")
    cluster.start()
    # Recovery is done when the cluster has been promoted and accepts writes.
    wait_until(lambda: _writable(cluster), timeout=600, interval=0.1,
               what=f"restored cluster on {cluster.port} to finish recovery")
    return cluster, time.monotonic() - started


def _writable(cluster):
    try:
        return sql(cluster, "SELECT NOT pg_is_in_recovery()")[0]
    except psycopg2.OperationalError:
        return False


def remove(base, *clusters):
    for cluster in clusters:
        if cluster is not None:
            cluster.stop(mode="immediate")
    shutil.rmtree(base, ignore_errors=True)
