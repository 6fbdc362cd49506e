"""A course of sessions: when the next one is due, and whether a session may
be recorded on a screening. Pure functions, so the workspace, the API and the
patient's page agree on them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import facts

# What a screening lacks for a session on a given day, in the order the page names them.
SESSION_PROBLEMS = (
    "future",  # the session date is after today
    "before_start",  # the session date is before the course began
    "number",  # the session number is outside the plan or already recorded
    "other_patient",  # the screening is not on the course's patient record
    "expired",  # the answers are too old on the session day
    "undecided",  # no practitioner decision on the verdict
    "not_cleared",  # the decision does not clear the patient
    "not_reconfirmed",  # the answers were not given or re-confirmed on the session day
)


@dataclass(frozen=True)
class SessionCheck:
    """What a session is checked against: the screening's stored facts and the course."""

    created_at: str
    confirmed_at: str | None
    reviewed: bool
    decided_status: str | None
    same_patient: bool
    started_on: dt.date
    planned_sessions: int
    taken_numbers: frozenset[int]


def next_session_on(started_on: dt.date, last_given_on: dt.date | None, interval_days: int) -> dt.date:
    """When the next session is due: the course's start, or one interval after the last session."""
    return started_on if last_given_on is None else last_given_on + dt.timedelta(days=interval_days)


def next_due(started_on: str, planned_sessions: int, interval_days: int, given_on: list[str]) -> dt.date | None:
    """When a course's next session is due (stored ISO days in, a day out); None once every session is given."""
    if len(given_on) >= planned_sessions:
        return None
    last = max(given_on, default=None)
    return next_session_on(
        dt.date.fromisoformat(started_on), dt.date.fromisoformat(last) if last else None, interval_days
    )


def session_problems(
    check: SessionCheck, given_on: dt.date, number: int, *, today: dt.date, valid_days: int, zone: dt.tzinfo
) -> list[str]:
    """Why a session on ``given_on`` cannot go on this screening (``SESSION_PROBLEMS`` codes); empty if it can."""
    problems = []
    if given_on > today:
        problems.append("future")
    if given_on < check.started_on:
        problems.append("before_start")
    if not 1 <= number <= check.planned_sessions or number in check.taken_numbers:
        problems.append("number")
    if not check.same_patient:
        problems.append("other_patient")
    if facts.is_expired(check.created_at, check.confirmed_at, today=given_on, valid_days=valid_days, zone=zone):
        problems.append("expired")
    if not check.reviewed:
        problems.append("undecided")
    elif check.decided_status != "eligible":
        problems.append("not_cleared")
    if facts.answered_on(check.created_at, check.confirmed_at, zone) != given_on:
        problems.append("not_reconfirmed")
    return problems
