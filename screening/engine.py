"""Pure evaluation of answers against a rule set: no Flask, no I/O.

``screen(ruleset, answers, today)`` validates raw answers (from the form, the
API or the CLI alike), drops follow-ups that were not shown, and returns the
``Verdict``. Everything here depends only on its arguments, so the same
answers on the same day always give the same verdict.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .rules import OUTCOME_RANK, Condition, Question, Rescreen, RuleSet, Test, pick_text

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EARLIEST_DATE = dt.date(1900, 1, 1)

Answers = dict[str, Any]

MESSAGES = {
    "unknown_question": "is not a question of this questionnaire",
    "required": "needs an answer",
    "invalid_option": "must be one of: {options}",
    "invalid_date": "must be a date in the form YYYY-MM-DD",
    "future_date": "cannot be in the future",
    "too_early": "must be after 1900-01-01",
    "not_a_list": "must be a list of options",
}


@dataclass(frozen=True)
class AnswerError:
    """One problem with one answer; ``code`` lets callers translate it."""

    field: str
    code: str
    params: Mapping[str, str]

    @property
    def message(self) -> str:
        """The problem in English."""
        return MESSAGES[self.code].format(**self.params)


class InvalidAnswers(Exception):
    """The answers cannot be evaluated; ``problems`` names every bad field."""

    def __init__(self, problems: list[AnswerError]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))

    @property
    def errors(self) -> dict[str, list[str]]:
        """Messages grouped by field, in English."""
        grouped: dict[str, list[str]] = {}
        for problem in self.problems:
            grouped.setdefault(problem.field, []).append(problem.message)
        return grouped


@dataclass(frozen=True)
class Reason:
    """A rule that fired, with the answers that made it fire."""

    rule: str
    outcome: str
    questions: tuple[str, ...]
    patient: Mapping[str, str]
    practitioner: Mapping[str, str]
    source: str
    rescreen_after: dt.date | None

    def as_dict(self, language: str | None = None) -> dict[str, Any]:
        """JSON-ready form; texts in ``language``, or every language if None."""
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "questions": list(self.questions),
            "patient": dict(self.patient) if language is None else pick_text(self.patient, language),
            "practitioner": dict(self.practitioner) if language is None else pick_text(self.practitioner, language),
            "source": self.source,
            "rescreen_after": self.rescreen_after.isoformat() if self.rescreen_after else None,
        }


@dataclass(frozen=True)
class Verdict:
    """The outcome of a screening."""

    status: str
    reasons: tuple[Reason, ...]
    rescreen_after: dt.date | None
    rules_version: str
    answers: Answers

    def as_dict(self, language: str | None = None) -> dict[str, Any]:
        """JSON-ready form, as the CLI and the API print it."""
        return {
            "status": self.status,
            "reasons": [r.as_dict(language) for r in self.reasons],
            "rescreen_after": self.rescreen_after.isoformat() if self.rescreen_after else None,
            "rules_version": self.rules_version,
        }


# --- Dates ---------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months, clamped to the month's last day (31 Aug + 6 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def age_on(birth: dt.date, today: dt.date) -> int:
    """Completed years; someone born on 29 February turns a year older on 1 March."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def shift_date(day: dt.date, unit: str, amount: int) -> dt.date:
    """``day`` plus ``amount`` days, weeks or months."""
    if unit == "months":
        return add_months(day, amount)
    return day + dt.timedelta(days=amount * (7 if unit == "weeks" else 1))


# --- Validation ------------------------------------------------------------


def _parse_answer(question: Question, value: Any, today: dt.date, problems: list[AnswerError]) -> Any:
    """The answer in canonical form, or None (with a problem) when it is unusable."""
    if question.type == "multi":
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            problems.append(AnswerError(question.id, "not_a_list", {}))
            return None
        allowed = question.option_values
        bad = [v for v in values if v not in allowed]
        if bad:
            options = ", ".join(o.value for o in question.options)
            problems.append(AnswerError(question.id, "invalid_option", {"options": options}))
            return None
        # Keep the questionnaire's order and drop repeats.
        return [o.value for o in question.options if o.value in values]
    if question.type == "date":
        if not isinstance(value, str) or not ISO_DATE.match(value):
            problems.append(AnswerError(question.id, "invalid_date", {}))
            return None
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            problems.append(AnswerError(question.id, "invalid_date", {}))
            return None
        if day > today:
            problems.append(AnswerError(question.id, "future_date", {}))
            return None
        if day < EARLIEST_DATE:
            problems.append(AnswerError(question.id, "too_early", {}))
            return None
        return day
    if not isinstance(value, str) or value not in question.option_values:
        options = ", ".join(o.value for o in question.options)
        problems.append(AnswerError(question.id, "invalid_option", {"options": options}))
        return None
    return value


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def clean_answers(ruleset: RuleSet, raw: Mapping[str, Any], today: dt.date) -> Answers:
    """Validate raw answers and drop follow-ups that were not shown.

    Returns answers in canonical form (dates as ``datetime.date``); raises
    ``InvalidAnswers`` naming every bad field.
    """
    problems: list[AnswerError] = []
    if not isinstance(raw, Mapping):
        raise InvalidAnswers([AnswerError("answers", "not_a_list", {})])
    by_id = ruleset.question_by_id
    for key in raw:
        if key not in by_id:
            problems.append(AnswerError(str(key), "unknown_question", {}))
    parsed: Answers = {}
    answer_problems: dict[str, list[AnswerError]] = {}
    for question in ruleset.questions:
        value = raw.get(question.id)
        if not _is_blank(value):
            found: list[AnswerError] = []
            result = _parse_answer(question, value, today, found)
            if found:
                answer_problems[question.id] = found
            else:
                parsed[question.id] = result

    visible: dict[str, bool] = {}

    def is_visible(question: Question) -> bool:
        # A follow-up is shown only if its trigger holds and every question
        # the trigger reads is itself shown (rule loading rejects loops).
        if question.id not in visible:
            condition = question.show_if
            visible[question.id] = condition is None or (
                all(is_visible(by_id[q]) for q in condition.questions())
                and match_condition(condition, parsed, today) is not None
            )
        return visible[question.id]

    answers: Answers = {}
    for question in ruleset.questions:
        # Answers to follow-ups that were not shown are dropped unread.
        if not is_visible(question):
            continue
        if question.id in answer_problems:
            problems.extend(answer_problems[question.id])
        elif question.id in parsed:
            answers[question.id] = parsed[question.id]
        elif question.required:
            problems.append(AnswerError(question.id, "required", {}))
    if problems:
        raise InvalidAnswers(problems)
    return answers


# --- Evaluation --------------------------------------------------------------


def _match_test(test: Test, answers: Answers, today: dt.date) -> bool:
    value = answers.get(test.question)
    if value is None:
        return False
    if test.date_test is None:
        if isinstance(value, list):
            return not test.values.isdisjoint(value)
        return value in test.values
    if test.date_test == "age_under":
        return bool(age_on(value, today) < test.amount)
    unit = test.date_test.removeprefix("within_")
    return bool(shift_date(value, unit, test.amount) > today)


def match_condition(condition: Condition, answers: Answers, today: dt.date) -> tuple[str, ...] | None:
    """The ids of the answers that make ``condition`` hold, or None if it does not."""
    fired: list[str] = []
    for test in condition.tests:
        if not _match_test(test, answers, today):
            return None
        fired.append(test.question)
    for group in condition.any_of:
        held = False
        for sub in group:
            ids = match_condition(sub, answers, today)
            if ids is not None:
                held = True
                fired.extend(ids)
        if not held:
            return None
    if condition.any_answer is not None:
        matching = [qid for qid, value in answers.items() if value == condition.any_answer]
        if not matching:
            return None
        fired.extend(matching)
    return tuple(dict.fromkeys(fired))


def _rescreen_date(rescreen: Rescreen | None, answers: Answers, today: dt.date) -> dt.date | None:
    if rescreen is None:
        return None
    start = answers.get(rescreen.after, today) if rescreen.after else today
    return shift_date(start, rescreen.unit, rescreen.amount)


def evaluate(ruleset: RuleSet, answers: Answers, today: dt.date) -> Verdict:
    """The verdict for answers already cleaned by ``clean_answers``."""
    reasons = []
    worst = "eligible"
    for rule in ruleset.rules:
        ids = match_condition(rule.condition, answers, today)
        if ids is None:
            continue
        if OUTCOME_RANK[rule.outcome] > OUTCOME_RANK[worst]:
            worst = rule.outcome
        reasons.append(
            Reason(
                rule=rule.id,
                outcome=rule.outcome,
                questions=ids,
                patient=rule.patient,
                practitioner=rule.practitioner,
                source=rule.source,
                rescreen_after=_rescreen_date(rule.rescreen, answers, today),
            )
        )
    deferrals = [r.rescreen_after for r in reasons if r.outcome == "deferred"]
    # An undated deferral (pregnancy, say) means no date can be promised, and
    # an ineligible patient must not be handed a date to come back on.
    dated = [d for d in deferrals if d is not None]
    rescreen_after = max(dated) if dated and len(dated) == len(deferrals) and worst != "ineligible" else None
    return Verdict(
        status=worst,
        reasons=tuple(reasons),
        rescreen_after=rescreen_after,
        rules_version=ruleset.full_version,
        answers=answers,
    )


def screen(ruleset: RuleSet, raw_answers: Mapping[str, Any], today: dt.date) -> Verdict:
    """Validate ``raw_answers`` and evaluate them; raise ``InvalidAnswers``."""
    return evaluate(ruleset, clean_answers(ruleset, raw_answers, today), today)


def answers_to_json(answers: Answers) -> dict[str, Any]:
    """Answers with dates as ISO strings, for storage and export."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in answers.items()}
