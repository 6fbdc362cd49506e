"""The practitioner queue and the API's list: filters, keyset pages, counts
per status and the chart's counts per day."""

from __future__ import annotations

import re
import sqlite3
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace

from .connection import Database, Where, dialect_of
from .findings import count_flagged_undecided
from .records import ScreeningRecord, decode_screening
from .schema_chart import BUCKET_STATUSES
from .schema_findings import NEEDS_DECISION_SQL


@dataclass(frozen=True)
class ScreeningFilter:
    """What the queue (and the API's list) is narrowed to."""

    status: str | None = None
    reviewed: bool | None = None
    since: str | None = None  # created_at >= since (UTC ISO date or timestamp)
    until: str | None = None  # created_at < until
    search: str | None = None  # a reference code, words of the patient's name, an e-mail or a phone number
    # "Needs a decision": undecided reviews and undecided screenings flagged by their findings (m039).
    decide: bool = False
    procedure: str | None = None  # the id of the rule file's procedure (m042); None: every procedure


# Fewer digits than this are not taken for a phone number.
PHONE_SEARCH_MIN_DIGITS = 3
PHONE_PUNCTUATION = str.maketrans("", "", "+ ()-")


def phone_digits(term: str) -> str:
    """The digits of a search term that is a phone number (digits with + spaces brackets dashes), else ""."""
    digits = term.translate(PHONE_PUNCTUATION)
    return digits if digits.isdigit() and digits.isascii() else ""


# The indexed expression of PostgreSQL's name search (schema_postgresql), and
# the query for it: a prefix match on every word, as FTS5's "word"* in SQLite.
PG_NAME_VECTOR = "to_tsvector('simple', coalesce(patient_name, ''))"


def pg_name_query(term: str) -> str:
    """A ``to_tsquery`` text matching names with a word starting with each word of ``term``."""
    words = [w for w in re.split(r"\W+", term.lower()) if w]
    return " & ".join("'" + w.replace("'", "''") + "':*" for w in words) or "''"


def _search_term(filters: ScreeningFilter) -> str:
    # Control characters (a NUL ends an FTS string early) and quotes are not part of a name.
    return "".join(" " if ch < " " or ch == '"' else ch for ch in (filters.search or "")).strip()


def _is_name_search(term: str) -> bool:
    """Whether a cleaned search term is words of a name (or a reference), not an e-mail or a phone."""
    return bool(term) and "@" not in term and len(phone_digits(term)) < PHONE_SEARCH_MIN_DIGITS


def _fts_query(filters: ScreeningFilter) -> str | None:
    """SQLite's full-text query of a search for words of a name (a prefix match on each), if it is one."""
    term = _search_term(filters)
    return " ".join(f'"{w}"*' for w in term.split()) if _is_name_search(term) else None


# A name search matching at least this many screenings walks the time index newest first
# and stops at the page, rather than reading and sorting every match (a surname shared by
# 2% of a million screenings: 130 ms). Fewer matches are read and sorted: walking the
# index for a rare name would go through most of it.
WALK_THE_TIME_INDEX_FROM = 2000

# Which name search each SQLite connection holds the matches of in temp.name_matches, as
# (full-text query, reference, data_version before the read, total_changes after it), and
# whether the name was rare. A commit by another connection changes data_version, one by
# this connection total_changes: either reads the matches again.
_NAME_MATCHES: weakref.WeakKeyDictionary[Database, tuple[tuple[str, str, int, int], bool]] = weakref.WeakKeyDictionary()
NAME_MATCHES_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS name_matches"
    " (id INTEGER PRIMARY KEY, created_at, status, reviewed, flagged, procedure)"
)


def _name_matches(db: Database, filters: ScreeningFilter) -> bool | None:
    """For a name search in SQLite, read its matches into temp.name_matches once: True for a
    rare name, whose rows' time, status and reviewed are held too; False for a common one
    (ids only); None when it is not an SQLite name search.

    The queue's list and its two counts then read the full-text index once, not each
    (a full name's 700 matches at a million screenings: their ids and columns in ~7 ms)."""
    conn = db.conn
    # Inside a caller's transaction a rollback could undo the table behind the cache's back.
    if not isinstance(conn, sqlite3.Connection) or conn.in_transaction:
        return None
    fts_query = _fts_query(filters)
    if fts_query is None:
        return None
    reference = _search_term(filters).upper()
    version = int(conn.execute("PRAGMA data_version").fetchall()[0][0])
    held = _NAME_MATCHES.get(db)
    if held is not None and held[0] == (fts_query, reference, version, conn.total_changes):
        return held[1]
    conn.execute(NAME_MATCHES_TABLE)
    conn.execute("DELETE FROM temp.name_matches")
    conn.execute(
        "INSERT OR IGNORE INTO temp.name_matches (id) SELECT rowid FROM screenings_fts WHERE screenings_fts MATCH ?"
        " UNION ALL SELECT id FROM screenings WHERE reference = ?",
        [fts_query, reference],
    )
    ((found,),) = conn.execute("SELECT count(*) FROM temp.name_matches").fetchall()
    rare = bool(found < WALK_THE_TIME_INDEX_FROM)
    if rare:
        # CROSS JOIN keeps the few matches as the outer loop (an UPDATE ... FROM scanned an
        # index of every screening: 150 ms at a million).
        conn.execute(
            "INSERT OR REPLACE INTO temp.name_matches"
            " SELECT s.id, s.created_at, s.status, s.reviewed, s.flagged, s.procedure"
            " FROM temp.name_matches AS m CROSS JOIN screenings AS s ON s.id = m.id"
        )
        conn.execute("DELETE FROM temp.name_matches WHERE created_at IS NULL")
    conn.commit()  # the temp table's writes opened a transaction: end it, the reads must not hold one
    _NAME_MATCHES[db] = ((fts_query, reference, version, conn.total_changes), rare)
    return rare


def _source(db: Database, filters: ScreeningFilter, *, counting: bool = False) -> tuple[str, Where]:
    """The FROM clause and the conditions that read the screenings matching ``filters``.

    A rare name's matches are read from temp.name_matches alone. A common name's page, and
    its counts within a status or a reviewed state, walk the index of that status and state
    in time order, testing each id against the held matches, and stop at the page or the
    count's limit: the undecided among a surname's 20,000 matches are found among the
    backlog's rows, not by reading the 20,000 (50 ms at a million screenings)."""
    dialect = dialect_of(db)
    held = _name_matches(db, filters)
    if held is None:
        where = _filter_where(filters, dialect)
        if filters.decide and dialect == "sqlite" and not filters.search:
            # SQLite's planner takes the reviewed index, whose rows it must read to test the
            # status and flag; the partial index holds exactly the matches, in time order.
            return f" FROM screenings INDEXED BY {_time_index(filters)}", where
        undecided = filters.status is not None and filters.reviewed is not None
        # A phone or e-mail search in SQLite: its undecided through the backlog's index, as above.
        if counting and undecided and dialect == "sqlite" and filters.search:
            return f" FROM screenings INDEXED BY {_time_index(filters)}", where
        return " FROM screenings", where
    where = _filter_where(replace(filters, search=None), dialect)
    if held:
        return " FROM temp.name_matches", where
    where.add("id IN (SELECT id FROM temp.name_matches)")
    if counting and filters.status is None and filters.reviewed is None:
        return " FROM screenings", where  # the held ids, each row read, up to the count's limit
    return f" FROM screenings INDEXED BY {_time_index(filters)}", where


def _time_index(filters: ScreeningFilter) -> str:
    """The index that holds the screenings of ``filters``' status and reviewed (if given) in
    time order: a walk newest first reads only those (a common name among the few not
    eligible: ~2,500 index entries for a page, not ~300,000 rows of every status)."""
    if filters.decide:
        return "idx_screenings_needs_decision"  # holds only the screenings that need a decision
    if filters.status is not None and filters.reviewed is not None:
        return "idx_screenings_status_reviewed_created_at_id"
    if filters.status is not None:
        return "idx_screenings_status_created_at_id"
    if filters.reviewed is not None:
        return "idx_screenings_reviewed_created_at_id"
    return "idx_screenings_created_at_id"


def _filter_where(filters: ScreeningFilter, dialect: str) -> Where:
    reviewed = None if filters.reviewed is None else int(filters.reviewed)
    where = (
        Where()
        .when(filters.status, "status = ?")
        .when(reviewed, "reviewed = ?")
        .when(filters.since, "created_at >= ?")
        .when(filters.until, "created_at < ?")
        .when(filters.procedure, "procedure = ?")
    )
    if filters.decide:
        # The partial index's own text (m039), so that either database reads the index.
        where.add(NEEDS_DECISION_SQL)
    term = _search_term(filters)
    digits = phone_digits(term)
    if _is_name_search(term) and dialect == "postgresql":
        where.add(f"(reference = ? OR {PG_NAME_VECTOR} @@ to_tsquery('simple', ?))", term.upper(), pg_name_query(term))
    elif _is_name_search(term):
        # Prefix match on each word of the name, or an exact reference code: one test on the
        # rowid, which every index holds, so walking an index (see _source) reads no
        # row that does not match, as "reference = ? OR ..." would.
        where.add(
            "id IN (SELECT rowid FROM screenings_fts WHERE screenings_fts MATCH ?"
            " UNION ALL SELECT id FROM screenings WHERE reference = ?)",
            _fts_query(filters),
            term.upper(),
        )
    elif "@" in term:
        # Each backend's case-insensitive index (m031): NOCASE in SQLite, lower() in PostgreSQL.
        where.add(
            "lower(contact_email) = lower(?)" if dialect == "postgresql" else "contact_email = ? COLLATE NOCASE", term
        )
    elif len(digits) >= PHONE_SEARCH_MIN_DIGITS:
        # A phone number from its start, typed with or without +, spaces, brackets and dashes
        # (a range on the indexed digits: ":" sorts right after "9"); or a reference of digits.
        where.add(
            "(reference = ? OR (contact_phone_digits >= ? AND contact_phone_digits < ?))", term, digits, digits + ":"
        )
    elif filters.search:
        where.add("1 = 0")  # nothing searchable was typed: nothing matches
    return where


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
    source, where = _source(db, filters)
    if before is not None:
        where.add("(created_at, id) < (?, ?)", *before)
    # Columns come from code, not users. The page's ids first, then its rows: a search's
    # matches are sorted on (created_at, id) alone, not read whole (a full name's ~700
    # matches at a million screenings: 12 ms to 7.5 ms).
    order = " ORDER BY created_at DESC, id DESC"
    sql = f"SELECT {columns} FROM screenings WHERE id IN (SELECT id{source}{where.sql()}{order} LIMIT ?){order}"  # noqa: S608
    return [decode_screening(row) for row in db.query(sql, [*where.params, limit])]


def adjacent_reference(db: Database, filters: ScreeningFilter, at: tuple[str, int], *, newer: bool) -> str | None:
    """The reference of the screening just older (or ``newer``) than ``at``
    (created_at, id) in the queue's order among those matching ``filters``."""
    source, where = _source(db, filters)
    where.add("(created_at, id) > (?, ?)" if newer else "(created_at, id) < (?, ?)", *at)
    order = "ASC" if newer else "DESC"
    adjacent = f"SELECT id{source}{where.sql()} ORDER BY created_at {order}, id {order} LIMIT 1"
    sql = f"SELECT reference FROM screenings WHERE id = ({adjacent})"  # noqa: S608
    row = next(db.query(sql, where.params), None)
    return str(row["reference"]) if row else None


def count_screenings_by_status(
    db: Database, filters: ScreeningFilter = ScreeningFilter(), *, limit: int | None = None
) -> dict[str, int]:
    """How many screenings match, per status; with ``limit``, only the first ``limit + 1``
    matches are counted, so a total above ``limit`` means "more than ``limit``"."""
    matches, params = _matches(db, replace(filters, status=None, decide=False), "status", limit)
    sql = f"SELECT status, count(*) AS n FROM ({matches}) AS matched GROUP BY status"  # noqa: S608
    return {row["status"]: row["n"] for row in db.query(sql, params)}


def _matches(db: Database, filters: ScreeningFilter, column: str, limit: int | None) -> tuple[str, list[object]]:
    """The query of ``column`` for the screenings matching ``filters`` (the first ``limit + 1``), and its parameters."""
    source, where = _source(db, filters, counting=True)
    sql = f"SELECT {column}{source}{where.sql()}"
    if limit is None:
        return sql, list(where.params)
    return sql + " LIMIT ?", [*where.params, limit + 1]


def needs_counting(filters: ScreeningFilter) -> bool:
    """Whether the screenings matching ``filters`` must be counted (a date range, a search or a
    procedure), rather than read from the trigger-kept totals, which are exact and cost nothing."""
    return bool(filters.since or filters.until or filters.procedure or (filters.search and filters.search.strip()))


def queue_counts(
    db: Database, filters: ScreeningFilter = ScreeningFilter(), *, limit: int | None = None
) -> dict[str, int]:
    """How many screenings match ``filters`` (ignoring its status), per status.

    Without a date range or search the trigger-kept totals answer at once,
    exactly; otherwise the matching rows are counted, up to ``limit + 1`` of
    them if ``limit`` is given (see ``count_screenings_by_status``).
    """
    if needs_counting(filters):
        return count_screenings_by_status(db, filters, limit=limit)
    where = Where().when(None if filters.reviewed is None else int(filters.reviewed), "reviewed = ?")
    sql = f"SELECT status, sum(n) AS n FROM screening_status_counts{where.sql()} GROUP BY status"  # noqa: S608
    return {row["status"]: int(row["n"]) for row in db.query(sql, where.params) if row["n"]}


def count_matches(db: Database, filters: ScreeningFilter, *, limit: int | None = None) -> int:
    """How many screenings match ``filters``, status included; with ``limit``, at most
    ``limit + 1`` (see ``count_screenings_by_status``). The trigger-kept totals answer
    when there is no date range or search."""
    if not needs_counting(filters) and filters.decide:
        return _count_needing_decision(db, filters)
    if not needs_counting(filters):
        kept = Where().when(filters.status, "status = ?")
        kept.when(None if filters.reviewed is None else int(filters.reviewed), "reviewed = ?")
        sql = f"SELECT coalesce(sum(n), 0) AS n FROM screening_status_counts{kept.sql()}"  # noqa: S608
        return int(next(db.query(sql, kept.params))["n"])
    matches, params = _matches(db, filters, "1", limit)
    return int(next(db.query(f"SELECT count(*) AS n FROM ({matches}) AS matched", params))["n"])  # noqa: S608


def _count_needing_decision(db: Database, filters: ScreeningFilter) -> int:
    """How many screenings need a decision (of ``filters``' status, if given), exactly: the undecided
    reviews from the trigger-kept totals plus the undecided flagged ones (few) from their partial index."""
    if filters.reviewed:
        return 0  # a decided screening needs no decision
    reviews = 0
    if filters.status in (None, "review"):
        row = next(
            db.query(
                "SELECT coalesce(sum(n), 0) AS n FROM screening_status_counts WHERE status = 'review' AND reviewed = 0"
            )
        )
        reviews = int(row["n"])
    return reviews + count_flagged_undecided(db, filters.status)


def daily_status_counts(db: Database, days: list[tuple[str, str, str]]) -> dict[tuple[str, str], int]:
    """Screenings per (day, status); ``days`` holds (day, start, end) with
    ``start <= created_at < end`` as UTC timestamps on quarter hours, so days
    can follow the clinic's time zone. Reads the trigger-kept buckets (m036)."""
    if not days:
        return {}
    values = ", ".join("(?, ?, ?)" for _ in days)
    sums = ", ".join(f"sum(b.{status}) AS {status}" for status in BUCKET_STATUSES)
    sql = (
        f"WITH days(day, start, stop) AS (VALUES {values})"  # noqa: S608 - placeholders and constant columns
        f" SELECT days.day AS day, {sums} FROM days"
        " JOIN screening_time_buckets AS b ON b.bucket >= days.start AND b.bucket < days.stop"
        " GROUP BY days.day"
    )
    # Buckets are "YYYY-MM-DDTHH:MM"; compare with the same prefix of the bounds.
    params = [value for day, start, stop in days for value in (day, start[:16], stop[:16])]
    return {
        (row["day"], status): int(row[status])
        for row in db.query(sql, params)
        for status in BUCKET_STATUSES
        if row[status]
    }


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
