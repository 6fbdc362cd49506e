"""The test patch step of a patient's course, as every page sees it: whether the screening's
procedure requires a patch of this patient (``core.patch.patch_requirement`` on the stored
answers), the patches recorded, when a read-out is due, and what a first session still lacks.

``patch_problem`` and ``readout_due_on`` are pure (dates in, dates out); the rest reads storage.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import storage
from ..core import facts
from ..core.answers import InvalidAnswers, clean_answers
from ..core.model import Answers, PatchRequirement, RuleSet
from ..core.patch import patch_requirement
from ..storage import Database
from .clinic import clinic_zone

# What a first session lacks of the test patch, in the words of ``PatchProblem.code``.
PATCH_PROBLEMS = (
    "none",  # no test patch recorded for the patient and procedure
    "waiting",  # the latest patch has no read-out yet (``due_on``: when it is due)
    "reaction",  # the latest read-out found a reaction
    "early",  # the latest clear read-out was read before it was due
    "after_session",  # the latest clear read-out was read after the session day
    "expired",  # the latest clear read-out no longer counts on the session day (``expired_on``)
)


@dataclass(frozen=True)
class PatchProblem:
    """Why a first session cannot go ahead on the test patch, with the latest patch's days."""

    code: str  # one of PATCH_PROBLEMS
    tested_on: dt.date | None = None
    read_on: dt.date | None = None
    due_on: dt.date | None = None  # the first day the read-out counts
    expired_on: dt.date | None = None  # the last day the clear read-out counted


@dataclass(frozen=True)
class PatchStep:
    """The patch step of one patient and procedure: the requirement (None: no patch needed) and the patches."""

    requirement: PatchRequirement | None
    tests: Sequence[storage.PatchTestRecord] = field(default_factory=tuple)  # newest first

    @property
    def waiting(self) -> storage.PatchTestRecord | None:
        """The latest patch, if it waits for its read-out."""
        return self.tests[0] if self.tests and self.tests[0]["result"] is None else None

    def due_on(self, test: Mapping[str, Any]) -> dt.date:
        """The first day ``test``'s read-out counts."""
        return readout_due_on(dt.date.fromisoformat(test["tested_on"]), self.requirement)


def readout_due_on(tested_on: dt.date, requirement: PatchRequirement | None) -> dt.date:
    """The first day a read-out of a patch fired on ``tested_on`` counts: the read-out delay in whole
    days, rounded up (a 36-hour read-out is read two days later, never the next morning)."""
    hours = requirement.readout_hours if requirement is not None else 0
    return tested_on + dt.timedelta(days=math.ceil(hours / 24))


def patch_problem(
    requirement: PatchRequirement | None, tests: Sequence[Mapping[str, Any]], session_on: dt.date
) -> PatchProblem | None:
    """What a first session on ``session_on`` lacks of the test patch (None: nothing, or no patch required).

    The latest patch (``tests`` newest first) decides: a patch fired since an earlier clear one
    (a new device, new settings) is read before any session, and a reaction is never outweighed
    by an older clear read-out. Its clear read-out counts when it was read on or after its due
    day, on or before the session day, and the session falls within its validity
    (``read_on + valid_days``).
    """
    if requirement is None:
        return None
    if not tests:
        return PatchProblem("none")
    return _problem_of(requirement, tests[0], session_on)


def _problem_of(requirement: PatchRequirement, test: Mapping[str, Any], session_on: dt.date) -> PatchProblem | None:
    tested_on = dt.date.fromisoformat(test["tested_on"])
    due_on = readout_due_on(tested_on, requirement)
    if test["result"] is None:
        return PatchProblem("waiting", tested_on=tested_on, due_on=due_on)
    read_on = dt.date.fromisoformat(test["read_on"])
    expired_on = read_on + dt.timedelta(days=requirement.valid_days)
    days = {"tested_on": tested_on, "read_on": read_on, "due_on": due_on, "expired_on": expired_on}
    if test["result"] != "clear":
        return PatchProblem("reaction", **days)
    if read_on < due_on:
        return PatchProblem("early", **days)
    if read_on > session_on:
        return PatchProblem("after_session", **days)
    if session_on > expired_on:
        return PatchProblem("expired", **days)
    return None


def screening_answers(ruleset: RuleSet, screening: Mapping[str, Any]) -> Answers:
    """A stored screening's answers as the engine reads them, under ``ruleset`` (the procedure's in force).

    Answers the rule file no longer takes (stored under an older file) are left out one by one,
    not all at once, so the answers that decide a patch still count.
    """
    day = facts.answered_on(screening["created_at"], screening.get("confirmed_at"), clinic_zone())
    raw = {key: value for key, value in screening["answers"].items() if key in ruleset.question_by_id}
    for _ in range(2):
        try:
            return clean_answers(ruleset, raw, day, partial=True)
        except InvalidAnswers as error:
            bad = {problem.field for problem in error.problems}
            raw = {key: value for key, value in raw.items() if key not in bad}
    return {}


def screening_patch_requirement(ruleset: RuleSet, screening: Mapping[str, Any]) -> PatchRequirement | None:
    """The test patch the screening's answers require before a course's first session, or None."""
    return patch_requirement(ruleset, screening_answers(ruleset, screening))


def patch_step(db: Database, ruleset: RuleSet, screening: Mapping[str, Any]) -> PatchStep:
    """The patch step of the screening's patient for its procedure."""
    requirement = screening_patch_requirement(ruleset, screening)
    patient_id = screening.get("patient_id")
    tests = storage.list_patch_tests(db, int(patient_id), screening["procedure"]) if patient_id else []
    return PatchStep(requirement, tuple(tests))


def patient_patch(db: Database, ruleset: RuleSet, screening: Mapping[str, Any]) -> dict[str, Any] | None:
    """What the patient's result page says of the test patch: None when the answers require none;
    else the requirement and, on a record the screening's own link proves, the latest patch with
    the day its read-out is due (a match on typed details shows the submitter nothing of the record)."""
    requirement = screening_patch_requirement(ruleset, screening)
    if requirement is None:
        return None
    latest = None
    if storage.link_is_proven(screening):
        tests = storage.list_patch_tests(db, int(screening["patient_id"]), screening["procedure"])
        if tests:
            latest = {**tests[0], "due_on": readout_due_on(dt.date.fromisoformat(tests[0]["tested_on"]), requirement)}
    return {"requirement": requirement, "latest": latest}
