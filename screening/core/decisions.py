"""What makes a practitioner's decision on a verdict acceptable: one set of
rules for the review form and for storage, so the two cannot drift apart.

A decision is one of three statuses: eligible (cleared for treatment),
deferred (from a date on) or ineligible. "review" is never one: it is the
rules asking a person to decide.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .facts import REVIEW_STATUSES
from .text import is_blank

# What a practitioner may decide, in the order the detail page offers it.
DECIDED_STATUSES = ("eligible", "deferred", "ineligible")
# How a decision is stored (reviews.decision): the verdict's own status is a
# confirmation, any other status overrides it.
DECISIONS = ("confirm", "override")
# Why a practitioner decided as they did (labels in practitioner/forms.py).
REASON_CODES = (
    "clarified_with_patient",
    "physician_clearance",
    "not_clinically_relevant",
    "condition_must_settle",
    "contraindication_confirmed",
    "other",
)


@dataclass(frozen=True)
class DecisionProblem:
    """Why a decision cannot be recorded: the field at fault and a stable code."""

    field: str  # "status", "defer_until", "reason_code" or "comment", as the review form names them
    # status_missing, status_not_decision, defer_until_missing, defer_until_past,
    # reason_missing, reason_unknown, comment_missing
    code: str


def decision_kind(verdict_status: str, new_status: str) -> str:
    """How a decision is stored: "confirm" keeps the verdict's status, "override" changes it."""
    return "confirm" if new_status == verdict_status else "override"


def decision_problems(
    verdict_status: str,
    new_status: str | None,
    reason_code: str | None,
    comment: str | None,
    *,
    defer_until: dt.date | None,
    today: dt.date,
) -> list[DecisionProblem]:
    """What is wrong with deciding ``new_status`` on a verdict of ``verdict_status``; empty if nothing.

    Keeping a definite verdict's status needs nothing more. Another status
    needs a reason and a comment; on a "review" verdict (the rules decided
    nothing) a reason, the comment being optional. A deferral that is not
    the verdict's own names the date it lasts until, not before ``today``
    (the clinic's day).
    """
    if not new_status:
        return [DecisionProblem("status", "status_missing")]
    if new_status not in DECIDED_STATUSES:
        return [DecisionProblem("status", "status_not_decision")]
    if new_status == verdict_status:
        return []  # the rules' verdict, date included, confirmed in one click
    problems = []
    if new_status == "deferred":
        if defer_until is None:
            problems.append(DecisionProblem("defer_until", "defer_until_missing"))
        elif defer_until < today:
            problems.append(DecisionProblem("defer_until", "defer_until_past"))
    if not reason_code:
        problems.append(DecisionProblem("reason_code", "reason_missing"))
    elif reason_code not in REASON_CODES:
        problems.append(DecisionProblem("reason_code", "reason_unknown"))
    if verdict_status not in REVIEW_STATUSES and is_blank(comment):
        problems.append(DecisionProblem("comment", "comment_missing"))
    return problems


__all__ = [
    "DECIDED_STATUSES",
    "DECISIONS",
    "REASON_CODES",
    "DecisionProblem",
    "decision_kind",
    "decision_problems",
    "is_blank",
]
