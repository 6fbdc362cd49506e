"""A patient's current course as every page shows it: the course, its sessions and when the next is due."""

from __future__ import annotations

from typing import Any

from .. import storage
from ..core.course import next_due
from ..storage import Database


def course_progress(db: Database, patient_id: int | None, procedure: str) -> dict[str, Any]:
    """The patient's current course of ``procedure``, its sessions and the day the next is due (None without a
    course or when done)."""
    course = storage.get_current_course(db, patient_id, procedure) if patient_id else None
    if course is None:
        return {"course": None, "sessions": [], "next_on": None}
    sessions = storage.list_course_sessions(db, course["id"])
    given_on = [s["given_on"] for s in sessions]
    next_on = next_due(course["started_on"], course["planned_sessions"], course["interval_days"], given_on)
    return {"course": course, "sessions": sessions, "next_on": next_on}
