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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .model import NONE_OPTION, OUTCOME_RANK, Condition, Question, Rescreen, Rule, RuleSet, Test, pick_text

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Every date answer must be after this day.
EARLIEST_DATE = dt.date(1900, 1, 1)
# A date of birth more than this many years before the screening day is a typing mistake.
MAX_AGE_YEARS = 110

Answers = dict[str, Any]

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


class Reason(NamedTuple):
    """A rule that fired, with the answers that made it fire (a tuple: cheap to build)."""

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


class Verdict(NamedTuple):
    """The outcome of a screening.

    ``reasons`` are the rules that made ``status``; ``notes`` are the rules
    with the outcome "note" that fired: advice for the session (outcome
    "note", no re-screen date) that never changes ``status``.
    """

    status: str
    reasons: tuple[Reason, ...]
    rescreen_after: dt.date | None
    rules_version: str
    answers: Answers
    # The answers of the questions that play a role (see ``model.ROLES``), by role.
    roles: Mapping[str, Any]
    notes: tuple[Reason, ...] = ()

    def role_json(self, role: str) -> Any:
        """The answer playing ``role``, JSON-ready (dates as ISO strings), or None."""
        value = self.roles.get(role)
        return value.isoformat() if isinstance(value, dt.date) else value

    def as_dict(self, language: str | None = None, *, include_notes: bool = False) -> dict[str, Any]:
        """JSON-ready form, as the CLI and the API print it; ``include_notes`` adds "notes"."""
        data = {
            "status": self.status,
            "reasons": [r.as_dict(language) for r in self.reasons],
            "rescreen_after": self.rescreen_after.isoformat() if self.rescreen_after else None,
            "rules_version": self.rules_version,
        }
        if include_notes:
            data["notes"] = [n.as_dict(language) for n in self.notes]
        return data


# --- Dates ---------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months; a day the month lacks rolls to the 1st of the next.

    31 August + 6 months is 1 March, not 28 February: a waiting period is
    never shorter than the calendar months it names.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    if day.day <= calendar.monthrange(year, month)[1]:
        return dt.date(year, month, day.day)
    return dt.date(year + month // 12, month % 12 + 1, 1)


def age_on(birth: dt.date, today: dt.date) -> int:
    """Completed years; someone born on 29 February turns a year older on 1 March."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier; 29 February becomes 28 February."""
    year = day.year - years
    return dt.date(year, day.month, min(day.day, calendar.monthrange(year, day.month)[1]))


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
        if NONE_OPTION in allowed and NONE_OPTION in values and len(set(values)) > 1:
            problems.append(AnswerError(question.id, "none_and_others", {"none": NONE_OPTION}))
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
    show_if = _compiled(ruleset).show_if
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


# --- Evaluation --------------------------------------------------------------


Matcher = Callable[[Answers, dt.date], "tuple[str, ...] | None"]
TestFn = Callable[[Answers, dt.date], bool]


def _compile_test(test: Test, question_type: str) -> TestFn:
    q = test.question
    if test.date_test is None:
        values = test.values
        if question_type == "multi":
            return lambda a, t: not values.isdisjoint(a.get(q) or ())
        return lambda a, t: a.get(q) in values
    amount = test.amount
    if test.date_test == "age_under":
        return lambda a, t: q in a and age_on(a[q], t) < amount
    unit = test.date_test.removeprefix("within_")
    return lambda a, t: q in a and shift_date(a[q], unit, amount) > t


def compile_condition(condition: Condition, ruleset: RuleSet) -> Matcher:
    """Turn a condition into a function of (answers, today) returning the ids
    of the answers that make it hold, or None.

    Conditions are compiled once per rule set, so evaluating a verdict costs
    little more than a hand-written chain of ifs.
    """
    types = {q.id: q.type for q in ruleset.questions}
    tests = [_compile_test(t, types[t.question]) for t in condition.tests]
    groups = [[compile_condition(c, ruleset) for c in group] for group in condition.any_of]
    static = tuple(dict.fromkeys(t.question for t in condition.tests))
    wanted = condition.any_answer
    multi_offering = [q.id for q in ruleset.questions if q.type == "multi" and wanted in q.option_values]
    if not groups and wanted is None:
        if len(condition.tests) == 1 and condition.tests[0].date_test is None and types[static[0]] != "multi":
            # The common case, inlined: one answer compared with a set of values.
            q, values = static[0], condition.tests[0].values
            return lambda a, t: static if a.get(q) in values else None
        if len(tests) == 1:
            only = tests[0]
            return lambda a, t: static if only(a, t) else None
        return lambda a, t: static if all(f(a, t) for f in tests) else None

    def match(a: Answers, t: dt.date) -> tuple[str, ...] | None:
        for f in tests:
            if not f(a, t):
                return None
        fired = list(static)
        for group in groups:
            held = False
            for sub in group:
                ids = sub(a, t)
                if ids is not None:
                    held = True
                    fired.extend(ids)
            if not held:
                return None
        if wanted is not None:
            matching = [qid for qid, value in a.items() if value == wanted]
            # A ticked option of a multi question counts too.
            matching += [qid for qid in multi_offering if wanted in a.get(qid, ())]
            if not matching:
                return None
            fired.extend(matching)
        return tuple(dict.fromkeys(fired))

    return match


@dataclass(frozen=True)
class _Compiled:
    # (rule, matcher, rank, question, values): for the common one-answer
    # rules, question and values let evaluate test inline, without a call.
    rules: tuple[tuple[Rule, Matcher, int, str | None, frozenset[str]], ...]
    show_if: Mapping[str, Matcher]
    # The rules with the outcome "note", (rule, matcher): they never rank.
    notes: tuple[tuple[Rule, Matcher], ...] = ()


def _single_test(rule: Rule, ruleset: RuleSet) -> tuple[str | None, frozenset[str]]:
    """(question, values) if the rule is just "this answer is one of these values"."""
    condition = rule.condition
    if condition.any_of or condition.any_answer is not None or len(condition.tests) != 1:
        return None, frozenset()
    test = condition.tests[0]
    if test.date_test is not None or ruleset.question_by_id[test.question].type == "multi":
        return None, frozenset()
    return test.question, test.values


# Keyed by id(); the rule set is kept in the value so the id cannot be reused.
_compiled_cache: dict[int, tuple[RuleSet, _Compiled]] = {}


def _compiled(ruleset: RuleSet) -> _Compiled:
    entry = _compiled_cache.get(id(ruleset))
    if entry is None or entry[0] is not ruleset:
        compiled = _Compiled(
            rules=tuple(
                (
                    rule,
                    compile_condition(rule.condition, ruleset),
                    OUTCOME_RANK[rule.outcome],
                    *_single_test(rule, ruleset),
                )
                for rule in ruleset.rules
                if not rule.is_note
            ),
            notes=tuple((rule, compile_condition(rule.condition, ruleset)) for rule in ruleset.rules if rule.is_note),
            show_if={q.id: compile_condition(q.show_if, ruleset) for q in ruleset.questions if q.show_if is not None},
        )
        entry = _compiled_cache[id(ruleset)] = (ruleset, compiled)
    return entry[1]


def _rescreen_date(rescreen: Rescreen | None, answers: Answers, today: dt.date) -> dt.date | None:
    if rescreen is None:
        return None
    start = answers.get(rescreen.after, today) if rescreen.after else today
    return shift_date(start, rescreen.unit, rescreen.amount)


def evaluate(ruleset: RuleSet, answers: Answers, today: dt.date) -> Verdict:
    """The verdict for answers already cleaned by ``clean_answers``."""
    reasons = []
    worst, worst_rank = "eligible", 0
    compiled = _compiled(ruleset)
    for rule, matcher, rank, question, values in compiled.rules:
        if question is not None:
            if answers.get(question) not in values:
                continue
            ids: tuple[str, ...] = (question,)
        else:
            matched = matcher(answers, today)
            if matched is None:
                continue
            ids = matched
        if rank > worst_rank:
            worst, worst_rank = rule.outcome, rank
        # Positional arguments: this is the hot loop of every screening.
        reasons.append(
            Reason(
                rule.id,
                rule.outcome,
                ids,
                rule.patient,
                rule.practitioner,
                rule.source,
                _rescreen_date(rule.rescreen, answers, today) if rule.rescreen else None,
            )
        )
    deferrals = [r.rescreen_after for r in reasons if r.outcome == "deferred"]
    # An undated deferral (pregnancy, say) means no date can be promised, and
    # an ineligible patient must not be handed a date to come back on.
    dated = [d for d in deferrals if d is not None]
    rescreen_after = max(dated) if dated and len(dated) == len(deferrals) and worst != "ineligible" else None
    notes = []
    for rule, matcher in compiled.notes:
        matched = matcher(answers, today)
        if matched is not None:
            notes.append(Reason(rule.id, rule.outcome, matched, rule.patient, rule.practitioner, rule.source, None))
    return Verdict(
        status=worst,
        reasons=tuple(reasons),
        rescreen_after=rescreen_after,
        rules_version=ruleset.full_version,
        answers=answers,
        roles={role: answers.get(question_id) for role, question_id in ruleset.roles.items()},
        notes=tuple(notes),
    )


def screen(ruleset: RuleSet, raw_answers: Mapping[str, Any], today: dt.date) -> Verdict:
    """Validate ``raw_answers`` and evaluate them; raise ``InvalidAnswers``."""
    return evaluate(ruleset, clean_answers(ruleset, raw_answers, today), today)


def answers_to_json(answers: Answers) -> dict[str, Any]:
    """Answers with dates as ISO strings, for storage and export."""
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in answers.items()}
