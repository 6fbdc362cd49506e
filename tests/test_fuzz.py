"""Hypothesis drives the engine and the questionnaire with random answers and junk."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.core.engine import InvalidAnswers, screen
from screening.core.loader import load_rules
from screening.core.model import OUTCOMES, RuleSet
from tests.helpers import CLEAR_ANSWERS, RULES_FILE

# Hundreds of hypothesis examples per test: seconds.
pytestmark = pytest.mark.slow

RULESET = load_rules(RULES_FILE)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=50),
    st.text(min_size=5000, max_size=20000, alphabet="a<>&'\"\u202e\U0001f600"),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from(["unsure", "yes", "no", "2026-02-30", "1899-12-31", "3000-01-01", "<script>", "' OR 1=1 --"]),
)
DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2026, 11, 24)).map(dt.date.isoformat)


def valid_value(question_id: str) -> st.SearchStrategy[Any]:
    question = RULESET.question_by_id[question_id]
    if question.type == "date":
        return DATES
    values = [o.value for o in question.options]
    if question.type == "multi":
        return st.lists(st.sampled_from(values), max_size=len(values))
    return st.sampled_from(values)


# Each question: a valid value most of the time, sometimes junk, sometimes missing.
ANSWER_SETS = st.fixed_dictionaries(
    {},
    optional={
        q.id: st.one_of(valid_value(q.id), valid_value(q.id), valid_value(q.id), JUNK) for q in RULESET.questions
    },
).flatmap(
    lambda answers: st.fixed_dictionaries(
        {k: st.just(v) for k, v in answers.items()},
        optional={"unknown_question": JUNK},
    )
)


def shown(ruleset: RuleSet, answers: dict[str, Any]) -> set[str]:
    """Questions whose follow-up trigger holds (only isotretinoin's here)."""
    ids = {q.id for q in ruleset.questions if q.show_if is None}
    if answers.get("isotretinoin") == "stopped":
        ids.add("isotretinoin_stopped_on")
    return ids


@settings(max_examples=400, deadline=None)
@given(ANSWER_SETS, st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)))
def test_engine_never_crashes_and_never_clears_unsure_or_missing(answers: dict[str, Any], today: dt.date) -> None:
    try:
        verdict = screen(RULESET, answers, today)
    except InvalidAnswers as error:
        assert error.problems, "an error must name at least one field"
        return
    assert verdict.status in OUTCOMES
    visible = shown(RULESET, answers)
    if verdict.status == "eligible":
        required = {q.id for q in RULESET.questions if q.required and q.id in visible}
        assert required <= set(verdict.answers), "eligible with a missing answer"
        assert "unsure" not in verdict.answers.values(), "eligible with an unsure answer"


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([q.id for q in RULESET.questions if q.required and q.show_if is None]),
    st.sampled_from(["unsure", None]),
)
def test_one_unsure_or_missing_answer_is_never_eligible(question: str, value: str | None) -> None:
    answers = {**CLEAR_ANSWERS, question: value}
    try:
        verdict = screen(RULESET, answers, dt.date(2026, 11, 24))
    except InvalidAnswers:
        # Missing, or "unsure" where the question has no such option (a date).
        assert value is None or "unsure" not in RULESET.question_by_id[question].option_values
        return
    assert verdict.status != "eligible"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from([*CLEAR_ANSWERS, "patient_name", "email", "phone", "consent", "concerns", "x"]),
        st.one_of(st.text(max_size=300), st.sampled_from(["yes", "no", "unsure", "y", ""])),
        max_size=25,
    )
)
def test_questionnaire_answers_junk_with_a_page_not_a_crash(app: Flask, junk: dict[str, str]) -> None:
    response = app.test_client().post("/screening", data={**CLEAR_ANSWERS, **junk})
    assert response.status_code in (303, 400)
    if response.status_code == 400:
        assert 'id="error-summary"' in response.get_data(as_text=True)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    answers=st.one_of(ANSWER_SETS, JSON_VALUES),
    patient=st.one_of(
        st.fixed_dictionaries({"name": st.text(max_size=300)}, optional={"email": JSON_VALUES, "phone": JSON_VALUES}),
        JSON_VALUES,
    ),
    consent=st.one_of(st.just(True), JSON_VALUES),
)
def test_api_answers_junk_with_json_not_a_crash(app: Flask, answers: Any, patient: Any, consent: Any) -> None:
    body = {"answers": answers, "patient": patient, "consent": consent}
    response = app.test_client().post("/api/v1/screenings", json=body)
    assert response.status_code in (201, 400), response.get_data(as_text=True)[:300]
    payload = response.get_json()
    if response.status_code == 400:
        assert payload["errors"] and all(isinstance(m, list) for m in payload["errors"].values())
        return
    assert payload["status"] in OUTCOMES
    if payload["status"] == "eligible":
        visible = shown(RULESET, answers)
        assert "unsure" not in [v for k, v in answers.items() if k in visible]
