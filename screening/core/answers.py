"""Raw answers (form, API, CLI alike) to clean ones: every bad field named,
follow-ups that were not shown dropped unread."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .dates import years_before
from .matchers import compiled_rules
from .model import NONE_OPTION, UNSURE, Answers, Question, RuleSet
from .scores import apply_scores

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Every date answer must be after this day.
EARLIEST_DATE = dt.date(1900, 1, 1)
# A date of birth more than this many years before the screening day is a typing mistake.
MAX_AGE_YEARS = 110

MESSAGES = {
    "unknown_question": "is not a question of this questionnaire",
    "required": "needs an answer",
    "invalid_option": "must be one of: {options}",
    "invalid_date": "must be a date in the form YYYY-MM-DD",
    "future_date": "cannot be in the future",
    "too_early": "must be after 1900-01-01",
    "too_old": "is more than {years} years ago: please check the year",
    "before_birth": "cannot be before {birth}, the date of birth",
    "none_and_others": '"{none}" cannot be ticked together with other options',
    "unsure_and_others": '"{unsure}" cannot be ticked together with other options',
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
        if NONE_OPTION in allowed and NONE_OPTION in values and len(set(values)) > 1:
            problems.append(AnswerError(question.id, "none_and_others", {"none": NONE_OPTION}))
            return None
        # "Not sure" of one option is not sure of the list: ticked with another, the answer says two things.
        if UNSURE in allowed and UNSURE in values and len(set(values)) > 1:
            problems.append(AnswerError(question.id, "unsure_and_others", {"unsure": UNSURE}))
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
        if day <= EARLIEST_DATE:
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


def visible_questions(ruleset: RuleSet, answers: Answers, today: dt.date) -> set[str]:
    """The ids of the questions a patient with these (parsed) answers was shown.

    A follow-up is shown only if its trigger holds and every question the
    trigger reads is itself shown (rule loading rejects loops).
    """
    by_id = ruleset.question_by_id
    show_if = compiled_rules(ruleset).show_if
    visible: dict[str, bool] = {}

    def is_visible(question: Question) -> bool:
        if question.id not in visible:
            condition = question.show_if
            visible[question.id] = condition is None or (
                all(is_visible(by_id[q]) for q in condition.questions())
                and show_if[question.id](answers, today) is not None
            )
        return visible[question.id]

    return {q.id for q in ruleset.questions if is_visible(q)}


def clean_answers(ruleset: RuleSet, raw: Mapping[str, Any], today: dt.date, *, partial: bool = False) -> Answers:
    """Validate raw answers and drop follow-ups that were not shown.

    Returns answers in canonical form (dates as ``datetime.date``); raises
    ``InvalidAnswers`` naming every bad field. ``partial`` accepts blank
    required questions (the practitioners' "try it" form); a screening never does.
    """
    problems: list[AnswerError] = []
    if not isinstance(raw, Mapping):
        raise InvalidAnswers([AnswerError("answers", "not_a_list", {})])
    for key in raw:
        if key not in ruleset.question_by_id:
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

    shown = visible_questions(ruleset, parsed, today)
    answers: Answers = {}
    for question in ruleset.questions:
        # Answers to follow-ups that were not shown are dropped unread.
        if question.id not in shown:
            continue
        if question.id in answer_problems:
            problems.extend(answer_problems[question.id])
        elif question.id in parsed:
            answers[question.id] = parsed[question.id]
        elif question.required and not partial:
            problems.append(AnswerError(question.id, "required", {}))
    _check_dates_are_plausible(ruleset, answers, today, problems)
    if problems:
        raise InvalidAnswers(problems)
    # A computed question's "not sure" becomes the band its complete score gives: rules read
    # it like an answered one (an item missing or "not sure" leaves it, for review).
    apply_scores(ruleset.scores, ruleset.question_by_id, answers)
    return answers


def _check_dates_are_plausible(ruleset: RuleSet, answers: Answers, today: dt.date, problems: list[AnswerError]) -> None:
    """A date of birth more than ``MAX_AGE_YEARS`` ago, or another date answer
    before the date of birth, cannot be true: each is an error to correct."""
    birth_id = ruleset.role_question("birth_date")
    birth = answers.get(birth_id) if birth_id else None
    if birth_id is None or not isinstance(birth, dt.date):
        return
    if birth < years_before(today, MAX_AGE_YEARS):
        problems.append(AnswerError(birth_id, "too_old", {"years": str(MAX_AGE_YEARS)}))
        return
    for question in ruleset.questions:
        day = answers.get(question.id)
        if question.type == "date" and question.id != birth_id and isinstance(day, dt.date) and day < birth:
            problems.append(AnswerError(question.id, "before_birth", {"birth": birth_id}))
