"""Test patches on a patient record: the spot fired for a procedure and its read-out (m043)."""

from __future__ import annotations

import json
from typing import Any, TypedDict, cast

from .connection import Database, insert_row, query_one, utc_now, write_transaction

# What a read-out finds.
PATCH_RESULTS = ("clear", "reaction")


class PatchAlreadyRead(Exception):
    """The test patch has its read-out already: a read-out is recorded once."""


class PatchTestRecord(TypedDict):
    """A test patch with who fired it and, once read, its read-out and who read it."""

    id: int
    patient_id: int
    procedure: str
    tested_on: str  # ISO day the test spot was fired
    site: str
    device: str
    settings: str  # the other settings, in words
    fluence_j_cm2: float  # typed: a first session may be capped at it (devices.yaml)
    performed_by: int
    read_on: str | None  # ISO day of the read-out, None while waiting
    result: str | None  # "clear" | "reaction", None while waiting
    note: str | None
    read_by: int | None
    created_at: str
    performed_by_name: str
    read_by_name: str | None


_WITH_NAMES = (
    "SELECT t.*, p.name AS performed_by_name, r.name AS read_by_name FROM patch_tests t"
    " JOIN practitioners p ON p.id = t.performed_by LEFT JOIN practitioners r ON r.id = t.read_by"
)


def record_patch_test(
    db: Database,
    patient_id: int,
    procedure: str,
    *,
    tested_on: str,
    site: str,
    device: str,
    settings: str,
    fluence_j_cm2: float,
    performed_by: int,
) -> int:
    """Record a test patch fired on the patient for ``procedure`` at ``fluence_j_cm2``; return its id."""
    with write_transaction(db):
        return insert_row(
            db,
            "INSERT INTO patch_tests (patient_id, procedure, tested_on, site, device, settings, fluence_j_cm2,"
            " performed_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [patient_id, procedure, tested_on, site, device, settings, fluence_j_cm2, performed_by, utc_now()],
        )


def record_patch_readout(
    db: Database, patch_id: int, *, read_on: str, result: str, note: str | None, read_by: int
) -> None:
    """Record the read-out of a waiting test patch; raise ``PatchAlreadyRead`` if it has one."""
    if result not in PATCH_RESULTS:
        raise ValueError(f"a read-out is one of {PATCH_RESULTS}, not {result!r}")
    with write_transaction(db):
        # Only while waiting: two practitioners reading the same patch at once record one read-out.
        updated = db.execute(
            "UPDATE patch_tests SET read_on = ?, result = ?, note = ?, read_by = ? WHERE id = ? AND result IS NULL",
            [read_on, result, note, read_by, patch_id],
        ).rowcount
    if updated != 1:
        raise PatchAlreadyRead(str(patch_id))


def get_patch_test(db: Database, patch_id: int) -> PatchTestRecord | None:
    """The test patch with this id, or None."""
    row = query_one(db, f"{_WITH_NAMES} WHERE t.id = ?", [patch_id])
    return None if row is None else cast(PatchTestRecord, row)


def list_patch_tests(db: Database, patient_id: int, procedure: str) -> list[PatchTestRecord]:
    """The patient's test patches for ``procedure``, newest first."""
    sql = f"{_WITH_NAMES} WHERE t.patient_id = ? AND t.procedure = ? ORDER BY t.tested_on DESC, t.id DESC"
    return [cast(PatchTestRecord, row) for row in db.query(sql, [patient_id, procedure])]


def list_waiting_patch_tests(db: Database, procedure: str | None = None) -> list[dict[str, Any]]:
    """The test patches waiting for a read-out (of ``procedure`` only, if given), oldest first, each with
    the patient's latest screening of its procedure (reference, patient_name, answers, created_at, confirmed_at)
    to reach the patient and to read when the read-out is due."""
    only = " AND t.procedure = ?" if procedure is not None else ""
    rows = list(
        db.query(
            "SELECT t.id, t.patient_id, t.procedure, t.tested_on, t.site, s.reference, s.patient_name, s.answers,"  # noqa: S608
            " s.created_at, s.confirmed_at FROM patch_tests t JOIN screenings s ON s.id = ("
            "   SELECT id FROM screenings WHERE patient_id = t.patient_id AND procedure = t.procedure"
            "   ORDER BY created_at DESC, id DESC LIMIT 1)"
            f" WHERE t.result IS NULL{only} ORDER BY t.tested_on, t.id",
            [procedure] if procedure is not None else [],
        )
    )
    return [{**row, "answers": json.loads(row["answers"])} for row in rows]
