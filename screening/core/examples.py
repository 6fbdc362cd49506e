"""Examples kept beside the rules: answer sets with the verdict each must get.

The ``examples:`` section of the rule file names base answer sets, the
screening day, and cases (a base plus changes, an age or a day of their own,
the expected status, fired rules and re-screen date). The loader runs every
case and refuses the file when one fails, so an edit that changes what the
rules decide cannot go live unnoticed.

``reviewed:`` keeps the examples honest: it records a fingerprint of what the
rules decide and one of the examples. If the examples change while the rules
did not, an expectation was edited to match the engine, not the rules (a
warning, and a failing test for the shipped file).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .answers import InvalidAnswers, clean_answers
from .checker import Checker
from .conditions import describe_condition
from .dates import years_before
from .engine import evaluate
from .model import OUTCOMES, Example, ExamplesReview, RuleSet
from .yaml_lines import LineDict

_SECTION_KEYS = ("today", "bases", "cases", "reviewed")
_CASE_KEYS = ("name", "base", "answers", "today", "age", "expect", "fired", "rescreen_after")


def _day(value: Any, line: int, check: Checker, what: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        check.problem(line, f"{what} must be a date in the form YYYY-MM-DD, not {value!r}")
        return None


def _answers(value: Any, line: int, check: Checker, ruleset: RuleSet, what: str) -> dict[str, Any] | None:
    item = check.mapping(value, line, f"{what} answers")
    if item is None:
        return None
    for key in item:
        if key not in ruleset.question_by_id:
            check.problem(item.key_lines[key], f"{what} names an unknown question '{key}'")
    return dict(item)


def build_examples(
    value: Any, line: int, check: Checker, ruleset: RuleSet
) -> tuple[tuple[Example, ...], ExamplesReview | None]:
    """The ``examples:`` section's cases and its ``reviewed:`` fingerprints; problems go to ``check``."""
    section = check.mapping(value, line, "examples")
    if section is None:
        return (), None
    check.unknown_keys(section, _SECTION_KEYS, "examples")
    today = _day(section.get("today", ""), check.line_of(section, "today"), check, "examples today")
    bases: dict[str, dict[str, Any]] = {}
    if "bases" in section:
        raw_bases = check.mapping(section["bases"], check.line_of(section, "bases"), "examples bases")
        for name, answers in (raw_bases or {}).items():
            found = _answers(answers, check.line_of(raw_bases, name), check, ruleset, f"example base '{name}'")
            bases[name] = found or {}
    cases = [_build_case(item, check, ruleset, bases, today) for item in check.entries(section, "cases", "case")]
    names = [case.name for case in cases if case is not None]
    for case in cases:
        if case is not None and names.count(case.name) > 1:
            check.problem(case.line, f"example '{case.name}' has the same name as another example")
    return tuple(case for case in cases if case is not None), _build_review(section, check)


def _build_case(
    item: LineDict, check: Checker, ruleset: RuleSet, bases: Mapping[str, dict[str, Any]], default_day: dt.date | None
) -> Example | None:
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        check.problem(item.line, "an example needs a 'name'")
        return None
    what = f"example '{name}'"
    check.unknown_keys(item, _CASE_KEYS, what)
    answers: dict[str, Any] = {}
    if "base" in item:
        if item["base"] not in bases:
            check.problem(check.line_of(item, "base"), f"{what} names an unknown base '{item['base']}'")
            return None
        answers.update(bases[item["base"]])
    if "answers" in item:
        answers.update(_answers(item["answers"], check.line_of(item, "answers"), check, ruleset, what) or {})
    today = (
        _day(item["today"], check.line_of(item, "today"), check, f"{what} today") if "today" in item else default_day
    )
    status = item.get("expect")
    if status not in OUTCOMES:
        check.problem(check.line_of(item, "expect"), f"{what} expects {status!r}; use one of: {', '.join(OUTCOMES)}")
        return None
    fired = item.get("fired", [])
    known_rules = {rule.id for rule in ruleset.rules}
    if not isinstance(fired, list) or not all(isinstance(rule, str) for rule in fired):
        check.problem(check.line_of(item, "fired"), f"{what}: fired must be a list of rule ids")
        return None
    for rule_id in fired:
        if rule_id not in known_rules:
            check.problem(check.line_of(item, "fired"), f"{what} names an unknown rule '{rule_id}'")
    rescreen = None
    if "rescreen_after" in item:
        rescreen = _day(item["rescreen_after"], check.line_of(item, "rescreen_after"), check, f"{what} rescreen_after")
    if "age" in item and today is not None:
        age, birth_id = item["age"], ruleset.role_question("birth_date")
        if not isinstance(age, int) or isinstance(age, bool) or age < 0:
            check.problem(check.line_of(item, "age"), f"{what}: age must be a whole number of years")
        elif birth_id is None:
            check.problem(check.line_of(item, "age"), f"{what} gives an age, but no question has the role birth_date")
        else:
            # An exact birthday: the patient turned ``age`` on the screening day.
            answers[birth_id] = years_before(today, age).isoformat()
    if today is None:
        return None
    return Example(
        name=name.strip(),
        line=item.line,
        answers=answers,
        today=today,
        status=str(status),
        fired=frozenset(fired),
        rescreen_after=rescreen,
        # A wrong verdict is the example's as a whole: its own line; a wrong list of fired
        # rules or re-screen date: the line of that value.
        lines={key: item.key_lines[key] for key in ("fired", "rescreen_after") if key in item},
    )


def _build_review(section: LineDict, check: Checker) -> ExamplesReview | None:
    if "reviewed" not in section:
        return None
    line = check.line_of(section, "reviewed")
    item = check.mapping(section["reviewed"], line, "examples reviewed")
    if item is None:
        return None
    parts = [item.get(key) for key in ("rules", "examples")]
    if not all(isinstance(part, str) and part for part in parts):
        check.problem(line, "examples reviewed needs {rules: ..., examples: ...} (check-rules --seal prints them)")
        return None
    return ExamplesReview(rules=str(parts[0]), examples=str(parts[1]), line=line)


def run_example(ruleset: RuleSet, example: Example) -> tuple[str, str] | None:
    """Which expectation of ``example`` fails on ``ruleset`` ("answers", "expect", "fired",
    "rescreen_after") and why (without file and line), or None when it passes."""
    what = f"example '{example.name}'"
    try:
        verdict = evaluate(ruleset, clean_answers(ruleset, example.answers, example.today), example.today)
    except InvalidAnswers as error:
        return "answers", f"{what} has answers the questionnaire refuses: {error}"
    fired = {reason.rule for reason in (*verdict.reasons, *verdict.notes)}
    got = f"got {verdict.status} (fired: {', '.join(sorted(fired)) or 'none'})"
    if verdict.status != example.status:
        return "expect", f"{what} expected {example.status}, {got}"
    if fired != example.fired:
        return "fired", f"{what} expected fired: {', '.join(sorted(example.fired)) or 'none'}, {got}"
    if verdict.rescreen_after != example.rescreen_after:
        expected = example.rescreen_after.isoformat() if example.rescreen_after else "none"
        actual = verdict.rescreen_after.isoformat() if verdict.rescreen_after else "none"
        return "rescreen_after", f"{what} expected rescreen_after {expected}, got {actual}"
    return None


def run_examples(ruleset: RuleSet) -> list[str]:
    """Every failing example of ``ruleset`` as ``file:line: ...``."""
    failures = []
    for example in ruleset.examples:
        failure = run_example(ruleset, example)
        if failure:
            key, message = failure
            # The line of the expectation that no longer holds (the example's own when implied).
            failures.append(f"{ruleset.path}:{example.lines.get(key, example.line)}: {message}")
    return failures


def _digest(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def rules_fingerprint(ruleset: RuleSet) -> str:
    """A digest of what the rules decide: questions, options, follow-ups, what a returning
    patient is offered again (carry_over, time_sensitive, lifelong), conditions, outcomes,
    waiting periods and computed answers (not texts, comments or layout)."""
    lines = [
        f"q {q.id} {q.type} {q.required} {sorted(q.option_values)} {describe_condition(q.show_if) if q.show_if else ''}"
        # A carried answer is an answer the patient is not asked afresh: a change of these
        # flags changes what the rules decide on, so it breaks the seal like a changed rule.
        f" carry_over={q.carry_over} time_sensitive={q.time_sensitive} lifelong={q.lifelong}"
        # Which changed answer a practitioner must decide on is what the rules decide too.
        f" recheck={q.recheck.describe() if q.recheck else None}"
        for q in ruleset.questions
    ]
    lines += [
        f"r {r.id} {r.outcome} {describe_condition(r.condition)} {r.rescreen.describe() if r.rescreen else ''}"
        for r in ruleset.rules
    ]
    # A computed answer is decided by its items' points and the bands.
    lines += [
        f"s {s.id} {s.computes} {s.when} {[(b.max, b.value) for b in s.bands]} "
        f"{[(q, [(o.value, o.score) for o in ruleset.question_by_id[q].options]) for q in s.items]}"
        for s in ruleset.scores
    ]
    return _digest(lines)


def examples_fingerprint(ruleset: RuleSet) -> str:
    """A digest of every example: its answers, day and expectations."""
    return _digest(
        [
            json.dumps(
                [
                    e.name,
                    sorted(e.answers.items()),
                    e.today.isoformat(),
                    e.status,
                    sorted(e.fired),
                    str(e.rescreen_after),
                ]
            )
            for e in sorted(ruleset.examples, key=lambda e: e.name)
        ]
    )


def seal_line(ruleset: RuleSet) -> str:
    """The ``reviewed:`` entry to put under ``examples:`` once the examples are checked."""
    return f"  reviewed: {{rules: {rules_fingerprint(ruleset)}, examples: {examples_fingerprint(ruleset)}}}"


def review_warnings(ruleset: RuleSet) -> list[tuple[int, str]]:
    """(line, message) when ``reviewed:`` is missing or no longer matches."""
    review = ruleset.examples_review
    if not ruleset.examples:
        return []
    rules, examples = rules_fingerprint(ruleset), examples_fingerprint(ruleset)
    if review is None:
        return [
            (
                ruleset.examples_line,
                "the examples have no 'reviewed:' entry: check them, then add the one check-rules --seal prints",
            )
        ]
    if review.rules == rules and review.examples != examples:
        return [
            (
                review.line,
                "the examples changed but the rules did not: was an expectation edited to match a changed "
                "engine? Put the examples back, or if the change is right, re-seal with check-rules --seal",
            )
        ]
    if review.rules != rules:
        return [
            (
                review.line,
                "the rules changed since the examples were reviewed: check them, then re-seal with check-rules --seal",
            )
        ]
    return []
