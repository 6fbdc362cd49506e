"""What a health check and a metrics scrape read: the database answering, the
migrations applied, the outbox's backlog and the screenings per status.

Each read is a handful of rows (the trigger-kept counts table, the outbox's
undelivered rows through their index), so a scrape costs the same with a million
screenings as with ten.
"""

from __future__ import annotations

import functools

import sqlite_utils

from .connection import Database
from .outbox import CHANNELS
from .postgres import PgDatabase
from .schema import migration_set
from .schema_postgresql import MIGRATION_SET, POSTGRES_MIGRATIONS


def check_database(db: Database) -> None:
    """Run ``SELECT 1``: raises the backend's error (sqlite3's classes on both) if the database does not answer."""
    db.execute("SELECT 1").fetchall()


@functools.cache
def sqlite_migration_names() -> tuple[str, ...]:
    """Every SQLite migration of this release, in order."""
    # Every migration is pending on an empty database: their names, in order (as ``schema.migrate`` finds them).
    return tuple(migration.name for migration in migration_set().pending(sqlite_utils.Database(memory=True)))


def known_migrations(db: Database) -> tuple[str, ...]:
    """Every migration this release has for the database's backend, in order."""
    if isinstance(db, PgDatabase):
        return tuple(name for name, _ in POSTGRES_MIGRATIONS)
    return sqlite_migration_names()


def pending_migrations(db: Database) -> list[str]:
    """The migrations of this release the database has not applied (none: it is current)."""
    table = "_migrations" if isinstance(db, PgDatabase) else "_sqlite_migrations"
    exists = db.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_name = ?"
        if isinstance(db, PgDatabase)
        else "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
        [table],
    ).fetchone()
    applied: set[str] = set()
    if exists:
        sql = f"SELECT name FROM {table} WHERE migration_set = ?"  # noqa: S608 (one of two fixed names)
        applied = {row[0] for row in db.execute(sql, [MIGRATION_SET]).fetchall()}
    return [name for name in known_migrations(db) if name not in applied]


def outbox_backlog(db: Database) -> dict[str, dict[str, int]]:
    """Per channel (``mail``, ``webhook``): messages still to deliver (``undelivered``) and given up (``failed``)."""
    counts = {channel: {"undelivered": 0, "failed": 0} for channel in CHANNELS}
    rows = db.execute(
        "SELECT channel, failed_at IS NOT NULL AS failed, count(*) FROM outbox"
        " WHERE delivered_at IS NULL GROUP BY channel, failed_at IS NOT NULL"
    ).fetchall()
    for channel, failed, n in rows:
        counts.setdefault(channel, {"undelivered": 0, "failed": 0})["failed" if failed else "undelivered"] += int(n)
    return counts


def screenings_by_status(db: Database) -> dict[tuple[str, bool], int]:
    """Screenings per (status, reviewed), from the counts table the triggers keep."""
    rows = db.execute("SELECT status, reviewed, n FROM screening_status_counts WHERE n > 0").fetchall()
    return {(status, bool(reviewed)): int(n) for status, reviewed, n in rows}
