"""Static warnings on a valid rule set: what loads but is probably a mistake.

A rule that can never fire, a follow-up that can never be shown, a question
nothing reads, an answer no rule and no example looks at, two rules with the
same condition and different outcomes, and examples that leave a rule or a
date boundary untested. ``check-rules`` prints them; ``--strict`` refuses them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .answers import clean_answers
from .conditions import describe_condition
from .dates import shift_date, years_before
from .examples import review_warnings
from .model import NONE_OPTION, UNSURE, Answers, Condition, Question, RuleSet, Test, TextSource

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class RuleWarning:
    """One warning at one line of the rule file."""

    line: int
    message: str


def lint_rules(ruleset: RuleSet) -> list[str]:
    """Every warning on ``ruleset`` as ``file:line: warning: ...``, in file order."""
    found = [
        *_never_firing(ruleset),
        *_unread_questions(ruleset),
        *_untested_options(ruleset),
        *_same_condition(ruleset),
        *_example_coverage(ruleset),
        *(RuleWarning(line, message) for line, message in review_warnings(ruleset)),
        *_stale_periods(ruleset),
    ]
    return [f"{ruleset.path}:{w.line}: warning: {w.message}" for w in sorted(found, key=lambda w: w.line)]


def _quoted(values: set[str] | frozenset[str]) -> str:
    return " or ".join(f'"{v}"' for v in sorted(values))


def _contradiction(condition: Condition, ruleset: RuleSet, allowed: dict[str, set[str]]) -> str | None:
    """Why ``condition`` can never hold, or None. ``allowed`` narrows each choice
    answer to the values the condition (and its context) lets it take."""
    by_id = ruleset.question_by_id
    ticked: dict[str, list[frozenset[str]]] = {}
    for test in condition.tests:
        question = by_id[test.question]
        if test.date_test is not None:
            continue
        if question.type == "multi":
            ticked.setdefault(question.id, []).append(test.values)
            continue
        before = allowed.get(question.id, set(question.option_values))
        allowed[question.id] = before & test.values
        if not allowed[question.id]:
            return f"it needs {question.id} to be {_quoted(before)} and also {_quoted(test.values)}"
    for question_id, groups in ticked.items():
        # Each is ticked alone (core.answers): a condition needing it and another option never holds.
        for alone in (NONE_OPTION, UNSURE):
            if frozenset({alone}) in groups and any(alone not in g for g in groups):
                return f'it needs "{alone}" ticked on {question_id} together with another option'
    for test in condition.tests:
        reason = _hidden(by_id[test.question], ruleset, allowed)
        if reason:
            return reason
    for group in condition.any_of:
        reasons = [_contradiction(sub, ruleset, dict(allowed)) for sub in group]
        if all(reasons):
            return "no alternative of its 'any' can hold: " + "; ".join(r for r in reasons if r)
    return None


def _hidden(question: Question, ruleset: RuleSet, allowed: dict[str, set[str]]) -> str | None:
    """Why ``question`` cannot be shown when the answers are narrowed to ``allowed``."""
    seen = set()
    while question.show_if is not None and question.id not in seen:
        seen.add(question.id)
        for test in question.show_if.tests:
            trigger = ruleset.question_by_id[test.question]
            if test.date_test is not None or trigger.type != "choice":
                continue
            before = allowed.get(trigger.id, set(trigger.option_values))
            allowed[trigger.id] = before & test.values
            if not allowed[trigger.id]:
                return (
                    f"it needs an answer to {question.id}, which is asked only when {trigger.id} is "
                    f"{_quoted(test.values)}, but it also needs {trigger.id} to be {_quoted(before)}"
                )
        if len(question.show_if.questions()) != 1:
            break
        question = ruleset.question_by_id[next(iter(question.show_if.questions()))]
    return None


def _never_firing(ruleset: RuleSet) -> Iterator[RuleWarning]:
    for rule in ruleset.rules:
        reason = _contradiction(rule.condition, ruleset, {})
        if reason:
            yield RuleWarning(rule.line, f"rule '{rule.id}' can never fire: {reason}")
    for question in ruleset.questions:
        if question.show_if is None:
            continue
        reason = _contradiction(question.show_if, ruleset, {}) or _hidden(question, ruleset, {})
        if reason:
            yield RuleWarning(question.line, f"follow-up '{question.id}' can never be shown: its show_if: {reason}")


def _tests(condition: Condition) -> Iterator[Test]:
    yield from condition.tests
    for group in condition.any_of:
        for sub in group:
            yield from _tests(sub)


def _read_values(ruleset: RuleSet) -> dict[str, set[str]]:
    """Question id -> the option values some rule or ``show_if`` tests."""
    conditions = [rule.condition for rule in ruleset.rules]
    conditions += [q.show_if for q in ruleset.questions if q.show_if is not None]
    read: dict[str, set[str]] = {}
    for condition in conditions:
        for test in _tests(condition):
            read.setdefault(test.question, set()).update(test.values)
    return read


def _unread_questions(ruleset: RuleSet) -> Iterator[RuleWarning]:
    read = _read_values(ruleset)
    # A score's items are read by the score: their total gives the computed answer.
    scored = {question_id for score in ruleset.scores for question_id in score.items}
    for question in ruleset.questions:
        # A question with a role is read by code (ages, the treatment goals).
        if question.id not in read and question.role is None and question.id not in scored:
            yield RuleWarning(question.line, f"question '{question.id}' is read by no rule and no show_if")


def _example_answers(ruleset: RuleSet) -> list[tuple[Answers, dt.date]]:
    """Each example's clean answers and day (the loader has run them all: they are valid)."""
    return [(clean_answers(ruleset, e.answers, e.today), e.today) for e in ruleset.examples]


def _untested_options(ruleset: RuleSet) -> Iterator[RuleWarning]:
    """An option of a question rules test that no rule tests and no example
    answers: choosing it silently clears the patient, and nobody said so."""
    read = _read_values(ruleset)
    catch_all = {rule.condition.any_answer for rule in ruleset.rules if rule.condition.any_answer}
    answered: dict[str, set[str]] = {}
    for answers, _day in _example_answers(ruleset):
        for question_id, value in answers.items():
            answered.setdefault(question_id, set()).update(value if isinstance(value, list) else [str(value)])
    for question in ruleset.questions:
        if question.id not in read or question.type == "date":
            continue
        covered = read[question.id] | catch_all | answered.get(question.id, set())
        missing = [o.value for o in question.options if o.value not in covered]
        if missing:
            yield RuleWarning(
                question.line,
                f"question '{question.id}': no rule tests and no example answers {_quoted(set(missing))}; "
                "add an example showing what that answer gets",
            )


def _same_condition(ruleset: RuleSet) -> Iterator[RuleWarning]:
    first: dict[str, tuple[str, str]] = {}
    for rule in ruleset.rules:
        words = describe_condition(rule.condition)
        if words in first and first[words][1] != rule.outcome:
            other, outcome = first[words]
            yield RuleWarning(
                rule.line,
                f"rules '{other}' ({outcome}) and '{rule.id}' ({rule.outcome}) have the same condition: {words}",
            )
        first.setdefault(words, (rule.id, rule.outcome))


def _edges(test: Test, answers: Mapping[str, object], today: dt.date) -> set[str]:
    """Which edge of a date test this example sits on: "inside" (the last day
    the test holds) and/or "outside" (the first day it no longer does)."""
    day = answers.get(test.question)
    if not isinstance(day, dt.date):
        return set()
    if test.date_test == "age_under":
        # Turning ``amount`` today is the first day outside; tomorrow, the last inside.
        edges = {"outside"} if day == years_before(today, test.amount) else set()
        return edges | ({"inside"} if day == years_before(today + DAY, test.amount) else set())
    end = shift_date(day, test.unit or "days", test.amount)
    return ({"inside"} if end == today + DAY else set()) | ({"outside"} if end == today else set())


def _example_coverage(ruleset: RuleSet) -> Iterator[RuleWarning]:
    if not ruleset.examples:
        yield RuleWarning(1, "the rule file has no examples: add an examples: section (see the README)")
        return
    fired = set().union(*(e.fired for e in ruleset.examples))
    examples = _example_answers(ruleset)
    for rule in ruleset.rules:
        if rule.id not in fired:
            yield RuleWarning(rule.line, f"rule '{rule.id}' is fired by no example")
        for test in rule.condition.tests:
            if test.date_test is None:
                continue
            edges = set().union(*(_edges(test, answers, today) for answers, today in examples))
            for edge in sorted({"inside", "outside"} - edges):
                day = "the last day it holds" if edge == "inside" else "the first day it no longer holds"
                yield RuleWarning(
                    rule.line,
                    f"rule '{rule.id}': no example on the boundary of {describe_condition(Condition(tests=(test,)))} "
                    f"({day})",
                )


# A number of days, weeks or months a text states in digits ("8 weeks", "8-week", "8 недель").
_STATED = {
    "en": re.compile(r"(\d+)(?:\s+|-)(day|week|month)s?\b", re.IGNORECASE),
    "ru": re.compile(r"(\d+)\s+(д(?:ень|ня|ней)|недел[яиюь]|месяц(?:а|ев)?)(?![а-яё])", re.IGNORECASE),
}
# The unit by the word's first letter, in either language.
_UNIT_OF = {"d": "days", "w": "weeks", "m": "months", "д": "days", "н": "weeks", "м": "months"}


def _days(amount: int, unit: str) -> tuple[str, int]:
    """A period comparable with another: days and weeks in days, months as months."""
    return ("days", amount * 7) if unit == "weeks" else (unit, amount)


def _own_periods(text: TextSource, ruleset: RuleSet) -> dict[tuple[str, int], str]:
    """The periods ``text`` may state (comparable form -> "rule 'x': 8 weeks"): its rule's, for
    a question's text those of the rules that read it and of its date tests, and those of the
    rules it names by placeholder."""
    owners = set(text.named)
    if text.owner_kind == "rule":
        owners.add(text.owner_id)
    periods: dict[tuple[str, int], str] = {}
    for rule in ruleset.rules:
        reads = text.owner_kind == "question" and text.owner_id in rule.condition.questions()
        if rule.id in owners or reads:
            if rule.rescreen is not None:
                unit, amount = rule.rescreen.unit, rule.rescreen.amount
                periods[_days(amount, unit)] = f"rule '{rule.id}': {amount} {unit}"
            for test in _tests(rule.condition) if reads else ():
                if test.question == text.owner_id and test.unit is not None:
                    periods[_days(test.amount, test.unit)] = f"rule '{rule.id}': within {test.amount} {test.unit}"
    return periods


def _stale_periods(ruleset: RuleSet) -> Iterator[RuleWarning]:
    """A number of days, weeks or months a text states that is not the period of the rule (or
    the question's rules) it belongs to: a period changed and the text was left behind."""
    for text in ruleset.texts:
        pattern = _STATED.get(text.language)
        if pattern is None:
            continue
        periods = _own_periods(text, ruleset)
        if not periods:
            continue  # a text of no rule with a waiting period: no period to compare with
        for match in pattern.finditer(text.stated):
            stated = _days(int(match.group(1)), _UNIT_OF[match.group(2)[0].lower()])
            if stated in periods:
                continue
            owner = f"{text.owner_kind} '{text.owner_id}'" if text.owner_kind else "a text"
            yield RuleWarning(
                text.line,
                f'{owner} ({text.language}) says "{match.group(0)}", but the waiting period is '
                f"{'; '.join(sorted(set(periods.values())))}: write {{period}} or {{period:rule_id}} instead",
            )
