"""Around each session of a course (m045): the pre-session check's link and verdict, the
check-in after a session, the adverse events recorded on a session, and what the
safety report counts. Links are kept only as their SHA-256 hash."""

from __future__ import annotations

import json
import secrets
from typing import Any

from .connection import Database, hash_token, insert_row, query_one, utc_now, write_transaction


def _new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


# --- Before a planned session ----------------------------------------------------------


def get_course(db: Database, course_id: int) -> dict[str, Any]:
    """A course by id (its procedure and plan); its checks never outlive it."""
    row = query_one(db, "SELECT * FROM courses WHERE id = ?", [course_id])
    assert row is not None, "courses are never deleted"
    return row


def create_pre_session_check(db: Database, course_id: int, number: int, planned_on: str, expires_at: str) -> str | None:
    """A link for the planned session ``number`` of the course; None if one was made for it already
    (each planned session gets one link, however often the reminders run)."""
    with write_transaction(db):
        if query_one(db, "SELECT id FROM pre_session_checks WHERE course_id = ? AND number = ?", [course_id, number]):
            return None
        token, token_hash = _new_token()
        insert_row(
            db,
            "INSERT INTO pre_session_checks (course_id, number, planned_on, token_hash, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [course_id, number, planned_on, token_hash, utc_now(), expires_at],
        )
    return token


def get_pre_session_check(db: Database, token: str) -> dict[str, Any] | None:
    """The check behind a link, with its course's patient and procedure-free plan, or None."""
    return query_one(
        db,
        "SELECT k.*, c.patient_id FROM pre_session_checks k JOIN courses c ON c.id = k.course_id"
        " WHERE k.token_hash = ?",
        [hash_token(token)],
    )


def answer_pre_session_check(db: Database, check_id: int, screening_id: int, outcome: str) -> bool:
    """Record the new screening the check's answers made and its verdict; False if already answered."""
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE pre_session_checks SET answered_at = ?, screening_id = ?, outcome = ?"
            " WHERE id = ? AND answered_at IS NULL",
            [utc_now(), screening_id, outcome, check_id],
        )
        return bool(cursor.rowcount)


def list_course_checks(db: Database, course_id: int) -> list[dict[str, Any]]:
    """The course's pre-session checks by session number, with the reference of each answer's screening."""
    return list(
        db.query(
            "SELECT k.*, s.reference FROM pre_session_checks k LEFT JOIN screenings s ON s.id = k.screening_id"
            " WHERE k.course_id = ? ORDER BY k.number",
            [course_id],
        )
    )


# --- After a session ----------------------------------------------------------------------


def list_sessions_without_check_in(db: Database, first_day: str, last_day: str) -> list[dict[str, Any]]:
    """Sessions given from ``first_day`` to ``last_day`` (ISO days) that have no check-in link yet,
    with the contact and language of the screening they were given on."""
    return list(
        db.query(
            "SELECT cs.id, cs.course_id, cs.screening_id, cs.given_on, cs.number, s.reference, s.contact_email,"
            " s.language FROM course_sessions cs JOIN screenings s ON s.id = cs.screening_id"
            " WHERE cs.given_on >= ? AND cs.given_on <= ?"
            " AND NOT EXISTS (SELECT 1 FROM check_ins k WHERE k.session_id = cs.id) ORDER BY cs.given_on, cs.id",
            [first_day, last_day],
        )
    )


def create_check_in(db: Database, session_id: int, screening_id: int, expires_at: str) -> str:
    """The check-in link of a session given (one per session: the column is unique)."""
    token, token_hash = _new_token()
    insert_row(
        db,
        "INSERT INTO check_ins (session_id, screening_id, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        [session_id, screening_id, token_hash, utc_now(), expires_at],
    )
    return token


def _decode_check_in(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("answers", "signs"):
        row[key] = json.loads(row[key]) if row.get(key) else None
    return row


def get_check_in(db: Database, token: str) -> dict[str, Any] | None:
    """The check-in behind a link, with its session's day and number and the screening's reference, or None."""
    row = query_one(
        db,
        "SELECT k.*, cs.given_on, cs.number, cs.course_id, s.reference, s.language FROM check_ins k"
        " JOIN course_sessions cs ON cs.id = k.session_id JOIN screenings s ON s.id = k.screening_id"
        " WHERE k.token_hash = ?",
        [hash_token(token)],
    )
    return None if row is None else _decode_check_in(row)


def answer_check_in(db: Database, check_in_id: int, answers: dict[str, Any], signs: list[str]) -> bool:
    """Keep the patient's check-in answers and the signs of a complication they show; False if answered already."""
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE check_ins SET answered_at = ?, answers = ?, signs = ? WHERE id = ? AND answered_at IS NULL",
            [utc_now(), json.dumps(answers, ensure_ascii=False), json.dumps(signs), check_in_id],
        )
        return bool(cursor.rowcount)


def list_course_check_ins(db: Database, course_id: int) -> list[dict[str, Any]]:
    """The check-ins of the course's sessions, answers decoded."""
    rows = db.query(
        "SELECT k.* FROM check_ins k JOIN course_sessions cs ON cs.id = k.session_id WHERE cs.course_id = ?"
        " ORDER BY k.id",
        [course_id],
    )
    return [_decode_check_in(row) for row in rows]


# --- Adverse events ---------------------------------------------------------------------


def get_course_session(db: Database, session_id: int) -> dict[str, Any] | None:
    """A session given, with its screening's reference, or None."""
    return query_one(
        db,
        "SELECT cs.*, s.reference FROM course_sessions cs JOIN screenings s ON s.id = cs.screening_id WHERE cs.id = ?",
        [session_id],
    )


def record_adverse_event(
    db: Database,
    session: dict[str, Any],
    practitioner_id: int,
    *,
    kind: str,
    grade: str,
    onset_on: str,
    outcome: str,
    source: str,
    follow_up: str | None,
) -> int:
    """Record an adverse event on a session given; return its id."""
    return insert_row(
        db,
        "INSERT INTO adverse_events (session_id, screening_id, practitioner_id, created_at, kind, grade, onset_on,"
        " outcome, source, follow_up) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            session["id"],
            session["screening_id"],
            practitioner_id,
            utc_now(),
            kind,
            grade,
            onset_on,
            outcome,
            source,
            follow_up,
        ],
    )


def list_course_adverse_events(db: Database, course_id: int) -> list[dict[str, Any]]:
    """The adverse events recorded on the course's sessions, with who recorded them."""
    return list(
        db.query(
            "SELECT a.*, p.name AS practitioner_name FROM adverse_events a"
            " JOIN course_sessions cs ON cs.id = a.session_id JOIN practitioners p ON p.id = a.practitioner_id"
            " WHERE cs.course_id = ? ORDER BY a.onset_on, a.id",
            [course_id],
        )
    )


# --- The safety report ------------------------------------------------------------------


def list_sessions_given(db: Database, first_day: str, last_day: str) -> list[dict[str, Any]]:
    """Sessions given between two ISO days, with their screening's rules version and procedure
    and whether a check-in was answered."""
    return list(
        db.query(
            "SELECT cs.id, cs.given_on, s.rules_version, s.procedure,"
            " (SELECT count(*) FROM check_ins k WHERE k.session_id = cs.id AND k.answered_at IS NOT NULL)"
            " AS check_ins_answered"
            " FROM course_sessions cs JOIN screenings s ON s.id = cs.screening_id"
            " WHERE cs.given_on >= ? AND cs.given_on <= ? ORDER BY cs.given_on, cs.id",
            [first_day, last_day],
        )
    )


def list_adverse_events(db: Database, first_day: str = "", last_day: str = "9999-12-31") -> list[dict[str, Any]]:
    """Adverse events on sessions given between two ISO days (default: all), with the session
    and the screening behind it (answers and fired rules decoded)."""
    rows = db.query(
        "SELECT s.*, cs.given_on, cs.number, a.id AS event_id, a.session_id, a.kind, a.grade, a.onset_on,"
        " a.outcome, a.source, a.follow_up, a.created_at AS recorded_at"
        " FROM adverse_events a JOIN course_sessions cs ON cs.id = a.session_id"
        " JOIN screenings s ON s.id = a.screening_id WHERE cs.given_on >= ? AND cs.given_on <= ?"
        " ORDER BY cs.given_on, a.id",
        [first_day, last_day],
    )
    events = []
    for row in rows:
        for key in ("answers", "reasons", "notes"):
            row[key] = json.loads(row[key]) if row.get(key) else ([] if key != "answers" else {})
        events.append(row)
    return events
