"""The practitioner queue and the API's list: filters, keyset pages, counts
per status and the chart's counts per day."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from .records import ScreeningRecord
from .screenings import decode_screening


@dataclass(frozen=True)
class ScreeningFilter:
    """What the queue (and the API's list) is narrowed to."""

    status: str | None = None
    reviewed: bool | None = None
    since: str | None = None  # created_at >= since (UTC ISO date or timestamp)
    until: str | None = None  # created_at < until
    search: str | None = None  # a reference code or words of the patient's name


def _filter_sql(filters: ScreeningFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if filters.status:
        where.append("status = ?")
        params.append(filters.status)
    if filters.reviewed is not None:
        where.append("reviewed = ?")
        params.append(1 if filters.reviewed else 0)
    if filters.since:
        where.append("created_at >= ?")
        params.append(filters.since)
    if filters.until:
        where.append("created_at < ?")
        params.append(filters.until)
    # Control characters (a NUL ends an FTS string early) and quotes are not part of a name.
    term = "".join(" " if ch < " " or ch == '"' else ch for ch in (filters.search or "")).strip()
    if term:
        words = term.split()
        # Prefix match on each word of the name, or an exact reference code.
        fts_query = " ".join(f'"{w}"*' for w in words)
        where.append("(reference = ? OR id IN (SELECT rowid FROM screenings_fts WHERE screenings_fts MATCH ?))")
        params.extend([term.upper(), fts_query])
    elif filters.search:
        where.append("0")  # nothing searchable was typed: nothing matches
    return where, params


def list_screenings(
    db: Database,
    filters: ScreeningFilter = ScreeningFilter(),
    *,
    before: tuple[str, int] | None = None,
    limit: int = 50,
    columns: str = "*",
) -> list[ScreeningRecord]:
    """One page of screenings, newest first, with only ``columns`` if given.

    Keyset pagination: ``before`` is the (created_at, id) of the last row of
    the previous page, so every page costs the same however deep it is.
    """
    where, params = _filter_sql(filters)
    if before is not None:
        where.append("(created_at, id) < (?, ?)")
        params.extend(before)
    sql = f"SELECT {columns} FROM screenings"  # noqa: S608 - columns come from code, not users
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    params.append(limit)
    return [decode_screening(row) for row in db.query(sql, params)]


def count_screenings_by_status(db: Database, filters: ScreeningFilter = ScreeningFilter()) -> dict[str, int]:
    """How many screenings match, per status."""
    where, params = _filter_sql(ScreeningFilter(**{**filters.__dict__, "status": None}))
    sql = "SELECT status, count(*) AS n FROM screenings"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " GROUP BY status"
    return {row["status"]: row["n"] for row in db.query(sql, params)}


def queue_counts(db: Database, filters: ScreeningFilter = ScreeningFilter()) -> dict[str, int]:
    """How many screenings match ``filters`` (ignoring its status), per status.

    Without a date range or search the trigger-kept totals answer at once;
    otherwise the matching rows are counted.
    """
    if filters.since or filters.until or (filters.search and filters.search.strip()):
        return count_screenings_by_status(db, filters)
    sql = "SELECT status, sum(n) AS n FROM screening_status_counts"
    params: list[Any] = []
    if filters.reviewed is not None:
        sql += " WHERE reviewed = ?"
        params.append(1 if filters.reviewed else 0)
    sql += " GROUP BY status"
    return {row["status"]: int(row["n"]) for row in db.query(sql, params) if row["n"]}


def daily_status_counts(db: Database, days: list[tuple[str, str, str]]) -> dict[tuple[str, str], int]:
    """Screenings per (day, status); ``days`` holds (day, start, end) with
    ``start <= created_at < end`` as UTC timestamps on quarter hours, so days
    can follow the clinic's time zone. Reads the trigger-kept buckets."""
    if not days:
        return {}
    values = ", ".join("(?, ?, ?)" for _ in days)
    sql = (
        f"WITH days(day, start, stop) AS (VALUES {values})"  # noqa: S608 - placeholders only
        " SELECT days.day AS day, b.status AS status, sum(b.n) AS n FROM days"
        " JOIN screening_time_buckets AS b ON b.bucket >= days.start AND b.bucket < days.stop"
        " GROUP BY days.day, b.status"
    )
    # Buckets are "YYYY-MM-DDTHH:MM"; compare with the same prefix of the bounds.
    params = [value for day, start, stop in days for value in (day, start[:16], stop[:16])]
    return {(row["day"], row["status"]): int(row["n"]) for row in db.query(sql, params) if row["n"]}


def iter_screenings(
    db: Database, filters: ScreeningFilter = ScreeningFilter(), *, columns: str = "*", batch: int = 500
) -> Iterator[ScreeningRecord]:
    """Every matching screening, newest first, read a page at a time (keyset)."""
    before: tuple[str, int] | None = None
    while True:
        page = list_screenings(db, filters, before=before, limit=batch, columns=columns)
        yield from page
        if len(page) < batch:
            return
        before = (page[-1]["created_at"], page[-1]["id"])
