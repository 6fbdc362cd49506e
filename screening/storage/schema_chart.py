"""Migration m036: the chart's quarter-hour buckets hold one row per quarter
hour, a count per status in its columns, on SQLite and PostgreSQL alike.

m013 kept one row per (quarter hour, status): at a few hundred screenings a
day, the 30-day chart summed ~11,500 rows and sorted them by day and status
(5.5 ms at a million screenings over three years); one row per quarter hour
is a quarter of the rows and no sort by status (1.2 ms).
"""

# ruff: noqa: S608 - every statement here is built from this module's constants

from __future__ import annotations

from sqlite_utils import Database

# A quarter-hour bucket of a stored UTC timestamp: "2026-11-24T09:45".
BUCKET_SQL = "substr({t}, 1, 14) || printf('%02d', (CAST(substr({t}, 15, 2) AS INTEGER) / 15) * 15)"

# The statuses the buckets count, one column each (core.model.OUTCOMES when
# this migration was written: a migration keeps its own copy).
BUCKET_STATUSES = ("eligible", "review", "deferred", "ineligible")
# The screenings a bucket row counts.
BUCKET_TOTAL = " + ".join(BUCKET_STATUSES)

_COLUMNS = ", ".join(BUCKET_STATUSES)
_BACKFILL = (
    f"INSERT INTO screening_time_buckets_m036 (bucket, {_COLUMNS}) SELECT bucket, "
    + ", ".join(f"sum(CASE WHEN status = '{s}' THEN n ELSE 0 END)" for s in BUCKET_STATUSES)
    + " FROM screening_time_buckets GROUP BY bucket"
)


def _sqlite_change(sign: str, row: str) -> str:
    """SQL adding (sign "+") or taking away ("-") the screening ``row`` (new/old) from its bucket."""
    bucket = BUCKET_SQL.format(t=f"{row}.created_at")
    if sign == "-":
        counts = ", ".join(f"{s} = {s} - ({row}.status = '{s}')" for s in BUCKET_STATUSES)
        return f"UPDATE screening_time_buckets SET {counts} WHERE bucket = {bucket};"
    values = ", ".join(f"{row}.status = '{s}'" for s in BUCKET_STATUSES)
    added = ", ".join(f"{s} = {s} + excluded.{s}" for s in BUCKET_STATUSES)
    return (
        f"INSERT INTO screening_time_buckets (bucket, {_COLUMNS}) VALUES ({bucket}, {values})"
        f" ON CONFLICT (bucket) DO UPDATE SET {added};"
    )


def m036_chart_buckets_by_status_column(db: Database) -> None:
    """The chart's buckets as one row per quarter hour with a column per status, kept by triggers."""
    columns = ", ".join(f"{s} INTEGER NOT NULL DEFAULT 0" for s in BUCKET_STATUSES)
    db.execute(f"CREATE TABLE screening_time_buckets_m036 (bucket TEXT PRIMARY KEY, {columns}) WITHOUT ROWID")
    db.execute(_BACKFILL)
    for trigger in ("insert", "delete", "update"):
        db.execute(f"DROP TRIGGER screening_time_buckets_{trigger}")
    db.execute("DROP TABLE screening_time_buckets")
    db.execute("ALTER TABLE screening_time_buckets_m036 RENAME TO screening_time_buckets")
    create_bucket_triggers(db, _sqlite_change("+", "new"), _sqlite_change("-", "old"))


def create_bucket_triggers(db: Database, add_new: str, remove_old: str) -> None:
    """SQLite's triggers that keep the chart's buckets: ``add_new`` counts a screening in
    (``new.``), ``remove_old`` counts one out (``old.``); a change of status or time does both."""
    db.execute(f"CREATE TRIGGER screening_time_buckets_insert AFTER INSERT ON screenings BEGIN {add_new} END")
    db.execute(f"CREATE TRIGGER screening_time_buckets_delete AFTER DELETE ON screenings BEGIN {remove_old} END")
    db.execute(
        "CREATE TRIGGER screening_time_buckets_update AFTER UPDATE OF status, created_at ON screenings"
        " WHEN old.status IS NOT new.status OR old.created_at IS NOT new.created_at"
        f" BEGIN {remove_old} {add_new} END"
    )


# The same for PostgreSQL: the triggers call screening_buckets_change(), replaced in place.
_PG_TAKE_OLD = ", ".join(f"{s} = {s} - (OLD.status = '{s}')::int" for s in BUCKET_STATUSES)
_PG_NEW_VALUES = ", ".join(f"(NEW.status = '{s}')::int" for s in BUCKET_STATUSES)
_PG_ADD = ", ".join(f"{s} = b.{s} + EXCLUDED.{s}" for s in BUCKET_STATUSES)
_PG_COLUMNS = ", ".join(f"{s} BIGINT NOT NULL DEFAULT 0" for s in BUCKET_STATUSES)
M036_POSTGRESQL = f"""
CREATE TABLE screening_time_buckets_m036 (bucket TEXT COLLATE "C" PRIMARY KEY, {_PG_COLUMNS});
{_BACKFILL};
DROP TABLE screening_time_buckets;
ALTER TABLE screening_time_buckets_m036 RENAME TO screening_time_buckets;
CREATE OR REPLACE FUNCTION screening_buckets_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        UPDATE screening_time_buckets SET {_PG_TAKE_OLD} WHERE bucket = screening_bucket(OLD.created_at);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO screening_time_buckets AS b (bucket, {_COLUMNS})
            VALUES (screening_bucket(NEW.created_at), {_PG_NEW_VALUES})
            ON CONFLICT (bucket) DO UPDATE SET {_PG_ADD};
    END IF;
    RETURN NULL;
END $$;
"""
