"""Putting an SQLite backup back in place of the database file.

The backup is copied beside the database first and checked there (SQLite's
``integrity_check``, this app's migrations table, no migration newer than this
release); only then does the copy replace the database, by a rename, so the
database is at every moment either the old file or the whole backup.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass

from .health import sqlite_migration_names
from .schema_postgresql import MIGRATION_SET


class RestoreRefused(Exception):
    """The backup cannot replace the database; the message says why."""


class LiveDatabase(RestoreRefused):
    """The database holds screenings, and replacing it was not forced."""


@dataclass(frozen=True)
class RestoredBackup:
    """What was put in place: the backup's screenings and migrations."""

    screenings: int
    migrations: int


def count_live_screenings(path: str) -> int:
    """How many screenings the SQLite database at ``path`` holds (0 if there is no such file or table)."""
    if not os.path.exists(path):
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'screenings'").fetchone():
            return 0
        return int(conn.execute("SELECT count(*) FROM screenings").fetchone()[0])
    finally:
        conn.close()


def check_backup(path: str) -> RestoredBackup:
    """Check the SQLite file at ``path`` as a backup of this app; raise ``RestoreRefused`` naming the fault."""
    conn = sqlite3.connect(path)
    try:
        try:
            check = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as error:  # "file is not a database", a damaged header
            raise RestoreRefused(f"it is not a readable SQLite database ({error})") from error
        if check != ["ok"]:
            raise RestoreRefused(f"its integrity check failed: {'; '.join(check[:3])}")
        if not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlite_migrations'"
        ).fetchone():
            raise RestoreRefused("it has no migrations table: it is not a backup of this app's database")
        applied = {
            row[0]
            for row in conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ?", [MIGRATION_SET])
        }
        if not applied:
            raise RestoreRefused("its migrations table records none of this app's migrations")
        newer = sorted(applied - set(sqlite_migration_names()))
        if newer:
            raise RestoreRefused(
                f"it was migrated by a newer release ({', '.join(newer)}): restore it with that release"
            )
        screenings = int(conn.execute("SELECT count(*) FROM screenings").fetchone()[0])
        # The copy goes in place as one file: no write-ahead log may be left beside it.
        conn.execute("PRAGMA journal_mode=DELETE").fetchall()
    except sqlite3.DatabaseError as error:  # a table the migrations promise is missing or unreadable
        raise RestoreRefused(f"it cannot be read as this app's database ({error})") from error
    finally:
        conn.close()
    return RestoredBackup(screenings=screenings, migrations=len(applied))


def restore_sqlite_backup(backup: str, target: str, *, force: bool = False) -> RestoredBackup:
    """Replace the SQLite database at ``target`` with the backup at ``backup``.

    Refused (``LiveDatabase``) when ``target`` holds screenings and ``force`` is false;
    refused (``RestoreRefused``) when the backup fails its checks, before anything is
    replaced. The copy is written 0600 in the database's folder, synced, checked,
    then renamed over the database, and the folder synced so the rename lasts.
    The server must be stopped: a running one keeps the file it opened.
    """
    if not os.path.isfile(backup):
        raise RestoreRefused(f"there is no backup file {backup}")
    live = count_live_screenings(target)
    if live and not force:
        raise LiveDatabase(
            f"the database {target} holds {live} screening(s); stop the server and add --force to replace it"
        )
    folder = os.path.dirname(os.path.abspath(target))
    descriptor, copy = tempfile.mkstemp(prefix=".restore-", suffix=".sqlite", dir=folder)  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as out, open(backup, "rb") as source:
            shutil.copyfileobj(source, out, 1024 * 1024)
        restored = check_backup(copy)
        _fsync(copy)
        _retire_wal(target)
        os.replace(copy, target)
        _fsync(folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(copy)
        raise
    # The old database's shared-memory index and (emptied) log must not meet the new file.
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target + suffix)
    return restored


def _retire_wal(target: str) -> None:
    """Copy the old database's write-ahead log back and empty it, so no frame of it outlives the rename."""
    if not os.path.exists(target):
        return
    conn = sqlite3.connect(target)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()


def _fsync(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
