"""The patient data's lifecycle: purge after the retention period, erase on
request, and the online backup."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from .connection import Database, create_private_file, write_transaction
from .postgres import PgDatabase
from .postgres_dump import dump_postgres, verify_dump

# Tables whose rows belong to one screening and go with it.
CHILD_TABLES = (
    "reviews",
    "reconfirmations",
    "outbox",
    "patient_notices",
    # Before their sessions (m045): a check-in and an adverse event name the session's screening too.
    "pre_session_checks",
    "check_ins",
    "adverse_events",
    "course_sessions",
    "api_idempotency",
    "record_link_requests",
)


def _delete_screenings(db: Database, ids: list[int]) -> dict[str, int]:
    marks = ",".join("?" * len(ids))
    counts = {}
    for table in CHILD_TABLES:
        counts[table] = db.execute(f"DELETE FROM {table} WHERE screening_id IN ({marks})", ids).rowcount  # noqa: S608
    patients = [
        row[0]
        for row in db.execute(
            f"SELECT DISTINCT patient_id FROM screenings WHERE id IN ({marks}) AND patient_id IS NOT NULL",  # noqa: S608
            ids,
        ).fetchall()
    ]
    counts["screenings"] = db.execute(f"DELETE FROM screenings WHERE id IN ({marks})", ids).rowcount  # noqa: S608
    # A patient with no screening left keeps no key: nothing of its contacts stays.
    for patient_id in patients:
        db.execute(
            "DELETE FROM patient_keys WHERE patient_id = ?"
            " AND NOT EXISTS (SELECT 1 FROM screenings WHERE patient_id = ?)",
            [patient_id, patient_id],
        )
    return counts


def count_screenings_before(db: Database, cutoff: str) -> int:
    """How many screenings were created before ``cutoff`` (UTC ISO)."""
    return int(db.execute("SELECT count(*) FROM screenings WHERE created_at < ?", [cutoff]).fetchone()[0])


def purge_screenings(db: Database, cutoff: str, *, batch: int = 500) -> Iterator[dict[str, int]]:
    """Delete screenings created before ``cutoff`` with their reviews, in
    small transactions so the app keeps serving; yields running totals."""
    totals = {"screenings": 0, **dict.fromkeys(CHILD_TABLES, 0)}
    while True:
        with write_transaction(db):
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM screenings WHERE created_at < ? ORDER BY created_at, id LIMIT ?", [cutoff, batch]
                ).fetchall()
            ]
            if not ids:
                return
            for table, count in _delete_screenings(db, ids).items():
                totals[table] += count
        yield dict(totals)


def erase_screening(db: Database, reference: str) -> dict[str, int] | None:
    """Erase one patient's screening and everything attached, leaving no copy of
    it in the database files; None if unknown.

    ``secure_delete`` zeroes the freed bytes, the full-text index is rebuilt
    (its segments kept the name's tokens) and the WAL is checkpointed and
    truncated (it held the pages as they were). ``counts["wal_cleared"]`` is 0
    if a reader kept the WAL from being truncated: ``finish_erasures`` later
    completes the wipe.
    """
    if isinstance(db, PgDatabase):
        return _erase_postgres(db, reference)
    db.execute("PRAGMA secure_delete = ON").fetchall()
    with write_transaction(db):
        row = db.execute("SELECT id FROM screenings WHERE reference = ?", [reference.strip().upper()]).fetchone()
        if row is None:
            return None
        counts = _delete_screenings(db, [row[0]])
        db.execute("INSERT INTO screenings_fts (screenings_fts) VALUES ('rebuild')")
    return {**counts, "wal_cleared": 1 if finish_erasures(db) else 0}


def finish_erasures(db: Database) -> bool:
    """Wipe what the database files still keep of rows erased earlier; False while a
    reader keeps SQLite's WAL from being copied back and truncated (try again shortly).

    The erase's own transaction already zeroed the rows in the pages it wrote to
    the WAL; a checkpoint that completes copies them over the old pages in the
    database file and truncates the WAL, which held the pages as they were.
    PostgreSQL: VACUUM frees the dead rows' space.
    """
    if isinstance(db, PgDatabase):
        db.execute("VACUUM " + ", ".join(("screenings", "patient_keys", *CHILD_TABLES)))
        return True
    busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    return not busy


def _erase_postgres(db: PgDatabase, reference: str) -> dict[str, int] | None:
    """PostgreSQL keeps a deleted row's bytes until VACUUM reclaims its space:
    vacuum the tables the screening had rows in, at once, outside the transaction."""
    with write_transaction(db):
        row = db.execute("SELECT id FROM screenings WHERE reference = ?", [reference.strip().upper()]).fetchone()
        if row is None:
            return None
        counts = _delete_screenings(db, [row[0]])
    finish_erasures(db)
    return {**counts, "wal_cleared": 1}


def backup_database(db: Database, target: str, *, pages: int = 256) -> Iterator[tuple[int, int]]:
    """Copy the live database to ``target``; yields (left, total) as it goes. Writers are not blocked.

    SQLite: the online backup API, page by page. PostgreSQL: ``pg_dump``
    in its custom format (restore with ``pg_restore``), which must be on
    the PATH; the password goes to it through the environment, not argv.
    """
    if isinstance(db, PgDatabase):
        yield (1, 1)
        dump_postgres(db, target)
        yield (0, 1)
        return
    progress: list[tuple[int, int]] = []
    create_private_file(target)  # a backup holds every patient: 0600 like the database
    destination = sqlite3.connect(target)
    try:
        db.conn.backup(
            destination, pages=pages, progress=lambda status, remaining, total: progress.append((remaining, total))
        )
    finally:
        destination.close()
    yield from progress


def verify_backup(db: Database, path: str) -> str:
    """Read the backup at ``path`` back: SQLite's ``integrity_check`` result, or "ok" when
    ``pg_restore --list`` reads a PostgreSQL dump through."""
    if isinstance(db, PgDatabase):
        return verify_dump(path)
    copy = sqlite3.connect(path)
    try:
        return str(copy.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        copy.close()
