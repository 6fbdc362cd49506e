"""Moving a clinic between backends: every table copied from one database into an empty one."""

from __future__ import annotations

from collections.abc import Iterator

from .connection import Database, dialect_of, execute_many, stream_rows, write_transaction
from .schema_chart import BUCKET_TOTAL

# Parents before children, so every foreign key finds its row. A table the
# schema gains must be added here (or to DERIVED_TABLES): ``copy_database``
# refuses a source with a table it does not know rather than leave it behind.
COPY_ORDER = (
    "practitioners",
    "devices",
    "patients",
    "consent_texts",
    "screenings",
    "patient_keys",
    "reviews",
    "reconfirmations",
    "audit_log",
    "api_tokens",
    "outbox",
    "patient_notices",
    "account_links",
    "recovery_codes",
    "sessions",
    "login_failures",
    "api_idempotency",
    "courses",
    "course_sessions",
    "record_link_requests",
    "rule_versions",
    "patch_tests",
    "pre_session_checks",
    "check_ins",
    "adverse_events",
)
# Kept by the target's own triggers as the screenings arrive: each with the screenings a row counts.
DERIVED_TABLES = {"screening_status_counts": "n", "screening_time_buckets": BUCKET_TOTAL}


class CopyRefused(Exception):
    """The copy cannot start: the target holds data, or the source has a table this code does not know."""


def list_tables(db: Database) -> list[str]:
    """The app's tables (not the migrations' bookkeeping, not SQLite's full-text index)."""
    if dialect_of(db) == "postgresql":
        names = [row["tablename"] for row in db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    else:
        names = [row["name"] for row in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return sorted(n for n in names if not n.startswith(("_", "sqlite_", "screenings_fts")))


def copied_columns(db: Database, table: str) -> list[str]:
    """The columns of ``table`` a copy writes: every one but those the database computes."""
    if dialect_of(db) == "postgresql":
        rows = db.query(
            "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = ? AND is_generated = 'NEVER' ORDER BY ordinal_position",
            [table],
        )
    else:
        # hidden 2 and 3: generated columns (virtual, stored).
        rows = db.query("SELECT name FROM pragma_table_xinfo(?) WHERE hidden NOT IN (2, 3) ORDER BY cid", [table])
    return [row["name"] for row in rows]


def count_rows(db: Database, table: str) -> int:
    """Rows in ``table`` (a name from ``COPY_ORDER``); for a derived table, the screenings it counts."""
    what = f"coalesce(sum({DERIVED_TABLES[table]}), 0)" if table in DERIVED_TABLES else "count(*)"
    return int(db.execute(f"SELECT {what} FROM {table}").fetchone()[0])  # noqa: S608 - names from code


def check_copy(source: Database, target: Database) -> None:
    """Raise ``CopyRefused`` unless ``target`` is empty and every table of ``source`` is known."""
    unknown = [t for t in list_tables(source) if t not in COPY_ORDER and t not in DERIVED_TABLES]
    if unknown:
        raise CopyRefused(f"the source has tables this release does not copy: {', '.join(unknown)}")
    busy = [t for t in COPY_ORDER if count_rows(target, t)]
    if busy:
        raise CopyRefused(f"the target is not empty ({', '.join(busy)} hold rows): copy into a new database")


def copy_database(source: Database, target: Database, *, batch: int = 1000) -> Iterator[tuple[str, int, int]]:
    """Copy every table of ``source`` into the empty, migrated ``target``; yields
    (table, rows copied so far, rows in the table) as it goes.

    Run ``check_copy`` first. Ids are copied as they are, so links between
    rows, references and the audit trail stay the same; PostgreSQL's id
    sequences are moved past the copied ids at the end.
    """
    for table in COPY_ORDER:
        total = count_rows(source, table)
        columns = [c for c in copied_columns(source, table) if c in set(copied_columns(target, table))]
        names = ", ".join(columns)
        insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        done = 0
        yield table, done, total
        # Streamed in batches: a million screenings never sit in memory at once.
        for rows in stream_rows(source, f"SELECT {names} FROM {table}", batch):  # noqa: S608 - names from code
            with write_transaction(target):
                execute_many(target, insert, [tuple(row) for row in rows])
            done += len(rows)
            yield table, done, total
    if dialect_of(target) == "postgresql":
        for table in COPY_ORDER:
            if "id" in copied_columns(target, table):
                target.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
                    f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )


def compare_counts(source: Database, target: Database) -> dict[str, tuple[int, int]]:
    """Tables whose row counts differ between ``source`` and ``target``: table -> (source, target)."""
    counts = {t: (count_rows(source, t), count_rows(target, t)) for t in (*COPY_ORDER, *sorted(DERIVED_TABLES))}
    return {t: pair for t, pair in counts.items() if pair[0] != pair[1]}
