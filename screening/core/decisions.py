"""What makes a practitioner's decision on a verdict acceptable: one set of
rules for the review form and for storage, so the two cannot drift apart."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

DECISIONS = ("confirm", "override")

# Format characters (zero-width space U+200B, joiners, BOM) and separators
# (spaces, line and paragraph separators) show nothing, and neither do
# control characters such as tabs and newlines.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Zs", "Zl", "Zp"})


@dataclass(frozen=True)
class DecisionProblem:
    """Why a decision cannot be recorded: the field at fault and a stable code."""

    field: str  # "decision", "status", "reason_code" or "comment", as the review form names them
    code: str  # status_missing, status_same, reason_missing, comment_missing, confirm_with_status, unknown_decision


def is_blank(text: str | None) -> bool:
    """Whether ``text`` shows nothing: empty, or only spaces and invisible characters."""
    return all(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in text or "")


def decision_problems(
    decision: str | None,
    verdict_status: str,
    new_status: str | None,
    reason_code: str | None,
    comment: str | None,
) -> list[DecisionProblem]:
    """What is wrong with a decision on a verdict of ``verdict_status``; empty if nothing.

    A confirmation keeps the verdict's status (``new_status`` empty or the
    same); an override names a different status, a reason and a comment.
    """
    if decision == "confirm":
        if new_status and new_status != verdict_status:
            return [DecisionProblem("status", "confirm_with_status")]
        return []
    if decision != "override":
        return [DecisionProblem("decision", "unknown_decision")]
    problems = []
    if not new_status:
        problems.append(DecisionProblem("status", "status_missing"))
    elif new_status == verdict_status:
        problems.append(DecisionProblem("status", "status_same"))
    if not reason_code:
        problems.append(DecisionProblem("reason_code", "reason_missing"))
    if is_blank(comment):
        problems.append(DecisionProblem("comment", "comment_missing"))
    return problems
