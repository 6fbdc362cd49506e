"""What a new screening's answers contradict in the same patient's earlier ones
(``core.history``): the earlier screenings read for the check, and the findings
stored with the new screening, which then waits for a practitioner's decision."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .connection import Database, dialect_of, query_one
from .records import ScreeningRecord
from .schema_findings import FLAGGED_UNDECIDED_SQL
from .screenings import decode_screening

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


def list_earlier_screenings(
    db: Database, patient_id: int | None, *, before_id: int | None = None, limit: int = EARLIER_LIMIT
) -> list[ScreeningRecord]:
    """The patient's screenings, newest first (only those stored before screening ``before_id`` if given):
    the columns the check reads."""
    if patient_id is None:
        return []
    columns = ", ".join(f"e.{c}" for c in _EARLIER_COLUMNS)
    if before_id is None:
        sql = f"SELECT {columns} FROM screenings AS e WHERE e.patient_id = ?"  # noqa: S608 - constant columns
        params: list[Any] = [patient_id]
    else:
        sql = (
            f"SELECT {columns} FROM screenings AS e JOIN screenings AS s ON s.id = ?"  # noqa: S608 - constant columns
            " WHERE e.patient_id = ? AND (e.created_at, e.id) < (s.created_at, s.id)"
        )
        params = [before_id, patient_id]
    sql += " ORDER BY e.created_at DESC, e.id DESC LIMIT ?"
    return [decode_screening(row) for row in db.query(sql, [*params, limit])]


def patient_of(db: Database, screening_id: int) -> int | None:
    """The patient record a stored screening is linked to, if any."""
    row = query_one(db, "SELECT patient_id FROM screenings WHERE id = ?", [screening_id])
    return None if row is None or row["patient_id"] is None else int(row["patient_id"])


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
