"""Returning patients: which answers carry over (the rule file's contract), the
patient record that links one person's screenings, and the "has anything
changed?" screening that offers the carried answers for confirmation."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.core.carry_over import window_questions
from screening.core.loader import parse_rules
from screening.core.model import RuleSet
from tests.helpers import CLEAR_ANSWERS, MINIMAL, execute, page_text, problems_of, query, today
from tests.helpers import PATIENT_FORM as SIGNED_PATIENT_FORM

# --- The rule file's carry_over contract -------------------------------------------


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


# --- "Has anything changed?" -----------------------------------------------------------

PATIENT_FORM = {**SIGNED_PATIENT_FORM, "patient_name": "Anna Example", "signature": "Anna Example"}


def first_visit(client: FlaskClient, app: Flask, **changes: object) -> str:
    """Screen once through the form, then age the screening a month; return the result page's path."""
    response = client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM, **changes})
    assert response.status_code == 303
    month_ago = (today() - dt.timedelta(days=31)).isoformat()
    execute(app, "UPDATE screenings SET created_at = ?", [f"{month_ago}T09:00:00.000000+00:00"])
    return str(response.headers["Location"])


def chosen(html: str, name: str) -> set[str]:
    """The values of the ticked radio buttons or checkboxes called ``name``."""
    values = set()
    for tag in re.findall(r"<input\b[^>]*>", html):
        if f'name="{name}"' in tag and re.search(r"\schecked\b", tag):
            values.add(re.search(r'value="([^"]*)"', tag).group(1))  # type: ignore[union-attr]
    return values


def date_value(html: str, name: str) -> str:
    tag = next(t for t in re.findall(r"<input\b[^>]*>", html) if f'name="{name}"' in t)
    match = re.search(r'value="([^"]*)"', tag)
    return match.group(1) if match else ""


def confirm_all(ruleset: RuleSet) -> dict[str, str]:
    return {f"confirm_{q.section}": "y" for q in ruleset.questions if q.carry_over}


def test_a_returning_patient_gets_stable_answers_to_confirm_and_stale_ones_empty(
    client: FlaskClient, app: Flask, ruleset: RuleSet, doctor: FlaskClient
) -> None:
    result = first_visit(client, app, skin_type="II", implants="yes")
    page = client.get(result)
    again = re.search(r'href="(/result/[^"]+/again)"', page.get_data(as_text=True))
    assert again and again.group(1) == result + "/again"
    html = client.get(again.group(1)).get_data(as_text=True)
    assert 'value="Anna Example"' in html and 'value="anna@example.com"' in html
    for question in ruleset.questions:
        stored = {**CLEAR_ANSWERS, "skin_type": "II", "implants": "yes"}.get(question.id)
        shown = date_value(html, question.id) if question.type == "date" else chosen(html, question.id)
        if question.carry_over and stored:
            expected = stored if question.type == "date" else set(stored if isinstance(stored, list) else [stored])
            assert shown == expected, question.id
        else:
            assert not shown, question.id  # stale answers are always asked afresh
    assert {"pregnant", "breastfeeding", "herpes_active", "recent_tan"}.isdisjoint(
        q.id for q in ruleset.questions if q.carry_over
    )
    # One "still true" tick under each section with a carried answer.
    ticks = {f"confirm_{q.section}" for q in ruleset.questions if q.carry_over and q.id in CLEAR_ANSWERS}
    assert set(re.findall(r'name="(confirm_[a-z_]+)"', html)) == ticks

    answers = {**CLEAR_ANSWERS, "skin_type": "II", "implants": "yes"}
    sent = client.post(again.group(1), data={**answers, **PATIENT_FORM, **confirm_all(ruleset)})
    assert sent.status_code == 303
    first, second = query(app, "SELECT reference, patient_id, answers, status FROM screenings ORDER BY id")
    assert first["patient_id"] == second["patient_id"]
    # The practitioner sees both on one patient record.
    record = page_text(doctor.get(f"/practitioner/screening/{second['reference']}"))
    assert "Other screenings of this patient" in record and first["reference"] in record
    assert json.loads(second["answers"])["skin_type"] == "II"
    assert second["status"] == "review"  # implants: the carried answer reached the engine once confirmed


def test_an_unconfirmed_carried_answer_is_not_used_but_asked_again(
    client: FlaskClient, app: Flask, ruleset: RuleSet
) -> None:
    result = first_visit(client, app, implants="yes")
    implants_section = ruleset.question_by_id["implants"].section
    confirms = {k: v for k, v in confirm_all(ruleset).items() if k != f"confirm_{implants_section}"}
    answers = {**CLEAR_ANSWERS, "implants": "yes"}
    refused = client.post(result + "/again", data={**answers, **PATIENT_FORM, **confirms})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert not chosen(html, "implants")  # shown empty, to answer afresh
    assert "Please answer this question." in page_text(refused)
    assert len(query(app, "SELECT id FROM screenings")) == 1  # nothing stored
    # A carried answer the patient changed is their fresh answer: no tick needed for it.
    changed = {**answers, "implants": "no", "keloids": "unsure"}
    carried_in_section = [
        q.id for q in ruleset.questions if q.carry_over and q.section == implants_section and q.id not in changed
    ]
    for question_id in carried_in_section:  # every other carried answer in the section, answered afresh
        changed[question_id] = CLEAR_ANSWERS[question_id]  # type: ignore[assignment]
    refused_again = client.post(result + "/again", data={**changed, **PATIENT_FORM, **confirms})
    assert refused_again.status_code == 400  # the unchanged, unconfirmed ones are still asked again
    confirms[f"confirm_{implants_section}"] = "y"
    assert client.post(result + "/again", data={**changed, **PATIENT_FORM, **confirms}).status_code == 303
    latest = query(app, "SELECT answers FROM screenings ORDER BY id DESC LIMIT 1")[0]
    assert json.loads(latest["answers"])["implants"] == "no"


def test_the_next_screening_link_needs_the_result_token(client: FlaskClient, app: Flask) -> None:
    first_visit(client, app)
    (row,) = query(app, "SELECT reference FROM screenings")
    assert client.get(f"/result/{row['reference']}/again").status_code == 404
    assert client.post(f"/result/{row['reference']}/again", data=PATIENT_FORM).status_code == 404
