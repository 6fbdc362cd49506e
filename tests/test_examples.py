"""Examples beside the rules, static warnings, and keeping the examples honest
(``check-rules``, ``--strict``, ``--seal``, and refusing to start on a failing example)."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner

from screening.core.examples import seal_line
from screening.core.lint import lint_rules
from screening.core.loader import parse_rules
from screening.core.model import RuleFileError, RuleSet
from tests.helpers import RULES_FILE, build_app, deferral_to_review, line_number, longest_weekly_deferral

RULES_TEXT = RULES_FILE.read_text(encoding="utf-8")

# A small rule file with examples on every boundary: the cheap base of the warning cases.
SMALL = """\
version: "1"
sections:
  - {id: main, title: Main}
questions:
  - {id: dob, role: birth_date, section: main, type: date, text: "Born?"}
  - {id: sore, section: main, type: choice, text: "Sore?", options: [yes, no, unsure]}
  - {id: pill, section: main, type: choice, text: "Pill?", options: [never, stopped, unsure]}
  - {id: pill_on, section: main, type: date, text: "When?", show_if: {pill: stopped}}
procedures:
- id: laser
  name: Laser
  description: Light pulses.
  course: 4-6 sessions.
  rules:
  - id: sore
    when: {sore: yes}
    outcome: deferred
    rescreen: {weeks: 2}
    patient: Later.
    practitioner: Sore.
    source: Clinic
  - id: pill_recent
    when: {pill: stopped, pill_on: {within_months: 6}}
    outcome: deferred
    rescreen: {months: 6, after: pill_on}
    patient: Later.
    practitioner: Pill.
    source: Clinic
  - id: minor
    when: {dob: {age_under: 18}}
    outcome: review
    patient: We will check.
    practitioner: Minor.
    source: Clinic
  - id: unsure_catch_all
    when: {any_answer: unsure}
    outcome: review
    patient: We will check.
    practitioner: Unsure.
    source: Policy
  examples:
    today: "2026-06-15"
    bases:
      clear: {dob: "1990-01-01", sore: "no", pill: never}
    cases:
      - {name: clear, base: clear, expect: eligible}
      - {name: sore, base: clear, answers: {sore: "yes"}, expect: deferred, fired: [sore], rescreen_after: "2026-06-29"}
      - name: pill last day
        base: clear
        answers: {pill: stopped, pill_on: "2025-12-16"}
        expect: deferred
        fired: [pill_recent]
        rescreen_after: "2026-06-16"
      - {name: pill first day after, base: clear, answers: {pill: stopped, pill_on: "2025-12-15"}, expect: eligible}
      - {name: turns 18 tomorrow, base: clear, answers: {dob: "2008-06-16"}, expect: review, fired: [minor]}
      - {name: turns 18 today, base: clear, age: 18, expect: eligible}
      - {name: unsure, base: clear, answers: {sore: unsure}, expect: review, fired: [unsure_catch_all]}
"""


def rule_text(rule_id: str, when: str, outcome: str = "review") -> str:
    """A rule entry for the small file, to add before its examples."""
    return (
        f"  - id: {rule_id}\n    when: {when}\n    outcome: {outcome}\n"
        "    patient: P.\n    practitioner: P.\n    source: S\n"
    )


def with_rule(text: str, rule: str) -> str:
    """``text`` with ``rule`` appended to its rules (just before ``examples:``)."""
    return text.replace("\n  examples:\n", "\n" + rule + "  examples:\n", 1)


def without_case(text: str, name: str) -> str:
    """``text`` without the example called ``name`` (a one-line flow mapping in SMALL)."""
    lines = [line for line in text.splitlines(keepends=True) if not line.startswith(f"      - {{name: {name},")]
    assert len(lines) == text.count("\n") - 1
    return "".join(lines)


def small_warnings(text: str) -> list[str]:
    """The warnings on a small file, without the one about its missing ``reviewed:``."""
    return [w for w in lint_rules(parse_rules(text.encode(), "small.yaml")) if "'reviewed:'" not in w]


# --- The shipped file ----------------------------------------------------------------


def test_shipped_rules_pass_every_example_without_warnings(runner: FlaskCliRunner, ruleset: RuleSet) -> None:
    result = runner.invoke(args=["check-rules", "--strict", str(RULES_FILE)])
    assert result.exit_code == 0, result.stderr
    assert f"{len(ruleset.examples)} example(s) passed; every rule fired at least once." in result.stdout
    assert result.stderr == ""
    assert len(ruleset.examples) >= len(ruleset.rules) // 2
    assert {rule.id for rule in ruleset.rules} <= set().union(*(e.fired for e in ruleset.examples))


@pytest.mark.parametrize("keep_waiting_period", [False, True], ids=["waiting-period-dropped", "waiting-period-left"])
def test_a_changed_outcome_fails_the_examples_that_expect_it(
    runner: FlaskCliRunner, ruleset: RuleSet, tmp_path: Path, keep_waiting_period: bool
) -> None:
    """In the shipped file: the recent tan's outcome deferred → review. A waiting period
    left on the rule is a problem of its own, reported with the examples' failures."""
    rule = longest_weekly_deferral(ruleset)
    path = tmp_path / "copy.yaml"
    text = deferral_to_review(RULES_TEXT, rule, keep_waiting_period=keep_waiting_period)
    path.write_text(text, encoding="utf-8")
    other_deferrals = {r.id for r in ruleset.rules if r.outcome in ("deferred", "ineligible") and r.id != rule.id}
    expected = [e for e in ruleset.examples if rule.id in e.fired and e.status == "deferred"]
    expected = [e for e in expected if not e.fired & other_deferrals]
    assert expected  # the file has examples of this deferral on its own
    problems = [
        f"{path}:{line_number(text, f'        - name: {e.name}')}: example '{e.name}' expected deferred, got review "
        f"(fired: {', '.join(sorted(e.fired))})"
        for e in expected
    ]
    if keep_waiting_period:
        lines = text.splitlines()
        line = next(i for i in range(rule.line, len(lines)) if lines[i].startswith("        rescreen:")) + 1
        problems.insert(0, f"{path}:{line}: rule '{rule.id}': only a deferred rule can have a rescreen period")

    result = runner.invoke(args=["check-rules", str(path)])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [*problems, f"{len(problems)} problem(s) found."]


def test_the_app_refuses_to_start_when_an_example_fails(ruleset: RuleSet, tmp_path: Path) -> None:
    path = tmp_path / "copy.yaml"
    path.write_text(deferral_to_review(RULES_TEXT, longest_weekly_deferral(ruleset)), encoding="utf-8")
    with pytest.raises(RuleFileError) as info:
        build_app(tmp_path, RULES_FILE=str(path))
    assert info.value.problems
    assert all(
        re.match(rf"{re.escape(str(path))}:\d+: example '.+' expected deferred, got review", p)
        for p in info.value.problems
    )


def test_a_rule_needing_a_hidden_follow_up_is_a_warning(
    runner: FlaskCliRunner, ruleset: RuleSet, tmp_path: Path
) -> None:
    """In the shipped file: "never took the acne tablets" with "stopped them less than 6 months ago"."""
    follow_up = next(q for q in ruleset.questions if q.type == "date" and q.show_if is not None)
    assert follow_up.show_if is not None
    (test,) = follow_up.show_if.tests
    trigger = ruleset.question_by_id[test.question]
    other = next(o.value for o in trigger.options if o.value not in test.values and o.value != "unsure")
    rule = rule_text("never_but_stopped", f"{{{trigger.id}: {other}, {follow_up.id}: {{within_months: 6}}}}")
    rule = rule.replace("patient: P.", "patient: {en: P., ru: P.}").replace(
        "practitioner: P.", "practitioner: {en: P., ru: P.}"
    )
    # The default procedure's rules, four columns deeper than the small file's.
    text = RULES_TEXT.replace("\n    examples:\n", "\n" + textwrap.indent(rule, "    ") + "    examples:\n", 1)
    path = tmp_path / "copy.yaml"
    path.write_text(text, encoding="utf-8")
    line = line_number(text, "      - id: never_but_stopped\n")

    result = runner.invoke(args=["check-rules", str(path)])
    strict = runner.invoke(args=["check-rules", "--strict", str(path)])

    warning = (
        f"{path}:{line}: warning: rule 'never_but_stopped' can never fire: it needs an answer to {follow_up.id}, "
        f'which is asked only when {trigger.id} is "{sorted(test.values)[0]}", but it also needs {trigger.id} '
        f'to be "{other}"'
    )
    assert result.exit_code == 0
    assert warning in result.stderr.splitlines()
    assert "example(s) passed" in result.stdout
    assert strict.exit_code == 2
    assert warning in strict.stderr.splitlines()
    assert "refused by --strict" in strict.stderr


# --- Static warnings ---------------------------------------------------------------------

EXTRA_QUESTION = (
    '  - {id: extra, section: main, type: choice, text: "Extra?", options: [yes, no, unsure], required: false}\n'
)
NEVER_SHOWN = '  - {id: later, section: main, type: date, text: "When?", show_if: {sore: yes, any: [{sore: no}]}}\n'


@pytest.mark.parametrize(
    ("change", "anchor", "expected"),
    [
        (
            lambda t: with_rule(t, rule_text("never_but_stopped", "{pill: never, pill_on: {within_months: 6}}")),
            "  - id: never_but_stopped",
            "rule 'never_but_stopped' can never fire: it needs an answer to pill_on, which is asked only when "
            'pill is "stopped", but it also needs pill to be "never"',
        ),
        (
            lambda t: with_rule(t, rule_text("yes_and_no", "{sore: yes, any: [{sore: no}]}")),
            "  - id: yes_and_no",
            "rule 'yes_and_no' can never fire: no alternative of its 'any' can hold: it needs sore to be \"yes\" "
            'and also "no"',
        ),
        (
            lambda t: t.replace("procedures:\n", EXTRA_QUESTION + "procedures:\n", 1),
            "  - {id: extra",
            "question 'extra' is read by no rule and no show_if",
        ),
        (
            lambda t: t.replace("procedures:\n", NEVER_SHOWN + "procedures:\n", 1),
            "  - {id: later",
            "follow-up 'later' can never be shown: its show_if: no alternative of its 'any' can hold: it needs sore "
            'to be "yes" and also "no"',
        ),
        (
            lambda t: t.replace("options: [never, stopped, unsure]", "options: [never, stopped, current, unsure]"),
            "  - {id: pill,",
            "question 'pill': no rule tests and no example answers \"current\"; add an example showing what that "
            "answer gets",
        ),
        (
            lambda t: with_rule(t, rule_text("sore_again", "{sore: yes}")).replace(
                "fired: [sore]", "fired: [sore, sore_again]"
            ),
            "  - id: sore_again",
            "rules 'sore' (deferred) and 'sore_again' (review) have the same condition: sore is \"yes\"",
        ),
        (lambda t: without_case(t, "sore"), "  - id: sore\n", "rule 'sore' is fired by no example"),
        (
            lambda t: without_case(t, "pill first day after"),
            "  - id: pill_recent",
            "rule 'pill_recent': no example on the boundary of pill_on is less than 6 months ago "
            "(the first day it no longer holds)",
        ),
        (
            lambda t: without_case(t, "turns 18 tomorrow"),
            "  - id: minor",
            "rule 'minor': no example on the boundary of dob is less than 18 years ago (the last day it holds)",
        ),
        (
            lambda t: t[: t.index("examples:\n")],
            "version:",
            "the rule file has no examples: add an examples: section (see the README)",
        ),
    ],
    ids=[
        "needs-hidden-follow-up",
        "contradiction",
        "unread-question",
        "follow-up-never-shown",
        "untested-option",
        "same-condition",
        "rule-fired-by-no-example",
        "boundary-outside",
        "boundary-inside",
        "no-examples",
    ],
)
def test_static_warnings_name_their_line(change: Callable[[str], str], anchor: str, expected: str) -> None:
    text = change(SMALL)
    assert f"small.yaml:{line_number(text, anchor)}: warning: {expected}" in small_warnings(text)


def test_the_small_file_has_no_warnings_but_its_missing_review() -> None:
    assert small_warnings(SMALL) == []
    assert lint_rules(parse_rules(SMALL.encode(), "small.yaml")) == [
        f"small.yaml:{line_number(SMALL, 'examples:')}: warning: the examples have no 'reviewed:' entry: "
        "check them, then add the one check-rules --seal prints"
    ]


# --- Bad input: a file:line error and exit code 2 ----------------------------------------------


@pytest.mark.parametrize(
    ("change", "anchor", "message"),
    [
        (
            lambda t: t.replace("answers: {sore: unsure}", "answers: {soar: unsure}"),
            "{soar",
            "example 'unsure' names an unknown question 'soar'",
        ),
        (
            lambda t: t.replace("base: clear, expect: eligible}", "base: clear, expect: fine}"),
            "expect: fine",
            "example 'clear' expects 'fine'; use one of: eligible, review, deferred, ineligible",
        ),
        (
            lambda t: t.replace("{name: clear, base: clear", "{name: clear, base: plain"),
            "base: plain",
            "example 'clear' names an unknown base 'plain'",
        ),
        (
            lambda t: t.replace("fired: [unsure_catch_all]}", "fired: [unsure]}"),
            "fired: [unsure]",
            "example 'unsure' names an unknown rule 'unsure'",
        ),
        (
            lambda t: t.replace('rescreen_after: "2026-06-29"', 'rescreen_after: "2026-06-31"'),
            "2026-06-31",
            "example 'sore' rescreen_after must be a date in the form YYYY-MM-DD, not '2026-06-31'",
        ),
        (
            lambda t: t.replace("cases:\n", "cases:\n      - [not, a, mapping]\n"),
            "[not, a",
            "a case must be a mapping of keys to values",
        ),
        (lambda t: t.replace("  bases:", "  bases: [", 1), "  cases:", "YAML syntax error"),
        (
            lambda t: t.replace("expect: deferred, fired: [sore]", "expect: review, fired: [sore]"),
            "{name: sore,",
            "example 'sore' expected review, got deferred (fired: sore)",
        ),
    ],
    ids=[
        "unknown-question",
        "unknown-status",
        "unknown-base",
        "unknown-rule",
        "bad-date",
        "not-a-mapping",
        "yaml",
        "failing",
    ],
)
def test_bad_examples_are_file_line_errors(
    change: Callable[[str], str], anchor: str, message: str, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    text = change(SMALL)
    path = tmp_path / "small.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["check-rules", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert any(
        line.startswith(f"{path}:{line_number(text, anchor)}: {message}") for line in result.stderr.splitlines()
    ), result.stderr


def test_a_missing_rule_file_exits_2(runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = runner.invoke(args=["check-rules", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'missing.yaml'}: cannot read the rule file" in result.stderr


# --- Keeping the examples honest -------------------------------------------------------------


def test_seal_clears_the_review_warning(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    sealed = runner.invoke(args=["check-rules", "--seal", str(path)])
    seal = sealed.stdout.splitlines()[-1]
    assert seal == seal_line(parse_rules(SMALL.encode(), str(path)))
    # The seal's own indentation is that of a top-level section: here it sits under the procedure.
    path.write_text(SMALL.replace("  examples:\n", f"  examples:\n  {seal}\n"), encoding="utf-8")
    result = runner.invoke(args=["check-rules", "--strict", str(path)])
    assert result.exit_code == 0
    assert result.stderr == ""


def test_examples_edited_without_a_rule_change_are_caught(ruleset: RuleSet) -> None:
    """An expectation edited to match a changed engine: the examples change, the rules do not."""
    example = next(e for e in ruleset.examples if e.fired and e.status == "review")
    start = line_number(RULES_TEXT, f"        - name: {example.name}\n")
    lines = RULES_TEXT.splitlines(keepends=True)
    end = start
    while not lines[end].startswith("        - name:"):
        end += 1
    text = "".join([*lines[: start - 1], *lines[end:]])  # the example dropped, as if it no longer held
    review_line = line_number(text, "  reviewed:")
    assert lint_rules(parse_rules(text.encode(), "copy.yaml")) == [
        f"copy.yaml:{review_line}: warning: the examples changed but the rules did not: was an expectation "
        "edited to match a changed engine? Put the examples back, or if the change is right, re-seal with "
        "check-rules --seal"
    ]


def test_a_rule_change_asks_for_the_examples_to_be_reviewed(ruleset: RuleSet) -> None:
    """Same dates, other words: 8 weeks become 56 days; the examples pass, the rules changed."""
    rule = longest_weekly_deferral(ruleset)
    assert rule.rescreen is not None
    weeks = f"        rescreen: {{weeks: {rule.rescreen.amount}}}\n"
    lines = RULES_TEXT.splitlines(keepends=True)
    index = lines.index(weeks, rule.line)
    lines[index] = f"        rescreen: {{days: {rule.rescreen.amount * 7}}}\n"
    text = "".join(lines)
    assert lint_rules(parse_rules(text.encode(), "copy.yaml")) == [
        f"copy.yaml:{line_number(text, '  reviewed:')}: warning: the rules changed since the examples were "
        "reviewed: check them, then re-seal with check-rules --seal"
    ]
    # Texts are not what the rules decide: editing one needs no new review.
    patient = next(line for line in lines[rule.line :] if line.startswith("            "))
    assert (
        lint_rules(parse_rules(RULES_TEXT.replace(patient, patient.rstrip() + " Thanks.\n", 1).encode(), "c.yaml"))
        == []
    )


def flag_changed(text: str, question_id: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced by ``new`` in one question's entry."""
    start = text.index(f"  - id: {question_id}\n")
    end = text.find("\n  - id: ", start + 1)
    assert old in text[start:end], text[start:end]
    return text[:start] + text[start:end].replace(old, new, 1) + text[end:]


# (question, old, new): each copy still loads; what a returning patient is offered changed.
FLAG_CHANGES = [
    ("implants", "    carry_over: true\n", "    time_sensitive: true\n"),
    ("concerns", "    carry_over: true\n", ""),
    ("herpes_history", "    lifelong: true\n", ""),
    ("keloids", "    carry_over: true\n", "    carry_over: true\n    lifelong: true\n"),
    ("recent_tan", "    time_sensitive: true\n", ""),
]


@pytest.mark.parametrize(
    ("question", "old", "new"), FLAG_CHANGES, ids=[f"{c[0]}: {c[1].strip()}" for c in FLAG_CHANGES]
)
def test_a_carry_over_flag_change_breaks_the_seal(question: str, old: str, new: str) -> None:
    """The seal covers carry_over, time_sensitive and lifelong: a flag changed alone asks for a review."""
    text = flag_changed(RULES_TEXT, question, old, new)
    changed = parse_rules(text.encode(), "copy.yaml")
    assert lint_rules(changed) == [
        f"copy.yaml:{line_number(text, '  reviewed:')}: warning: the rules changed since the examples were "
        "reviewed: check them, then re-seal with check-rules --seal"
    ]
    assert seal_line(changed) != seal_line(parse_rules(RULES_TEXT.encode(), "rules.yaml"))
