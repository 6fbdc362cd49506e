"""A new screening's answers checked against the same patient's recent ones.

Pure functions: the caller passes the earlier screenings in (the storage
links them by patient), so the same answers, history and day always give the
same findings. Which change counts, and for how long an earlier answer stays
comparable, the rule file declares per question (``recheck:``); a new
screening before an earlier deferral's date is a finding too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .engine import Reason, Verdict, answers_to_json
from .model import OUTCOME_RANK, Answers, Question, RuleSet

CHANGED_ANSWER = "changed_answer"
BEFORE_DEFERRAL = "before_deferral"


@dataclass(frozen=True)
class EarlierScreening:
    """What the check needs of an earlier screening of the same patient."""

    reference: str
    answered_on: dt.date  # the day its answers were given or last confirmed
    answers: Mapping[str, Any]  # as stored: dates as ISO text
    status: str  # the verdict that stands: a practitioner's decision, else the rules'
    rescreen_after: dt.date | None


@dataclass(frozen=True)
class Finding:
    """One thing a practitioner must decide on: a changed answer (``question``, ``earlier``
    and ``now`` set), or a new screening before an earlier deferral's date (``rescreen_after``)."""

    kind: str
    reference: str
    answered_on: dt.date
    question: str | None = None
    text: Mapping[str, str] | None = None  # the question's text when the finding was made
    earlier: Any = None
    now: Any = None
    rescreen_after: dt.date | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored with the screening."""
        return {
            "kind": self.kind,
            "reference": self.reference,
            "answered_on": self.answered_on.isoformat(),
            "question": self.question,
            "text": dict(self.text) if self.text else None,
            "earlier": self.earlier,
            "now": self.now,
            "rescreen_after": self.rescreen_after.isoformat() if self.rescreen_after else None,
        }


def _as_set(value: Any) -> set[str]:
    if isinstance(value, list):
        return {str(v) for v in value}
    return set() if value is None else {str(value)}


def is_contradiction(question: Question, earlier: Any, now: Any) -> bool:
    """Whether ``now`` contradicts ``earlier`` (both JSON-ready) as the question's ``recheck`` declares."""
    recheck = question.recheck
    if recheck is None or earlier is None or now is None:
        return False
    if recheck.moved:
        return bool(earlier != now)
    if question.type == "multi":
        before, after = _as_set(earlier), _as_set(now)
        dropped = (before & recheck.from_values) - after
        return bool(dropped) and (not recheck.to_values or bool(after & recheck.to_values))
    if str(earlier) not in recheck.from_values:
        return False
    return str(now) in recheck.to_values if recheck.to_values else str(now) not in recheck.from_values


def find_changes(
    ruleset: RuleSet, answers: Answers, earlier: Sequence[EarlierScreening], today: dt.date
) -> list[Finding]:
    """The findings of new clean ``answers`` given on ``today`` against the same patient's
    ``earlier`` screenings: each rechecked question whose answer contradicts one given within
    its ``within_days`` (the most recent such answer, in questionnaire order), then each
    earlier deferral whose date is still ahead."""
    newest_first = sorted(earlier, key=lambda e: e.answered_on, reverse=True)
    now_json = answers_to_json(answers)
    findings = []
    for question in ruleset.questions:
        recheck = question.recheck
        if recheck is None or question.id not in now_json:
            continue
        for screening in newest_first:
            age = (today - screening.answered_on).days
            if not 0 <= age <= recheck.within_days:
                continue
            before = screening.answers.get(question.id)
            if is_contradiction(question, before, now_json[question.id]):
                findings.append(
                    Finding(
                        kind=CHANGED_ANSWER,
                        reference=screening.reference,
                        answered_on=screening.answered_on,
                        question=question.id,
                        text=question.text,
                        earlier=before,
                        now=now_json[question.id],
                    )
                )
                break
    for screening in newest_first:
        if screening.status == "deferred" and screening.rescreen_after is not None and today < screening.rescreen_after:
            findings.append(
                Finding(
                    kind=BEFORE_DEFERRAL,
                    reference=screening.reference,
                    answered_on=screening.answered_on,
                    rescreen_after=screening.rescreen_after,
                )
            )
    return findings


def review_verdict(ruleset: RuleSet, verdict: Verdict, findings: Sequence[Finding]) -> Verdict:
    """The verdict of a patient proven to be the same person whose answers gave ``findings``:
    at least "review", with the rule file's ``recheck_review`` reason (naming the changed
    questions), so the patient reads only that a practitioner will look at their answers."""
    review = ruleset.recheck_review
    if not findings or review is None:
        return verdict
    questions = tuple(dict.fromkeys(f.question for f in findings if f.question is not None))
    reason = Reason(review.id, "review", questions, review.patient, review.practitioner, review.source, None)
    status = verdict.status if OUTCOME_RANK[verdict.status] >= OUTCOME_RANK["review"] else "review"
    return verdict._replace(status=status, reasons=(*verdict.reasons, reason))
