"""Clinical coverage (issue 19): plausible dates, "I'm not sure" everywhere, the
second clinical review's contraindications, notes that never change the verdict;
and the third review (issue 29): recent topical retinoids defer 2 weeks, and only
lifelong history carries over past a deferring or not-eligible rule."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.core.carry_over import carried_answers, stopping_rules_by_question
from screening.core.engine import InvalidAnswers, clean_answers, screen, years_before
from screening.core.loader import load_rules, parse_rules
from screening.core.model import NOTE, OUTCOME_RANK, OUTCOMES, UNSURE, RuleFileError, RuleSet
from tests.helpers import (
    CLEAR_ANSWERS,
    PREGNANCY_RULE,
    PREGNANT_QUESTION,
    RULES_FILE,
    TODAY,
    UNSURE_RULE,
    add_screening,
    assert_refused_at,
    body,
    execute,
    page_text,
    problems_of,
    query,
    questionnaire_form,
    reconfirm,
    revision_of,
    screening_row,
    today,
)

RULESET = load_rules(RULES_FILE)
BIRTH = str(CLEAR_ANSWERS["date_of_birth"])
# Questions and options the second clinical review added; every other answer existed before.
NEW_QUESTIONS = ("other_conditions", "lifelong_history", "aspirin_or_supplements", "topical_retinoids")
NEW_CLEAR = {q: CLEAR_ANSWERS[q] for q in NEW_QUESTIONS}
# Current states, asked afresh on every screening: option -> the rule it fires.
OTHER_CONDITIONS = {
    "koebner_skin": "koebner_skin_disease",
    "melasma": "melasma",
    "light_sensitive_disease": "light_sensitive_disease",
    "immunosuppression": "immunosuppression",
    "bleeding_disorder": "bleeding_disorder",
    "face_tattoo": "face_tattoo",
    "silicone_injections": "silicone_injections",
    "poor_healing_before": "poor_healing_before",
}
# Lifelong history, carried over to a returning patient (issue 29 split it off).
LIFELONG_HISTORY = {"face_radiotherapy": "face_radiotherapy", "gold_therapy": "gold_therapy"}
RETINOID_WAIT = dt.timedelta(days=14)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# (case, answer changes, screening day, status, reasons' rule ids, notes' rule ids, rescreen_after)
CASES: list[tuple[str, dict[str, Any], dt.date, str, list[str], list[str], dt.date | None]] = [
    ("all clear", {}, TODAY, "eligible", [], [], None),
    *[
        (f"other condition: {option}", {"other_conditions": [option]}, TODAY, "review", [rule], [], None)
        for option, rule in OTHER_CONDITIONS.items()
    ],
    *[
        (f"lifelong history: {option}", {"lifelong_history": [option]}, TODAY, "review", [rule], [], None)
        for option, rule in LIFELONG_HISTORY.items()
    ],
    (
        "two other conditions, one reason each",
        {"other_conditions": ["silicone_injections", "face_tattoo"]},
        TODAY,
        "review",
        ["face_tattoo", "silicone_injections"],
        [],
        None,
    ),
    (
        "gold long ago and a tattoo now, one reason each",
        {"lifelong_history": ["gold_therapy"], "other_conditions": ["face_tattoo"]},
        TODAY,
        "review",
        ["gold_therapy", "face_tattoo"],
        [],
        None,
    ),
    (
        "not sure about an earlier treatment",
        {"lifelong_history": ["unsure"]},
        TODAY,
        "review",
        ["unsure_answer"],
        [],
        None,
    ),
    ("not sure about the list", {"other_conditions": ["unsure"]}, TODAY, "review", ["unsure_answer"], [], None),
    ("regular aspirin", {"aspirin_or_supplements": "yes"}, TODAY, "review", ["aspirin_or_supplements"], [], None),
    ("not sure about aspirin", {"aspirin_or_supplements": "unsure"}, TODAY, "review", ["unsure_answer"], [], None),
    ("isotretinoin: not sure", {"isotretinoin": "unsure"}, TODAY, "review", ["unsure_answer"], [], None),
    # Retinoids or acids now or in the last 2 weeks defer 2 weeks (Buchanan & Gilman 2016).
    (
        "topical retinoids",
        {"topical_retinoids": "yes"},
        TODAY,
        "deferred",
        ["topical_retinoids"],
        [],
        TODAY + RETINOID_WAIT,
    ),
    (
        "topical retinoids across a year end",
        {"topical_retinoids": "yes"},
        day("2026-12-25"),
        "deferred",
        ["topical_retinoids"],
        [],
        day("2027-01-08"),
    ),
    (
        "retinoids and a tan: the tan's later date wins",
        {"topical_retinoids": "yes", "recent_tan": "yes"},
        TODAY,
        "deferred",
        ["recent_tan", "topical_retinoids"],
        [],
        TODAY + dt.timedelta(weeks=8),
    ),
    # Notes: advice for the session, the verdict unchanged.
    ("not sure about retinoids", {"topical_retinoids": "unsure"}, TODAY, "review", ["unsure_answer"], [], None),
    ("Fitzpatrick IV", {"skin_type": "IV"}, TODAY, "eligible", [], ["skin_type_iv"], None),
    ("Fitzpatrick V stays review", {"skin_type": "V"}, TODAY, "review", ["dark_skin_type"], [], None),
    (
        "a note beside a deferral",
        {"skin_type": "IV", "pregnant": "yes"},
        TODAY,
        "deferred",
        ["pregnancy"],
        ["skin_type_iv"],
        None,
    ),
    # Cold-sore history stays review: prophylaxis has to be arranged before the session.
    ("cold-sore history", {"herpes_history": "yes"}, TODAY, "review", ["herpes_history"], [], None),
    # The sun window is 8 weeks (Mayo Clinic: up to two months): its last day is the
    # day before the re-screen date, 8 weeks after screening.
    ("recent tan", {"recent_tan": "yes"}, TODAY, "deferred", ["recent_tan"], [], TODAY + dt.timedelta(weeks=8)),
    (
        "recent tan across a year end",
        {"recent_tan": "yes"},
        day("2026-12-31"),
        "deferred",
        ["recent_tan"],
        [],
        day("2027-02-25"),
    ),
    # Date of birth: 110 years before the screening day exactly is accepted.
    ("born 110 years ago today", {"date_of_birth": "1916-11-24"}, TODAY, "eligible", [], [], None),
    ("born 110 years ago on a leap day", {"date_of_birth": "1914-02-28"}, day("2024-02-29"), "eligible", [], [], None),
    # Another date on the day of birth is possible; the day before is not (see DATE_ERRORS).
    (
        "isotretinoin stopped on the day of birth",
        {"isotretinoin": "stopped", "isotretinoin_stopped_on": BIRTH},
        TODAY,
        "eligible",
        [],
        [],
        None,
    ),
]


@pytest.mark.parametrize(
    ("changes", "today", "status", "reasons", "notes", "rescreen"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_clinical_table(
    changes: dict[str, Any],
    today: dt.date,
    status: str,
    reasons: list[str],
    notes: list[str],
    rescreen: dt.date | None,
) -> None:
    verdict = screen(RULESET, {**CLEAR_ANSWERS, **changes}, today)
    assert verdict.status == status
    assert [r.rule for r in verdict.reasons] == reasons
    assert [n.rule for n in verdict.notes] == notes
    assert verdict.rescreen_after == rescreen
    for reason in (*verdict.reasons, *verdict.notes):
        assert reason.patient["en"] and reason.patient["ru"] and reason.practitioner["ru"] and reason.source


def test_every_new_rule_has_a_case() -> None:
    old = {
        "cancer", "pregnancy", "breastfeeding", "herpes_active", "skin_inflammation", "changing_mole",
        "chronic_flare", "isotretinoin_current", "isotretinoin_recent", "recent_tan", "recent_injectables",
        "recent_peel", "under_18", "cancer_remission", "herpes_history", "photosensitizing_meds", "anticoagulants",
        "keloids", "autoimmune", "epilepsy", "implants", "dark_skin_type", "unsure_answer",
    }  # fmt: skip
    covered = {rule for case in CASES for rule in (*case[4], *case[5])}
    assert {r.id for r in RULESET.rules} - old <= covered


def test_reasons_name_what_the_patient_ticked() -> None:
    for question, options in (("other_conditions", OTHER_CONDITIONS), ("lifelong_history", LIFELONG_HISTORY)):
        for option in options:
            (reason,) = screen(RULESET, {**CLEAR_ANSWERS, question: [option]}, TODAY).reasons
            assert reason.questions == (question,)
    words = {
        "koebner_skin_disease": "vitiligo",
        "face_tattoo": "tattoo",
        "gold_therapy": "gold",
        "aspirin_or_supplements": "aspirin",
    }
    rules = {r.id: r for r in RULESET.rules}
    for rule_id, word in words.items():
        assert word in rules[rule_id].patient["en"].lower() or word in rules[rule_id].practitioner["en"].lower()


# --- Plausible dates -----------------------------------------------------------------

# (case, answer changes, screening day, {field: [code, ...]})
DATE_ERRORS: list[tuple[str, dict[str, Any], dt.date, dict[str, list[str]]]] = [
    ("born 110 years ago and a day", {"date_of_birth": "1916-11-23"}, TODAY, {"date_of_birth": ["too_old"]}),
    ("born in 1906", {"date_of_birth": "1906-03-01"}, TODAY, {"date_of_birth": ["too_old"]}),
    (
        "born 110 years before a leap day, less a day",
        {"date_of_birth": "1914-02-27"},
        day("2024-02-29"),
        {"date_of_birth": ["too_old"]},
    ),
    ("1900-01-01 is not after 1900-01-01", {"date_of_birth": "1900-01-01"}, TODAY, {"date_of_birth": ["too_early"]}),
    ("1900-01-02 is too old a birth date", {"date_of_birth": "1900-01-02"}, TODAY, {"date_of_birth": ["too_old"]}),
    (
        "isotretinoin stopped the day before birth",
        {"isotretinoin": "stopped", "isotretinoin_stopped_on": "1990-05-30"},
        TODAY,
        {"isotretinoin_stopped_on": ["before_birth"]},
    ),
    (
        "isotretinoin stopped on 1900-01-01",
        {"isotretinoin": "stopped", "isotretinoin_stopped_on": "1900-01-01"},
        TODAY,
        {"isotretinoin_stopped_on": ["too_early"]},
    ),
    (
        "none of these and a tattoo",
        {"other_conditions": ["none", "face_tattoo"]},
        TODAY,
        {"other_conditions": ["none_and_others"]},
    ),
    (
        "no earlier treatment and gold",
        {"lifelong_history": ["none", "gold_therapy"]},
        TODAY,
        {"lifelong_history": ["none_and_others"]},
    ),
    (
        "vitiligo and not sure about the rest",
        {"other_conditions": ["koebner_skin", "unsure"]},
        TODAY,
        {"other_conditions": ["unsure_and_others"]},
    ),
    (
        "not sure and gold",
        {"lifelong_history": ["unsure", "gold_therapy"]},
        TODAY,
        {"lifelong_history": ["unsure_and_others"]},
    ),
    (
        "none of these and not sure",
        {"other_conditions": ["none", "unsure"]},
        TODAY,
        {"other_conditions": ["none_and_others"]},
    ),
    ("the list left blank", {"other_conditions": []}, TODAY, {"other_conditions": ["required"]}),
    ("the history left blank", {"lifelong_history": []}, TODAY, {"lifelong_history": ["required"]}),
]


@pytest.mark.parametrize(
    ("changes", "today", "codes"), [case[1:] for case in DATE_ERRORS], ids=[case[0] for case in DATE_ERRORS]
)
def test_implausible_answers_are_field_errors(
    changes: dict[str, Any], today: dt.date, codes: dict[str, list[str]]
) -> None:
    with pytest.raises(InvalidAnswers) as info:
        screen(RULESET, {**CLEAR_ANSWERS, **changes}, today)
    found: dict[str, list[str]] = {}
    for problem in info.value.problems:
        found.setdefault(problem.field, []).append(problem.code)
    assert found == codes


def test_a_date_before_birth_names_both_fields() -> None:
    answers = {**CLEAR_ANSWERS, "isotretinoin": "stopped", "isotretinoin_stopped_on": "1990-05-30"}
    with pytest.raises(InvalidAnswers) as info:
        screen(RULESET, answers, TODAY)
    assert info.value.errors == {"isotretinoin_stopped_on": ["cannot be before date_of_birth, the date of birth"]}
    (problem,) = info.value.problems
    assert problem.params == {"birth": "date_of_birth"}


def test_too_old_message_and_partial_answers_are_checked_too() -> None:
    with pytest.raises(InvalidAnswers) as info:
        clean_answers(RULESET, {"date_of_birth": "1906-03-01"}, TODAY, partial=True)
    assert info.value.errors == {"date_of_birth": ["is more than 110 years ago: please check the year"]}


def test_an_unparsable_birth_date_is_reported_once() -> None:
    answers = {**CLEAR_ANSWERS, "date_of_birth": "1990-02-30", "isotretinoin": "stopped"}
    with pytest.raises(InvalidAnswers) as info:
        screen(RULESET, {**answers, "isotretinoin_stopped_on": "1950-01-01"}, TODAY)
    assert info.value.errors == {"date_of_birth": ["must be a date in the form YYYY-MM-DD"]}


@pytest.mark.parametrize(
    ("today", "expected"),
    [("2026-11-24", "1916-11-24"), ("2024-02-29", "1914-02-28"), ("2025-03-01", "1915-03-01")],
)
def test_years_before(today: str, expected: str) -> None:
    assert years_before(day(today), 110) == day(expected)


def test_born_1906_in_the_form_is_a_field_error_and_every_other_answer_is_kept(client: FlaskClient) -> None:
    data = {
        **CLEAR_ANSWERS,
        "date_of_birth": "1906-03-01",
        "skin_type": "IV",
        "patient_name": "Anna Petrova",
        "email": "anna@example.com",
        "consent": "y",
        "signature": "Anna Petrova",
    }
    response = client.post("/screening", data=data, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Please check the year: this date is more than 110 years ago." in html
    assert 'value="1906-03-01"' in html
    assert re.search(r'<input checked id="skin_type-3" name="skin_type" type="radio" value="IV">', html)
    assert re.search(
        r'<input checked id="other_conditions-\d+" name="other_conditions" type="checkbox" value="none">', html
    )
    russian = client.post("/screening", data=data, headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert "Пожалуйста, проверьте год: с этой даты прошло больше 110 лет." in russian


def test_date_before_birth_in_the_form_and_the_api(client: FlaskClient) -> None:
    answers = {**CLEAR_ANSWERS, "isotretinoin": "stopped", "isotretinoin_stopped_on": "1990-05-30"}
    form = {
        **answers,
        "patient_name": "Anna Petrova",
        "email": "anna@example.com",
        "consent": "y",
        "signature": "Anna Petrova",
    }
    html = client.post("/screening", data=form, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "This date is before your date of birth: please check both dates." in html
    api = client.post(
        "/api/v1/screenings",
        json={"answers": answers, "patient": {"name": "Anna Example", "email": "anna@example.com"}, "consent": True},
    )
    assert api.status_code == 400
    assert api.get_json()["errors"] == {
        "isotretinoin_stopped_on": ["cannot be before date_of_birth, the date of birth"]
    }


def test_born_1906_in_the_cli(runner: FlaskCliRunner) -> None:
    payload = json.dumps({"answers": {**CLEAR_ANSWERS, "date_of_birth": "1906-03-01"}})
    result = runner.invoke(args=["screen", "--today", TODAY.isoformat(), "-"], input=payload)
    assert result.exit_code == 2
    assert result.stderr.strip() == "date_of_birth: is more than 110 years ago: please check the year"


# --- "I'm not sure" on every question a rule reads -----------------------------------


def rule_read_questions(ruleset: RuleSet) -> set[str]:
    ids: set[str] = set()
    for rule in ruleset.rules:
        ids |= rule.condition.questions()
    return ids


@pytest.mark.parametrize(
    "question", sorted(q for q in rule_read_questions(RULESET) if RULESET.question_by_id[q].type != "date")
)
def test_every_question_a_rule_reads_offers_unsure_and_it_needs_review(question: str) -> None:
    asked = RULESET.question_by_id[question]
    assert UNSURE in asked.option_values
    answer: Any = [UNSURE] if asked.type == "multi" else UNSURE
    verdict = screen(RULESET, {**CLEAR_ANSWERS, question: answer}, TODAY)
    assert verdict.status == "review"
    assert [(r.rule, r.questions) for r in verdict.reasons] == [("unsure_answer", (question,))]


RULES_TEXT = RULES_FILE.read_text(encoding="utf-8")
ISOTRETINOIN_UNSURE = """      - value: stopped
        label: {en: "I took it in the past", ru: "Принимал(а) раньше"}
      - value: unsure
        label: {en: "I'm not sure", ru: "Не уверен(а)"}
"""


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def without_isotretinoin_unsure(extra: str = "") -> str:
    assert ISOTRETINOIN_UNSURE in RULES_TEXT
    text = RULES_TEXT.replace(ISOTRETINOIN_UNSURE, ISOTRETINOIN_UNSURE.split("      - value: unsure")[0])
    return text.replace("  - id: isotretinoin\n", "  - id: isotretinoin\n" + extra, 1)


def test_rule_file_without_isotretinoin_unsure_is_refused_with_its_line(tmp_path: Path, runner: FlaskCliRunner) -> None:
    text = without_isotretinoin_unsure()
    line = line_of(text, "  - id: isotretinoin\n")
    with pytest.raises(RuleFileError) as info:
        parse_rules(text.encode(), "copy.yaml")
    assert info.value.problems == [
        f"copy.yaml:{line}: question 'isotretinoin' is read by a rule but offers no \"unsure\" option: "
        'add {value: unsure, label: ...}, or say why not with unsure_exempt: "..."'
    ]
    path = tmp_path / "copy.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["check-rules", str(path)])
    assert result.exit_code == 2
    assert f"{path}:{line}: question 'isotretinoin' is read by a rule" in result.stderr


def test_unsure_exempt_says_why_a_question_has_no_unsure() -> None:
    reason = "    unsure_exempt: \"a patient who took it remembers; 'never' is checked at the consultation\"\n"
    ruleset = parse_rules(without_isotretinoin_unsure(reason).encode(), "copy.yaml")
    assert (ruleset.question_by_id["isotretinoin"].unsure_exempt or "").startswith("a patient who took it")
    assert RULESET.question_by_id["isotretinoin"].unsure_exempt is None


MINIMAL = (
    """\
version: "1"
sections: [{id: main, title: Main}]
questions:
"""
    + PREGNANT_QUESTION
    + """\
  - id: born
    role: birth_date
    section: main
    type: date
    text: Born?
  - id: extras
    section: main
    type: multi
    required: true
    text: Any of these?
    options: [gold, tattoo, none, unsure]
procedures:
- id: laser
  name: Laser
  description: Light pulses.
  course: 4-6 sessions.
  rules:
"""
    + PREGNANCY_RULE
    + """\
  - id: gold
    when: {extras: gold}
    outcome: review
    patient: We will check.
    practitioner: Gold.
    source: Cohen & Ross
  - id: tattoo
    when: {extras: tattoo}
    outcome: note
    practitioner: Shield the tattoo.
    source: IPL FAQs
"""
    + UNSURE_RULE
)


def test_minimal_file_with_a_multi_question_and_a_note_loads() -> None:
    ruleset = parse_rules(MINIMAL.encode(), "test.yaml")
    tattoo = next(r for r in ruleset.rules if r.id == "tattoo")
    assert tattoo.is_note and tattoo.patient == {}
    verdict = screen(ruleset, {"pregnant": "no", "born": "1990-01-01", "extras": ["tattoo"]}, TODAY)
    assert (verdict.status, verdict.reasons, [n.rule for n in verdict.notes]) == ("eligible", (), ["tattoo"])
    assert verdict.as_dict("en") == {
        "status": "eligible",
        "reasons": [],
        "rescreen_after": None,
        "rules_version": ruleset.full_version,
    }
    note = verdict.as_dict("en", include_notes=True)["notes"][0]
    assert note == {
        "rule": "tattoo",
        "outcome": "note",
        "questions": ["extras"],
        "patient": "",
        "practitioner": "Shield the tattoo.",
        "source": "IPL FAQs",
        "rescreen_after": None,
    }


BROKEN = [
    # (case, replace, with, expected fragment, expected line)
    (
        "choice without unsure",
        "[yes, no, unsure]\n",
        "[yes, no]\n",
        "question 'pregnant' is read by a rule but offers no \"unsure\" option",
        4,
    ),
    ("multi without unsure", "[gold, tattoo, none, unsure]", "[gold, tattoo, none]", 'offers no "unsure"', 14),
    (
        "unsure_exempt beside unsure",
        "these?\n",
        "these?\n    unsure_exempt: everyone knows\n",
        'offers "unsure" and also declares unsure_exempt',
        19,
    ),
    ("multi without none", "[gold, tattoo, none, unsure]", "[gold, tattoo, unsure]", 'needs a "none" option', 14),
    (
        "note with a rescreen",
        "note\n",
        "note\n    rescreen: {weeks: 2}\n",
        "only a deferred rule can have a rescreen period",
        41,
    ),
    ("optional multi", "required: true\n", "required: false\n", "must be required", 14),
    (
        "the unsure rule as a note",
        "unsure}\n    outcome: review",
        "unsure}\n    outcome: note",
        "no rule sends it to review",
        25,
    ),
    ("unread option", "tattoo, none", "tattoo, silicone, none", "no rule reads the option(s) silicone", 14),
    (
        "a review without a patient text",
        "patient: We will check.\n    practitioner: Gold",
        "practitioner: Gold",
        "missing its 'patient' text",
        32,
    ),
    ("empty unsure_exempt", "these?\n", "these?\n    unsure_exempt: ''\n", "unsure_exempt must be a text", 19),
    (
        "unsure_exempt on a date",
        "Born?\n",
        "Born?\n    unsure_exempt: everyone knows\n",
        "a date question has no options",
        14,
    ),
]


@pytest.mark.parametrize(("old", "new", "message", "line"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_rule_file_names_line_and_problem(old: str, new: str, message: str, line: int) -> None:
    assert_refused_at(MINIMAL, old, new, message, line)


def test_exempt_choice_question_loads() -> None:
    text = MINIMAL.replace(
        "    options: [yes, no, unsure]\n", "    options: [yes, no]\n    unsure_exempt: asked in person\n"
    )
    assert parse_rules(text.encode(), "test.yaml").question_by_id["pregnant"].unsure_exempt == "asked in person"


def test_a_follow_up_trigger_counts_as_read() -> None:
    text = MINIMAL.replace(
        "procedures:\n",
        "  - id: stopped\n    section: main\n    type: choice\n    text: Stopped?\n    options: [never, stopped]\n"
        "  - id: stopped_on\n    section: main\n    type: date\n    text: When?\n    show_if: {stopped: stopped}\n"
        "procedures:\n",
    ).replace(
        "  rules:\n",
        "  rules:\n  - id: recent\n    when: {stopped_on: {within_months: 6}}\n    outcome: deferred\n"
        "    patient: Later.\n    practitioner: Recent.\n    source: ASDS\n",
    )
    problems = problems_of(text)
    assert any("question 'stopped' is read by a rule" in p for p in problems), problems
    # A multi trigger needs "none" and "unsure", but no rule need read its options.
    choice = "    type: choice\n    text: Stopped?\n    options: [never, stopped]\n"
    assert choice in text
    multi = text.replace(
        choice, "    type: multi\n    required: true\n    text: Stopped?\n    options: [stopped, none, unsure]\n"
    )
    assert parse_rules(multi.encode(), "test.yaml").question_by_id["stopped"].type == "multi"


# --- Notes never change the verdict -----------------------------------------------------


def test_notes_are_separate_from_reasons_and_never_ranked() -> None:
    note_rules = [r for r in RULESET.rules if r.is_note]
    assert {r.id for r in note_rules} == {"skin_type_iv"}
    assert all(r.rescreen is None and r.outcome == NOTE for r in note_rules)
    assert NOTE not in OUTCOMES and NOTE not in OUTCOME_RANK
    verdict = screen(RULESET, {**CLEAR_ANSWERS, "skin_type": "IV"}, TODAY)
    assert verdict.status == "eligible" and verdict.reasons == ()
    assert [(n.rule, n.outcome, n.questions, n.rescreen_after) for n in verdict.notes] == [
        ("skin_type_iv", "note", ("skin_type",), None),
    ]
    assert "notes" not in verdict.as_dict()
    assert [n["rule"] for n in verdict.as_dict("ru", include_notes=True)["notes"]] == ["skin_type_iv"]
    # A note stays a note beside the retinoid deferral, which is a reason.
    both = screen(RULESET, {**CLEAR_ANSWERS, "skin_type": "IV", "topical_retinoids": "yes"}, TODAY)
    assert [r.rule for r in both.reasons] == ["topical_retinoids"] and [n.rule for n in both.notes] == ["skin_type_iv"]


def test_preparation_and_aftercare_carry_the_new_advice() -> None:
    preparation = " ".join(item["en"] for item in RULESET.procedure.preparation)
    assert "For 8 weeks before your session" in preparation
    assert "retinoids" in preparation and "2 weeks before your session" in preparation
    aftercare = " ".join(item["en"] for item in RULESET.procedure.aftercare)
    assert "retinoid" in aftercare
    assert "last 8 weeks" in RULESET.question_by_id["recent_tan"].text["en"]
    assert "8 недель" in RULESET.question_by_id["recent_tan"].text["ru"]


# --- No new rule lowers a verdict ---------------------------------------------------------


def rank(status: str) -> int:
    return OUTCOME_RANK[status]


def valid_answer(question_id: str, birth: dt.date) -> st.SearchStrategy[Any]:
    question = RULESET.question_by_id[question_id]
    if question.type == "date":
        return st.dates(min_value=birth, max_value=TODAY).map(dt.date.isoformat)
    values = [o.value for o in question.options]
    if question.type == "multi":
        # "None of these" and "not sure" are each ticked alone (core.answers).
        alone = [st.just([v]) for v in ("none", "unsure") if v in values]
        if not alone:
            return st.lists(st.sampled_from(values))
        others = [v for v in values if v not in ("none", "unsure")]
        return st.one_of(*alone, st.lists(st.sampled_from(others), min_size=1, max_size=3, unique=True))
    return st.sampled_from(values)


@st.composite
def answer_sets(draw: st.DrawFn) -> dict[str, Any]:
    birth = draw(st.dates(min_value=years_before(TODAY, 100), max_value=TODAY - dt.timedelta(days=365)))
    answers: dict[str, Any] = {"date_of_birth": birth.isoformat()}
    for question in RULESET.questions:
        if question.id not in answers and question.id not in NEW_QUESTIONS:
            answers[question.id] = draw(valid_answer(question.id, birth))
    return answers


@settings(max_examples=300, deadline=None)
@given(answer_sets(), st.fixed_dictionaries({q: valid_answer(q, TODAY) for q in NEW_QUESTIONS}))
def test_new_questions_never_lower_the_status(base: dict[str, Any], new: dict[str, Any]) -> None:
    before = screen(RULESET, {**base, **NEW_CLEAR}, TODAY)
    after = screen(RULESET, {**base, **new}, TODAY)
    assert rank(after.status) >= rank(before.status)
    # Every reason of the clear answers still fires: the new answers only add.
    assert {r.rule for r in before.reasons} <= {r.rule for r in after.reasons}
    for verdict in (before, after):
        # The status comes from the reasons alone; notes never rank.
        assert verdict.status == max((r.outcome for r in verdict.reasons), key=rank, default="eligible")
        assert all(n.outcome == NOTE for n in verdict.notes)


WORSE = {
    "review": {"keloids": "yes"},
    "deferred": {"pregnant": "yes"},
    "ineligible": {"cancer": "active"},
    "unsure": {"epilepsy": "unsure"},
}
NEW_ANSWERS = [
    *({"other_conditions": [option]} for option in [*OTHER_CONDITIONS, "unsure"]),
    *({"lifelong_history": [option]} for option in [*LIFELONG_HISTORY, "unsure"]),
    *({question: value} for question in ("aspirin_or_supplements", "topical_retinoids") for value in ("yes", "unsure")),
    {"skin_type": "IV"},
    {"isotretinoin": "unsure"},
]


@pytest.mark.parametrize("worse", WORSE.values(), ids=WORSE.keys())
@pytest.mark.parametrize("new", NEW_ANSWERS, ids=[json.dumps(n) for n in NEW_ANSWERS])
def test_no_new_answer_clears_a_patient_over_the_examples(worse: dict[str, str], new: dict[str, Any]) -> None:
    before = screen(RULESET, {**CLEAR_ANSWERS, **worse}, TODAY)
    after = screen(RULESET, {**CLEAR_ANSWERS, **worse, **new}, TODAY)
    assert before.status != "eligible"
    assert rank(after.status) >= rank(before.status)


# --- Issue 29: recent topical retinoids defer 2 weeks -------------------------------------

RETINOIDS = {**CLEAR_ANSWERS, "topical_retinoids": "yes"}


def test_recent_retinoids_defer_two_weeks_through_the_cli(runner: FlaskCliRunner) -> None:
    payload = json.dumps({"answers": RETINOIDS})
    result = runner.invoke(args=["screen", "--today", TODAY.isoformat(), "-"], input=payload)
    assert result.exit_code == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert (verdict["status"], verdict["rescreen_after"]) == ("deferred", (TODAY + RETINOID_WAIT).isoformat())
    assert [r["rule"] for r in verdict["reasons"]] == ["topical_retinoids"]
    assert "2 weeks" in verdict["reasons"][0]["practitioner"]


def test_recent_retinoids_defer_two_weeks_through_the_api(client: FlaskClient) -> None:
    response = client.post("/api/v1/screenings", json=body(RETINOIDS), headers={"Accept-Language": "ru"})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert (created["status"], created["rescreen_after"]) == ("deferred", (today() + RETINOID_WAIT).isoformat())
    (reason,) = created["reasons"]
    assert reason["rule"] == "topical_retinoids" and "через 2 недели" in reason["patient"]
    assert "notes" not in created or created["notes"] == []


def test_retinoids_stored_as_a_note_defer_on_the_session_day(app: Flask, doctor: FlaskClient) -> None:
    """A screening the earlier rule file let through with a note: "nothing has changed" on the day defers it."""
    screening = add_screening(app, topical_retinoids="yes")
    reference = screening["reference"]
    execute(
        app,
        "UPDATE screenings SET status = 'eligible', rescreen_after = NULL, reasons = '[]' WHERE reference = ?",
        [reference],
    )
    response = reconfirm(doctor, reference, unchanged="y")
    assert response.status_code == 303
    assert "the verdict changed from Eligible to Deferred" in page_text(doctor.get(response.headers["Location"]))
    row = screening_row(app, reference)
    assert (row["status"], row["rescreen_after"]) == ("deferred", (today() + RETINOID_WAIT).isoformat())
    assert [r["rule"] for r in row["reasons"]] == ["topical_retinoids"]
    (entry,) = query(app, "SELECT previous_status, status, verdict_changed FROM reconfirmations")
    assert entry == {"previous_status": "eligible", "status": "deferred", "verdict_changed": 1}


def test_retinoids_reported_on_the_session_day_defer_it(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app)
    reference = screening["reference"]
    assert screening["status"] == "eligible"
    form = {
        **{k: v for k, v in CLEAR_ANSWERS.items() if not isinstance(v, list)},
        "other_conditions": "none",
        "lifelong_history": "none",
        "topical_retinoids": "yes",
        "patient_signature": screening["patient_name"],
        "revision": revision_of(doctor, reference),
    }
    response = doctor.post(f"/practitioner/screening/{reference}/answers", data=form)
    assert response.status_code == 303, page_text(response)
    row = screening_row(app, reference)
    assert (row["status"], row["rescreen_after"]) == ("deferred", (today() + RETINOID_WAIT).isoformat())
    assert row["answers"]["topical_retinoids"] == "yes"
    (entry,) = query(app, "SELECT answers_changed, status FROM reconfirmations")
    assert entry == {"answers_changed": 1, "status": "deferred"}


# --- Issue 29: only lifelong history carries over past a deferring rule ------------------


def question_edited(text: str, question_id: str, old: str, new: str) -> tuple[str, int]:
    """``text`` with ``old`` replaced by ``new`` in the question's entry; and that entry's line."""
    start = text.index(f"  - id: {question_id}\n")
    end = text.find("\n  - id: ", start + 1)
    entry = text[start:end]
    assert old in entry, entry
    return text[:start] + entry.replace(old, new, 1) + text[end:], line_of(text, f"  - id: {question_id}\n")


def test_a_copy_marking_pregnancy_carry_over_is_refused_with_its_line(tmp_path: Path, runner: FlaskCliRunner) -> None:
    text, line = question_edited(RULES_TEXT, "pregnant", "    time_sensitive: true\n", "    carry_over: true\n")
    expected = (
        "question 'pregnant' is read by the deferring or excluding rule(s) 'pregnancy', so it cannot carry_over "
        "unless it is lifelong history (lifelong: true)"
    )
    with pytest.raises(RuleFileError) as info:
        parse_rules(text.encode(), "copy.yaml")
    assert info.value.problems == [f"copy.yaml:{line}: {expected}"]
    path = tmp_path / "copy.yaml"
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["check-rules", str(path)])
    assert result.exit_code == 2
    assert f"{path}:{line}: {expected}" in result.stderr


def test_the_shipped_cancer_question_cannot_carry_over() -> None:
    text, line = question_edited(RULES_TEXT, "cancer", "    time_sensitive: true\n", "    carry_over: true\n")
    assert problems_of(text) == [
        f"test.yaml:{line}: question 'cancer' is read by the deferring or excluding rule(s) 'cancer', "
        "so it cannot carry_over unless it is lifelong history (lifelong: true)"
    ]


PREGNANT_CARRIED = PREGNANT_QUESTION.replace("    type: choice\n", "    type: choice\n    carry_over: true\n")


@pytest.mark.parametrize(
    ("outcome", "lifelong", "refused"),
    [
        ("deferred", False, True),
        ("ineligible", False, True),
        ("review", False, False),
        ("deferred", True, False),
        ("ineligible", True, False),
    ],
)
def test_carry_over_on_a_question_a_stopping_rule_reads_needs_lifelong(
    outcome: str, lifelong: bool, refused: bool
) -> None:
    question = PREGNANT_CARRIED + ("    lifelong: true\n" if lifelong else "")
    text = MINIMAL.replace(PREGNANT_QUESTION, question).replace("outcome: deferred", f"outcome: {outcome}", 1)
    assert question in text and f"outcome: {outcome}" in text
    if refused:
        assert problems_of(text) == [
            f"test.yaml:{line_of(text, '  - id: pregnant')}: question 'pregnant' is read by the deferring or "
            "excluding rule(s) 'pregnancy', so it cannot carry_over unless it is lifelong history (lifelong: true)"
        ]
    else:
        question_read = parse_rules(text.encode(), "test.yaml").question_by_id["pregnant"]
        assert (question_read.carry_over, question_read.lifelong) == (True, lifelong)


def test_a_deferring_rule_on_any_answer_reads_every_question() -> None:
    text = MINIMAL.replace(PREGNANT_QUESTION, PREGNANT_CARRIED).replace(
        "    when: {pregnant: yes}\n", "    when: {any_answer: unsure}\n", 1
    )
    problems = problems_of(text)
    assert any("question 'pregnant' is read by the deferring or excluding rule(s) 'pregnancy'" in p for p in problems)


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("    lifelong: sometimes\n", "question 'pregnant': lifelong must be true or false"),
        ("    time_sensitive: true\n    lifelong: true\n", "is time_sensitive, so it cannot be lifelong history"),
    ],
)
def test_lifelong_is_a_flag_that_time_sensitive_excludes(new: str, message: str) -> None:
    assert_refused_at(
        MINIMAL,
        "    type: choice\n    text: Are you pregnant?\n",
        f"    type: choice\n{new}    text: Are you pregnant?\n",
        message,
        None,
    )


def test_the_shipped_file_carries_lifelong_history_and_asks_current_states_afresh() -> None:
    questions = RULESET.question_by_id
    assert (questions["cancer"].carry_over, questions["cancer"].time_sensitive) == (False, True)
    assert (questions["other_conditions"].carry_over, questions["other_conditions"].time_sensitive) == (False, True)
    for question_id in ("lifelong_history", "date_of_birth"):
        assert questions[question_id].carry_over and questions[question_id].lifelong, question_id
    assert questions["lifelong_history"].section == questions["other_conditions"].section == "health"
    assert questions["lifelong_history"].option_values == {"face_radiotherapy", "gold_therapy", "none", "unsure"}
    assert {"face_radiotherapy", "gold_therapy"}.isdisjoint(questions["other_conditions"].option_values)
    # Every carried question a deferring or not-eligible rule reads is lifelong history.
    stopping = stopping_rules_by_question(RULESET.questions, RULESET.rules)
    assert stopping["cancer"] == ["cancer"] and stopping["topical_retinoids"] == ["topical_retinoids"]
    for question in RULESET.questions:
        if question.carry_over and question.id in stopping:
            assert question.lifelong, question.id
    stored = {**CLEAR_ANSWERS, "cancer": "remission", "lifelong_history": ["gold_therapy"]}
    carried = carried_answers(RULESET.questions, stored)
    assert carried["lifelong_history"] == ["gold_therapy"] and carried["date_of_birth"] == BIRTH
    assert {"cancer", "other_conditions", "topical_retinoids", "pregnant"}.isdisjoint(carried)


def test_a_returning_patient_is_asked_about_cancer_afresh_but_not_about_gold(client: FlaskClient, app: Flask) -> None:
    form = questionnaire_form(cancer="remission", lifelong_history="gold_therapy", other_conditions="face_tattoo")
    form = {k: v for k, v in form.items() if not isinstance(v, list)}
    response = client.post("/screening", data=form)
    assert response.status_code == 303, page_text(response)
    month_ago = (today() - dt.timedelta(days=31)).isoformat()
    execute(app, "UPDATE screenings SET created_at = ?", [f"{month_ago}T09:00:00.000000+00:00"])
    html = client.get(response.headers["Location"] + "/again").get_data(as_text=True)

    def ticked(name: str) -> set[str]:
        tags = [t for t in re.findall(r"<input\b[^>]*>", html) if f'name="{name}"' in t and " checked" in t]
        return {re.search(r'value="([^"]*)"', t).group(1) for t in tags}  # type: ignore[union-attr]

    assert ticked("lifelong_history") == {"gold_therapy"}
    assert ticked("cancer") == set() and ticked("other_conditions") == set()
    assert 'name="cancer"' in html and 'name="other_conditions"' in html  # asked, not hidden
