"""The Fitzpatrick self-assessment: a patient not sure of their skin type gets the type their
score gives, at every band boundary; an item skipped or not sure leaves "not sure" (review)."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.core.engine import compute_scores, screen
from screening.core.loader import load_rulebook
from screening.core.model import RuleBook, pick_text
from screening.web.ruleset import get_rulebook
from tests.helpers import MINIMAL, RULES_FILE, add_screening, page_text, problems_of

TODAY = dt.date(2026, 6, 15)


@pytest.fixture(scope="module")
def book() -> RuleBook:
    """The shipped rule file."""
    return load_rulebook(RULES_FILE)


def items_totalling(book: RuleBook, total: int) -> dict[str, str]:
    """An answer to each item of the shipped score whose points add up to ``total``."""
    ruleset = book.get()
    (score,) = ruleset.scores
    answers = {}
    left = total
    for question_id in score.items:
        options = {o.score: o.value for o in ruleset.question_by_id[question_id].options if o.score is not None}
        points = min(left, max(options))
        answers[question_id] = options[points]
        left -= points
    assert left == 0
    return answers


def clear(book: RuleBook, procedure: str | None = None) -> dict[str, object]:
    return dict(book.get(procedure).examples[0].answers)


@pytest.mark.parametrize(
    ("total", "skin_type"),
    [(0, "I"), (7, "I"), (8, "II"), (16, "II"), (17, "III"), (24, "III"), (25, "IV"), (30, "IV"), (31, "V"), (40, "V")],
)
def test_each_band_boundary_gives_its_type(book: RuleBook, total: int, skin_type: str) -> None:
    answers = {**clear(book), "skin_type": "unsure", **items_totalling(book, total)}
    verdict = screen(book.get(), answers, TODAY)
    assert verdict.answers["skin_type"] == skin_type
    assert verdict.roles["skin_type"] == skin_type
    (result,) = compute_scores(book.get(), answers)
    assert (result.total, result.value, result.computes) == (total, skin_type, "skin_type")
    assert len(result.items) == 10 and sum(item.points or 0 for item in result.items) == total


@pytest.mark.parametrize(
    ("procedure", "total", "status", "fired"),
    [
        ("laser_rejuvenation", 13, "eligible", []),
        ("laser_rejuvenation", 27, "eligible", ["skin_type_iv"]),
        ("laser_rejuvenation", 33, "review", ["dark_skin_type"]),
        ("ipl_photorejuvenation", 27, "review", ["skin_type_iv"]),
        ("ipl_photorejuvenation", 33, "ineligible", ["dark_skin_type"]),
    ],
)
def test_rules_read_the_computed_type_like_an_answered_one(
    book: RuleBook, procedure: str, total: int, status: str, fired: list[str]
) -> None:
    answers = {**clear(book, procedure), "skin_type": "unsure", **items_totalling(book, total)}
    verdict = screen(book.get(procedure), answers, TODAY)
    assert verdict.status == status
    assert sorted(r.rule for r in (*verdict.reasons, *verdict.notes)) == fired


def test_a_skipped_or_unsure_item_leaves_not_sure_for_review(book: RuleBook) -> None:
    items = items_totalling(book, 12)
    skipped = {**clear(book), "skin_type": "unsure", **dict(list(items.items())[1:])}
    unsure = {**clear(book), "skin_type": "unsure", **items, "fitz_eye_colour": "unsure"}
    for answers in (skipped, unsure):
        verdict = screen(book.get(), answers, TODAY)
        assert verdict.answers["skin_type"] == "unsure"
        assert (verdict.status, [r.rule for r in verdict.reasons]) == ("review", ["unsure_answer"])
        (result,) = compute_scores(book.get(), answers)
        assert result.total is None and result.value is None


def test_items_are_dropped_when_the_type_was_answered(book: RuleBook) -> None:
    answers = {**clear(book), "skin_type": "II", **items_totalling(book, 35)}
    verdict = screen(book.get(), answers, TODAY)
    assert verdict.answers["skin_type"] == "II" and "fitz_eye_colour" not in verdict.answers


SCORED = MINIMAL.replace(
    "procedures:\n",
    "  - {id: a, section: main, type: choice, text: A?, required: false, show_if: {pregnant: unsure},\n"
    "     options: [{value: lo, score: 0, label: Lo}, {value: hi, score: 2, label: Hi}, unsure]}\n"
    "scores:\n"
    "  - id: s\n    computes: pregnant\n    when: unsure\n    questions: [a]\n"
    "    bands: [{max: 1, value: 'no'}, {value: 'yes'}]\n    source: A form, version 1\n"
    "procedures:\n",
)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("computes: pregnant", "computes: nothing", "'computes' must name a choice question"),
        ("when: unsure", "when: maybe", "question 'pregnant' has no option 'maybe'"),
        ("questions: [a]", "questions: [stopped_on]", "'stopped_on' is not a choice question"),
        ("{max: 1, value: 'no'}, {value: 'yes'}", "{max: 1, value: 'no'}, {max: 9, value: 'yes'}", "leave out 'max'"),
        ("{max: 1, value: 'no'}, {value: 'yes'}", "{max: 1, value: 'no'}, {value: maybe}", "must be an answer of"),
        ("{value: hi, score: 2, label: Hi}", "{value: hi, label: Hi}", "options without a score: hi"),
        ("{value: hi, score: 2, label: Hi}", "{value: hi, score: -1, label: Hi}", "score must be a whole number"),
        ("show_if: {pregnant: unsure}", "show_if: {pregnant: 'no'}", "must be shown only then"),
        ("    source: A form, version 1\n", "", "needs a 'source'"),
    ],
    ids=["computes", "when", "item-type", "last-max", "band-value", "unscored", "negative", "show-if", "source"],
)
def test_a_bad_score_is_a_file_line_error(old: str, new: str, message: str) -> None:
    assert old in SCORED
    problems = problems_of(SCORED.replace(old, new, 1))
    assert any(message in p for p in problems), problems
    assert all(p.startswith("test.yaml:") for p in problems)


def test_a_scored_option_outside_a_score_is_refused() -> None:
    text = MINIMAL.replace("options: [never, stopped]", "options: [{value: never, score: 1, label: N}, stopped]")
    assert any("options with a score, but no score lists it" in p for p in problems_of(text))


def test_staff_see_the_computed_type_with_its_score_and_items(app: Flask, doctor: FlaskClient) -> None:
    """The detail page shows the type the score gave, the total, and each item's answer."""
    book = get_rulebook(app)
    items = items_totalling(book, 25)
    screening = add_screening(app, skin_type="unsure", **items)
    assert screening["answers"]["skin_type"] == "IV"
    text = page_text(doctor.get(f"/practitioner/screening/{screening['reference']}"))
    assert "(worked out from the self-assessment below: score 25)" in text
    ruleset = book.get()
    for question_id, value in items.items():
        question = ruleset.question_by_id[question_id]
        label = next(pick_text(o.label, "en") for o in question.options if o.value == value)
        assert pick_text(question.text, "en") in text and label in text
