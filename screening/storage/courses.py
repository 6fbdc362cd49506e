"""Courses of sessions on a patient record and the sessions given in them."""

from __future__ import annotations

import sqlite3
from typing import Any, TypedDict, cast

from .connection import Database, insert_row, query_one, utc_now, write_transaction


class DuplicateSession(Exception):
    """A session with that number is already recorded in the course."""


class CourseRecord(TypedDict):
    """A course on a patient record."""

    id: int
    patient_id: int
    practitioner_id: int
    created_at: str
    started_on: str
    planned_sessions: int
    interval_days: int
    procedure: str  # the id of the rule file's procedure the course is of (m042)


class CourseSessionRecord(TypedDict):
    """A session given, with who gave it and the screening it was given on."""

    id: int
    course_id: int
    screening_id: int
    practitioner_id: int
    created_at: str
    given_on: str
    number: int
    note: str | None
    settings: str | None  # free text, sessions before m044
    # m044: the typed settings (None on older sessions), see ``SessionDetails``.
    device: str | None
    handpiece: str | None
    wavelength_nm: int | None
    fluence_j_cm2: float | None
    pulse_ms: float | None
    spot_mm: float | None
    passes: int | None
    cooling: str | None
    endpoint: str | None
    immediate_reaction: str | None
    override_reason: str | None
    outside_protocol: str | None
    practitioner_name: str
    reference: str


class SessionDetails(TypedDict, total=False):
    """A session's device, typed settings, what was seen, and the reason for settings outside the protocol."""

    device: str
    handpiece: str
    wavelength_nm: int
    fluence_j_cm2: float
    pulse_ms: float
    spot_mm: float
    passes: int
    cooling: str
    endpoint: str | None
    immediate_reaction: str | None
    override_reason: str | None
    outside_protocol: str | None


# The columns ``SessionDetails`` fills, in a fixed order (named here, never taken from input).
_DETAIL_COLUMNS = tuple(SessionDetails.__annotations__)


def start_course(
    db: Database,
    patient_id: int,
    practitioner_id: int,
    started_on: str,
    planned_sessions: int,
    interval_days: int,
    *,
    procedure: str,
) -> int:
    """Start a course of ``procedure`` on the patient record; return its id."""
    with write_transaction(db):
        new_id = insert_row(
            db,
            "INSERT INTO courses (patient_id, practitioner_id, created_at, started_on, planned_sessions,"
            " interval_days, procedure) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [patient_id, practitioner_id, utc_now(), started_on, planned_sessions, interval_days, procedure],
        )
    return new_id


def get_current_course(db: Database, patient_id: int, procedure: str) -> CourseRecord | None:
    """The patient's latest course of ``procedure``, or None: a course of another procedure is its own."""
    row = query_one(
        db,
        "SELECT * FROM courses WHERE patient_id = ? AND procedure = ? ORDER BY id DESC LIMIT 1",
        [patient_id, procedure],
    )
    return None if row is None else cast(CourseRecord, row)


# With who gave each session and on which screening, for the course's page and PDF.
_COURSE_SESSIONS_SQL = (
    "SELECT cs.*, p.name AS practitioner_name, s.reference FROM course_sessions cs"
    " JOIN practitioners p ON p.id = cs.practitioner_id JOIN screenings s ON s.id = cs.screening_id"
    " WHERE cs.course_id = ? ORDER BY cs.number"
)


def list_course_sessions(db: Database, course_id: int) -> list[CourseSessionRecord]:
    """The sessions of the course, in order of their number."""
    return [cast(CourseSessionRecord, row) for row in db.query(_COURSE_SESSIONS_SQL, [course_id])]


def record_session(
    db: Database,
    course_id: int,
    screening_id: int,
    practitioner_id: int,
    *,
    given_on: str,
    number: int,
    note: str | None,
    settings: str | None,
    details: SessionDetails | None = None,
) -> int:
    """Record a session given in the course (with its typed ``details``); raise ``DuplicateSession``
    if its number is taken."""
    details = details or {}
    columns = [c for c in _DETAIL_COLUMNS if c in details]
    try:
        with write_transaction(db):
            new_id = insert_row(
                db,
                "INSERT INTO course_sessions (course_id, screening_id, practitioner_id, created_at, given_on,"  # noqa: S608
                f" number, note, settings{''.join(', ' + c for c in columns)})"
                f" VALUES (?, ?, ?, ?, ?, ?, ?, ?{', ?' * len(columns)})",
                [
                    course_id,
                    screening_id,
                    practitioner_id,
                    utc_now(),
                    given_on,
                    number,
                    note,
                    settings,
                    *(details[c] for c in columns),  # type: ignore[literal-required]
                ],
            )
    except sqlite3.IntegrityError as exc:
        raise DuplicateSession(str(number)) from exc
    return new_id


def list_open_courses(db: Database, procedure: str | None = None) -> list[dict[str, Any]]:
    """Every patient's latest course of each procedure (of ``procedure`` only, if given) with
    sessions still to give: its last session day and the patient's latest screening of that
    procedure (reference, created_at, confirmed_at, patient_name)."""
    only = " AND c.procedure = ?" if procedure is not None else ""
    return list(
        db.query(
            "SELECT c.id, c.patient_id, c.procedure, c.started_on, c.planned_sessions, c.interval_days,"  # noqa: S608
            " (SELECT count(*) FROM course_sessions cs WHERE cs.course_id = c.id) AS sessions_given,"
            " (SELECT max(given_on) FROM course_sessions cs WHERE cs.course_id = c.id) AS last_given_on,"
            " s.reference, s.created_at, s.confirmed_at, s.patient_name"
            " FROM courses c JOIN screenings s ON s.id = ("
            "   SELECT id FROM screenings WHERE patient_id = c.patient_id AND procedure = c.procedure"
            "   ORDER BY created_at DESC, id DESC LIMIT 1)"
            " WHERE c.id = (SELECT max(id) FROM courses WHERE patient_id = c.patient_id AND procedure = c.procedure)"
            " AND (SELECT count(*) FROM course_sessions cs WHERE cs.course_id = c.id) < c.planned_sessions"
            f"{only} ORDER BY c.id",
            [procedure] if procedure is not None else [],
        )
    )


def list_screening_sessions(db: Database, screening_id: int) -> list[dict[str, Any]]:
    """The sessions given on this screening, with their course's plan (``planned_sessions``)."""
    return list(
        db.query(
            "SELECT cs.*, p.name AS practitioner_name, c.planned_sessions FROM course_sessions cs"
            " JOIN practitioners p ON p.id = cs.practitioner_id JOIN courses c ON c.id = cs.course_id"
            " WHERE cs.screening_id = ? ORDER BY cs.number",
            [screening_id],
        )
    )


def list_sessions_for_export(db: Database) -> list[dict[str, Any]]:
    """Every session given, oldest first, with its course, patient name, practitioner and screening."""
    return list(
        db.query(
            "SELECT cs.*, p.name AS practitioner_name, s.reference, s.patient_name, c.patient_id,"
            " c.planned_sessions, c.procedure FROM course_sessions cs"
            " JOIN practitioners p ON p.id = cs.practitioner_id JOIN screenings s ON s.id = cs.screening_id"
            " JOIN courses c ON c.id = cs.course_id ORDER BY cs.given_on, cs.id"
        )
    )
