"""The patient data's lifecycle: purge after the retention period, erase on
request, and the online backup."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

from sqlite_utils import Database

from .connection import write_transaction

# Tables whose rows belong to one screening and go with it.
SCREENING_CHILDREN = ("reviews", "reconfirmations", "api_idempotency")


def _delete_screenings(db: Database, ids: list[int]) -> dict[str, int]:
    marks = ",".join("?" * len(ids))
    counts = {}
    for table in SCREENING_CHILDREN:
        counts[table] = db.execute(f"DELETE FROM {table} WHERE screening_id IN ({marks})", ids).rowcount  # noqa: S608
    counts["screenings"] = db.execute(f"DELETE FROM screenings WHERE id IN ({marks})", ids).rowcount  # noqa: S608
    return counts


def count_screenings_before(db: Database, cutoff: str) -> int:
    """How many screenings were created before ``cutoff`` (UTC ISO)."""
    return int(db.execute("SELECT count(*) FROM screenings WHERE created_at < ?", [cutoff]).fetchone()[0])


def purge_screenings(db: Database, cutoff: str, *, batch: int = 500) -> Iterator[dict[str, int]]:
    """Delete screenings created before ``cutoff`` with their reviews, in
    small transactions so the app keeps serving; yields running totals."""
    totals = {"screenings": 0, **dict.fromkeys(SCREENING_CHILDREN, 0)}
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
    """Erase one patient's screening and everything attached; None if unknown."""
    with write_transaction(db):
        row = db.execute("SELECT id FROM screenings WHERE reference = ?", [reference.strip().upper()]).fetchone()
        if row is None:
            return None
        return _delete_screenings(db, [row[0]])


def backup_database(db: Database, target: str, *, pages: int = 256) -> Iterator[tuple[int, int]]:
    """Copy the live database to ``target`` with SQLite's online backup API;
    yields (pages left, total pages) as it goes. Writers are not blocked."""
    progress: list[tuple[int, int]] = []
    destination = sqlite3.connect(target)
    try:
        db.conn.backup(
            destination, pages=pages, progress=lambda status, remaining, total: progress.append((remaining, total))
        )
    finally:
        destination.close()
    yield from progress
