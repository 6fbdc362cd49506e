"""The rule set as frozen dataclasses: what ``loader`` builds from the rule file."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

OUTCOMES = ("eligible", "review", "deferred", "ineligible")
# Worst last: the verdict is the highest-ranked outcome among fired rules.
OUTCOME_RANK = {name: rank for rank, name in enumerate(OUTCOMES)}
# A rule with the outcome "note" never changes the verdict: it is not ranked,
# and the engine returns it in ``Verdict.notes``, apart from the reasons.
NOTE = "note"
RULE_OUTCOMES = (*OUTCOMES, NOTE)
QUESTION_TYPES = ("choice", "date", "multi")
RESCREEN_UNITS = ("days", "weeks", "months")
DATE_TESTS = ("age_under", "within_days", "within_weeks", "within_months")
RESERVED_KEYS = ("any", "any_answer")
# Names the questionnaire form uses for the patient's details and signature.
RESERVED_IDS = (
    *RESERVED_KEYS,
    "patient_name",
    "email",
    "phone",
    "consent",
    "signature",
    "patient_signature",  # the day-of-session forms' field
    "csrf_token",
    "answers",
    "patient",
)
UNSURE = "unsure"
# In a multi question that rules read, the option that says "none of these
# apply"; it cannot be ticked together with another option.
NONE_OPTION = "none"
# What code needs to know about a question, declared in the rule file with
# ``role:`` rather than by id: the role and the question type it needs.
ROLES = {
    "birth_date": "date",  # ages, the patient's date of birth in exports and FHIR
    "treatment_goals": "multi",  # what the patient hopes to improve, shown to staff
    "skin_type": "choice",  # the Fitzpatrick skin type: protocol ranges, test patches
}
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

# Answers by question id, in canonical form (dates as ``datetime.date``).
Answers = dict[str, Any]


class UnknownProcedure(LookupError):
    """A procedure id that the rule file does not declare."""

    def __init__(self, procedure: str, known: tuple[str, ...]):
        self.procedure = procedure
        self.known = known
        super().__init__(f"unknown procedure {procedure!r}; the rule file declares: {', '.join(known)}")


class RuleFileError(Exception):
    """The rule file cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


# --- Conditions --------------------------------------------------------------


@dataclass(frozen=True)
class Test:
    """One test on one answer: equality, membership or a date comparison."""

    question: str
    values: frozenset[str] = frozenset()
    date_test: str | None = None
    amount: int = 0

    @property
    def unit(self) -> str | None:
        """For a waiting-period test, its unit ("days", "weeks", "months"); else None."""
        if self.date_test and self.date_test.startswith("within_"):
            return self.date_test.removeprefix("within_")
        return None


@dataclass(frozen=True)
class Condition:
    """All ``tests`` hold, each ``any_of`` group has one holding condition,
    and, if set, some answer equals ``any_answer``."""

    tests: tuple[Test, ...] = ()
    any_of: tuple[tuple[Condition, ...], ...] = ()
    any_answer: str | None = None

    def questions(self) -> set[str]:
        """Question ids this condition reads (``any_answer`` reads all)."""
        ids = {t.question for t in self.tests}
        for group in self.any_of:
            for cond in group:
                ids |= cond.questions()
        return ids


# --- Rule set ----------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One allowed answer of a choice question."""

    value: str
    label: Mapping[str, str]
    # The points of this answer in a scored self-assessment (``score:``), None elsewhere.
    score: int | None = None


@dataclass(frozen=True)
class Recheck:
    """``recheck:`` of a question: which change of a recent answer by the same patient a
    practitioner must look at, and for how many days the earlier answer stays comparable.

    A choice question: the earlier answer was one of ``from_values`` and the new one is one
    of ``to_values`` (any other answer when none is declared). A multi question: the earlier
    answer held a value of ``from_values`` that the new one lacks (and, when ``to_values`` is
    declared, the new one holds one of them). A date question (``moved``): the date changed.
    """

    within_days: int
    from_values: frozenset[str] = frozenset()
    to_values: frozenset[str] = frozenset()
    moved: bool = False
    line: int = 0

    def describe(self) -> str:
        """The declaration in words, for the review seal."""
        if self.moved:
            return f"moved within {self.within_days} days"
        return f"{sorted(self.from_values)} to {sorted(self.to_values)} within {self.within_days} days"


@dataclass(frozen=True)
class RecheckReview:
    """``recheck_review:`` of the rule file: the reason a screening goes to review when a
    patient proven to be the same person changed a recent answer (see ``core.history``)."""

    id: str
    patient: Mapping[str, str]
    practitioner: Mapping[str, str]
    source: str
    line: int


@dataclass(frozen=True)
class Question:
    """One question of the questionnaire."""

    id: str
    section: str
    type: str
    text: Mapping[str, str]
    help: Mapping[str, str] | None
    options: tuple[Option, ...]
    required: bool
    show_if: Condition | None
    line: int
    role: str | None = None
    # Why the question needs no "unsure" option although a rule reads it
    # (``unsure_exempt:`` in the rule file); None when it offers one or no rule reads it.
    unsure_exempt: str | None = None
    # Offered pre-filled, for the patient to confirm, on a returning patient's
    # next screening (``carry_over: true``); ``time_sensitive: true`` says an
    # answer goes stale, so it may never carry over (see ``core.carry_over``).
    carry_over: bool = False
    time_sensitive: bool = False
    # Which change of the same patient's recent answer a practitioner must decide on
    # (``recheck:``, see ``core.history``); None when no change counts.
    recheck: Recheck | None = None
    # ``lifelong: true``: the answer is lifelong history (a date of birth,
    # "ever had"), so it may carry over even when a deferring or excluding rule reads it.
    lifelong: bool = False

    @cached_property
    def option_values(self) -> frozenset[str]:
        """The values a patient may choose (computed once: validation asks often)."""
        return frozenset(o.value for o in self.options)


@dataclass(frozen=True)
class Section:
    """A titled group of questions; the questionnaire shows sections in
    file order, each question under the section it names."""

    id: str
    title: Mapping[str, str]


@dataclass(frozen=True)
class Rescreen:
    """When to screen again after a deferral: an amount of time, counted
    from the screening day or from a date answer."""

    unit: str
    amount: int
    after: str | None = None

    def describe(self) -> str:
        """The period in words."""
        start = f"after {self.after}" if self.after else "after screening"
        return f"{self.amount} {self.unit} {start}"


@dataclass(frozen=True)
class Coding:
    """A code from a clinical code system (SNOMED CT, ...) for a rule's finding."""

    system: str
    code: str
    display: str


@dataclass(frozen=True)
class Rule:
    """A contraindication rule: when ``condition`` holds, ``outcome`` applies
    (or, for the outcome "note", advice for the session that leaves the verdict alone)."""

    id: str
    condition: Condition
    outcome: str
    patient: Mapping[str, str]
    practitioner: Mapping[str, str]
    rescreen: Rescreen | None
    source: str
    line: int
    code: Coding | None = None

    @property
    def is_note(self) -> bool:
        """A note for the session: it never changes the verdict."""
        return self.outcome == NOTE


@dataclass(frozen=True)
class Band:
    """One band of a score: a total up to ``max`` (None: any higher total) gives ``value``."""

    max: int | None
    value: str


@dataclass(frozen=True)
class Score:
    """``scores:`` of the rule file: a question whose "unsure" answer (``when``) is computed
    from a scored set of follow-up questions, their total giving ``value`` by ``bands``."""

    id: str
    computes: str
    when: str
    items: tuple[str, ...]
    bands: tuple[Band, ...]
    source: str
    line: int

    def band_value(self, total: int) -> str:
        """The value the ``total`` gives (the bands run upwards; the last one takes the rest)."""
        for band in self.bands:
            if band.max is None or total <= band.max:
                return band.value
        return self.bands[-1].value


@dataclass(frozen=True)
class PatchRule:
    """One entry of a procedure's ``patch_test:``: when ``condition`` holds (None: always), a test
    patch must be read ``readout_hours`` after it is fired and a clear read-out stays valid
    for ``valid_days``."""

    condition: Condition | None
    readout_hours: int
    valid_days: int
    source: str
    line: int


@dataclass(frozen=True)
class PatchRequirement:
    """The test patch a patient needs before a course's first session (``core.patch``)."""

    readout_hours: int  # the earliest read-out after the patch is fired
    valid_days: int  # how long a clear read-out counts, from the day it was read
    source: str
    line: int  # the ``patch_test`` entry's line in the rule file

    @property
    def readout(self) -> dt.timedelta:
        """The read-out delay as a time span."""
        return dt.timedelta(hours=self.readout_hours)


@dataclass(frozen=True)
class Procedure:
    """What the patient is being screened for."""

    name: Mapping[str, str]
    description: Mapping[str, str]
    course: Mapping[str, str]
    preparation: tuple[Mapping[str, str], ...]
    aftercare: tuple[Mapping[str, str], ...]
    # A course's default plan (``planned_sessions:``, ``interval_weeks:``).
    planned_sessions: int = 6
    interval_weeks: int = 4
    # The procedure's id in the rule file (``procedures: - id:``).
    id: str = ""
    # Test patches the procedure requires, first match wins (``patch_test:``).
    patch_test: tuple[PatchRule, ...] = ()


@dataclass(frozen=True)
class Example:
    """An answer set kept beside the rules with the verdict it must get
    (``examples:`` in the rule file); the loader runs every one."""

    name: str
    line: int
    answers: Mapping[str, Any]  # raw answers: the base set with the example's changes
    today: dt.date
    status: str
    fired: frozenset[str]  # every rule that fires, notes included
    rescreen_after: dt.date | None
    # The line of ``fired`` and ``rescreen_after`` where the example gives them, so such a
    # failure names the line of the value that no longer holds.
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TextSource:
    """A text of the rule file as written (before its placeholders are rendered): where it
    is, whose it is, the numbers it states itself and the rules whose period it names."""

    line: int
    language: str
    owner_kind: str  # "rule", "question", or "" (the procedure, sections, option sets)
    owner_id: str
    stated: str  # the text with its placeholders taken out
    named: frozenset[str]  # rule ids named by {period} / {period:rule_id}


@dataclass(frozen=True)
class ExamplesReview:
    """``examples: reviewed:``: the fingerprints of the rules and of the
    examples when someone last checked the examples against the rules."""

    rules: str
    examples: str
    line: int


@dataclass(frozen=True)
class RuleSet:
    """One procedure of a validated rule file: its questions (those it asks), rules and examples."""

    path: str
    version: str
    digest: str
    languages: tuple[str, ...]
    procedure: Procedure
    sections: tuple[Section, ...]
    questions: tuple[Question, ...]
    rules: tuple[Rule, ...]
    question_by_id: Mapping[str, Question] = field(repr=False)
    roles: Mapping[str, str] = field(default_factory=dict)
    examples: tuple[Example, ...] = ()
    examples_review: ExamplesReview | None = None
    # The line of the ``examples:`` section (0 when the file has none).
    examples_line: int = 0
    # The reason a proven returning patient's changed answers give (``recheck_review:``).
    recheck_review: RecheckReview | None = None
    # Every text as written, for ``lint``'s check of numbers that differ from the periods.
    texts: tuple[TextSource, ...] = field(default=(), repr=False, compare=False)
    # The computed questions of the questionnaire (``scores:``) whose question this procedure asks.
    scores: tuple[Score, ...] = ()

    def role_question(self, role: str) -> str | None:
        """The id of the question that plays ``role`` (see ``ROLES``), if any."""
        return self.roles.get(role)

    def role_answer(self, role: str, answers: Mapping[str, Any]) -> Any:
        """The answer to the question that plays ``role``, or None."""
        question_id = self.roles.get(role)
        return answers.get(question_id) if question_id else None

    @property
    def full_version(self) -> str:
        """The version plus the first 12 hex digits of the file's SHA-256."""
        return f"{self.version}+{self.digest[:12]}"


@dataclass(frozen=True, eq=False)
class RuleBook:
    """The whole rule file: every procedure's ``RuleSet``, in file order, and the default one."""

    path: str
    version: str
    digest: str
    languages: tuple[str, ...]
    procedures: Mapping[str, RuleSet]
    default: str
    # Every question and section of the file, in file order (each procedure asks some of them).
    questions: tuple[Question, ...] = ()
    sections: tuple[Section, ...] = ()
    # The questionnaires of several procedures answered at once, built once per choice.
    _combined: dict[tuple[str, ...], RuleSet] = field(default_factory=dict, repr=False, compare=False)

    @property
    def full_version(self) -> str:
        """The version plus the first 12 hex digits of the file's SHA-256."""
        return f"{self.version}+{self.digest[:12]}"

    def get(self, procedure: str | None = None) -> RuleSet:
        """The procedure's rule set (the default's for None); raise ``UnknownProcedure``."""
        key = self.default if procedure is None else procedure
        if key not in self.procedures:
            raise UnknownProcedure(key, tuple(self.procedures))
        return self.procedures[key]

    def combined(self, ids: tuple[str, ...] | list[str]) -> RuleSet:
        """One questionnaire for a patient who chooses the procedures ``ids``: the union of their
        questions and scores, in file order, with no rules (each procedure is evaluated on the
        answers cleaned for it: ``engine.screen_each``); raise ``UnknownProcedure``."""
        chosen = tuple(dict.fromkeys(ids))
        parts = [self.get(procedure) for procedure in chosen]
        if not parts:
            raise UnknownProcedure("", tuple(self.procedures))
        if len(parts) == 1:
            return parts[0]
        cached = self._combined.get(chosen)
        if cached is not None:
            return cached
        wanted = {q.id for part in parts for q in part.questions}
        questions = tuple(q for q in self.questions if q.id in wanted)
        section_ids = {q.section for q in questions}
        scores = tuple({s.id: s for part in parts for s in part.scores}.values())
        roles: dict[str, str] = {}
        for part in parts:
            roles.update(part.roles)
        combined = replace(
            parts[0],
            sections=tuple(section for section in self.sections if section.id in section_ids),
            questions=questions,
            rules=(),
            question_by_id={q.id: q for q in questions},
            roles=roles,
            examples=(),
            examples_review=None,
            examples_line=0,
            scores=scores,
        )
        self._combined[chosen] = combined
        return combined


def pick_text(text: Mapping[str, str] | None, language: str) -> str:
    """Return ``text`` in ``language``, falling back to the first language."""
    if not text:
        return ""
    return text.get(language) or next(iter(text.values()))
