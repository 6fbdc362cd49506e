"""Returning patients: which answers carry over (the rule file's contract), the
patient record that links one person's screenings, and the "has anything
changed?" screening that offers the carried answers for confirmation."""

from __future__ import annotations

import textwrap

import pytest

from screening.core.carry_over import window_questions
from screening.core.loader import parse_rules
from screening.core.model import RuleFileError, RuleSet
from tests.helpers import MINIMAL

# --- The rule file's carry_over contract -------------------------------------------


def problems_of(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as info:
        parse_rules(textwrap.dedent(text).encode(), "test.yaml")
    return info.value.problems


# A rule counting a waiting period from the follow-up date (its parent must then offer "unsure").
WINDOW_RULE = """\
  - id: stopped_recently
    when: {stopped_on: {within_months: 6}}
    outcome: deferred
    patient: Come back later.
    practitioner: Stopped recently.
    source: Clinic page
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    type: choice\n    text: Are you pregnant?",
            "    type: choice\n    carry_over: often\n    text: Are you pregnant?",
            "test.yaml:13: question 'pregnant': carry_over must be true or false",
        ),
        (
            "    type: choice\n    text: Are you pregnant?",
            "    type: choice\n    time_sensitive: true\n    carry_over: true\n    text: Are you pregnant?",
            "test.yaml:10: question 'pregnant' is time_sensitive, so it cannot carry_over",
        ),
        (
            "    text: When?",
            "    carry_over: true\n    text: When?",
            "test.yaml:20: question 'stopped_on' is a follow-up of 'stopped', which does not carry_over",
        ),
        (
            "    text: Stopped?",
            "    carry_over: true\n    text: Stopped?",
            None,
        ),
        (
            "rules:\n",
            "rules:\n" + WINDOW_RULE,
            None,
        ),
    ],
)
def test_loader_refuses_carry_over_on_stale_answers(old: str, new: str, expected: str | None) -> None:
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1).replace("[never, stopped]", "[never, stopped, unsure]")
    if expected is None:
        parse_rules(text.encode(), "test.yaml")  # valid on its own
        return
    assert expected in problems_of(text)


def test_loader_refuses_carry_over_on_a_question_read_with_a_waiting_period() -> None:
    text = MINIMAL.replace("rules:\n", "rules:\n" + WINDOW_RULE, 1).replace(
        "[never, stopped]", "[never, stopped, unsure]"
    )
    text = text.replace("    text: Stopped?", "    carry_over: true\n    text: Stopped?", 1)
    text = text.replace("    text: When?", "    carry_over: true\n    text: When?", 1)
    assert problems_of(text) == [
        "test.yaml:21: question 'stopped_on': a rule counts a waiting period from its answer, so it cannot carry_over"
    ]


def test_carry_over_defaults_to_asking_again() -> None:
    ruleset = parse_rules(MINIMAL.encode(), "test.yaml")
    assert not any(q.carry_over or q.time_sensitive for q in ruleset.questions)
    assert (ruleset.procedure.planned_sessions, ruleset.procedure.interval_weeks) == (6, 4)


@pytest.mark.parametrize("value", ["0", "21", "six", "true"])
def test_loader_refuses_a_bad_course_plan(value: str) -> None:
    text = MINIMAL.replace("  course: 4-6 sessions.\n", f"  course: 4-6 sessions.\n  planned_sessions: {value}\n")
    assert problems_of(text) == ["test.yaml:6: procedure planned_sessions must be a whole number from 1 to 20"]


def test_every_carry_over_rule_of_the_shipped_file(ruleset: RuleSet) -> None:
    """Time-sensitive questions never carry over; each carried one is stable by every test the loader knows."""
    windowed = window_questions(ruleset.rules)
    carried = {q.id for q in ruleset.questions if q.carry_over}
    for question in ruleset.questions:
        # Every question says which it is: carried, or stale and asked afresh.
        assert question.carry_over != question.time_sensitive, question.id
        if question.carry_over:
            assert question.id not in windowed, question.id
            parents = question.show_if.questions() if question.show_if else set()
            assert parents <= carried, question.id
    assert windowed.isdisjoint(carried)
    # The examples, both ways.
    assert {"skin_type", "keloids", "implants", "cancer", "date_of_birth"} <= carried
    stale_sections = {"pregnancy", "skin_now", "medicines", "recent_treatments"}
    for question in ruleset.questions:
        if question.section in stale_sections:
            assert question.time_sensitive and not question.carry_over, question.id
    assert {"pregnant", "breastfeeding", "herpes_active", "recent_tan"}.isdisjoint(carried)
