"""What a new screening's answers contradict in the same patient's earlier ones
(``core.history``): the earlier screenings read for the check, and the findings
stored with the new screening, which then waits for a practitioner's decision."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from .connection import Database, dialect_of, send_query
from .records import ScreeningRecord, decode_screening
from .schema_findings import FLAGGED_UNDECIDED_SQL

# A patient's earlier screenings read for the check, newest first: enough for any
# declared window (a patient screens a few times a year), bounded for a record
# that collected many.
EARLIER_LIMIT = 50
_EARLIER_COLUMNS = (
    "reference",
    "created_at",
    "confirmed_at",
    "answers",
    "status",
    "reviewed",
    "decided_status",
    "decided_defer_until",
    "rescreen_after",
)


def send_earlier_screenings(
    db: Database, patient_id: int, *, limit: int = EARLIER_LIMIT
) -> Callable[[], list[ScreeningRecord]]:
    """Send the read of the patient's screenings, newest first (the columns the check reads); the function
    returned gives them. Sent before a new screening's INSERT in the same write transaction, they are
    exactly the ones stored before it, and on PostgreSQL they travel with the INSERT's round trip."""
    columns = ", ".join(_EARLIER_COLUMNS)
    rows = send_query(
        db,
        f"SELECT {columns} FROM screenings WHERE patient_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",  # noqa: S608 - constant columns
        [patient_id, limit],
    )
    return lambda: [decode_screening(row) for row in rows()]


def list_earlier_screenings(
    db: Database, patient_id: int | None, *, limit: int = EARLIER_LIMIT
) -> list[ScreeningRecord]:
    """The patient's screenings, newest first: the columns the check reads."""
    return [] if patient_id is None else send_earlier_screenings(db, patient_id, limit=limit)()


def record_findings(db: Database, screening_id: int, findings: Sequence[dict[str, Any]]) -> None:
    """Store a new screening's findings and flag it for a practitioner's decision (none: nothing changes)."""
    if not findings:
        return
    db.execute(
        "UPDATE screenings SET findings = ?, flagged = 1 WHERE id = ?",
        [json.dumps(list(findings), ensure_ascii=False), screening_id],
    )


def count_flagged_undecided(db: Database, status: str | None = None) -> int:
    """How many flagged screenings wait for a decision apart from the reviews (which the
    trigger-kept totals count), of ``status`` if given: read from their partial index."""
    # SQLite's planner would take the reviewed index and read every undecided row.
    indexed = " INDEXED BY idx_screenings_flagged_undecided" if dialect_of(db) == "sqlite" else ""
    sql = f"SELECT count(*) AS n FROM screenings{indexed} WHERE {FLAGGED_UNDECIDED_SQL}"  # noqa: S608 - constant SQL
    params: list[Any] = []
    if status is not None:
        sql += " AND status = ?"
        params.append(status)
    return int(next(db.query(sql, params))["n"])
