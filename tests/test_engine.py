"""The engine: verdicts and reasons for real answer sets, dates, follow-ups, invalid answers."""

from __future__ import annotations

import datetime as dt

import pytest

from screening.core.engine import InvalidAnswers, add_months, age_on, clean_answers, screen, visible_questions
from screening.core.model import RuleSet
from tests.helpers import CLEAR_ANSWERS, TODAY


def verdict_for(ruleset: RuleSet, today: dt.date = TODAY, **changes: object):
    return screen(ruleset, {**CLEAR_ANSWERS, **changes}, today)


def test_all_clear_answers_are_eligible_with_no_reasons(ruleset: RuleSet) -> None:
    verdict = verdict_for(ruleset)
    assert verdict.status == "eligible"
    assert verdict.reasons == ()
    assert verdict.rescreen_after is None
    assert verdict.rules_version == ruleset.full_version


# question, answer "yes" (or the contraindicated value), expected outcome, rule id, re-screen offset in days
YES_CASES = [
    ("pregnant", "yes", "deferred", "pregnancy", None),
    ("breastfeeding", "yes", "deferred", "breastfeeding", None),
    ("herpes_active", "yes", "deferred", "herpes_active", 14),
    ("herpes_history", "yes", "review", "herpes_history", None),
    ("skin_inflammation", "yes", "deferred", "skin_inflammation", 14),
    ("cancer", "active", "ineligible", "cancer", None),
    ("cancer", "remission", "review", "cancer_remission", None),
    ("chronic_flare", "yes", "deferred", "chronic_flare", None),
    ("isotretinoin", "current", "deferred", "isotretinoin_current", None),
    ("photosensitizing_meds", "yes", "review", "photosensitizing_meds", None),
    ("recent_tan", "yes", "deferred", "recent_tan", 56),  # 8 weeks since 2026.11.2 (was 4)
    ("recent_injectables", "yes", "deferred", "recent_injectables", 14),
    ("recent_peel", "yes", "deferred", "recent_peel", 28),
    ("keloids", "yes", "review", "keloids", None),
    ("anticoagulants", "yes", "review", "anticoagulants", None),
    ("autoimmune", "yes", "review", "autoimmune", None),
    ("epilepsy", "yes", "review", "epilepsy", None),
    ("implants", "yes", "review", "implants", None),
    ("changing_mole", "yes", "deferred", "changing_mole", None),
    ("skin_type", "V", "review", "dark_skin_type", None),
    ("skin_type", "VI", "review", "dark_skin_type", None),
]


@pytest.mark.parametrize(("question", "answer", "outcome", "rule", "rescreen_days"), YES_CASES)
def test_each_rule_fires_on_its_answer(
    ruleset: RuleSet, question: str, answer: str, outcome: str, rule: str, rescreen_days: int | None
) -> None:
    verdict = verdict_for(ruleset, **{question: answer})
    assert verdict.status == outcome
    assert [r.rule for r in verdict.reasons] == [rule]
    reason = verdict.reasons[0]
    assert reason.questions == (question,)
    assert reason.patient["en"] and reason.patient["ru"] and reason.practitioner["en"]
    expected = TODAY + dt.timedelta(days=rescreen_days) if rescreen_days else None
    assert reason.rescreen_after == expected
    assert verdict.rescreen_after == expected


YES_NO_UNSURE = sorted({q for q, a, *_ in YES_CASES if a == "yes"})


@pytest.mark.parametrize("question", YES_NO_UNSURE)
def test_no_answer_never_fires(ruleset: RuleSet, question: str) -> None:
    assert verdict_for(ruleset, **{question: "no"}).status == "eligible"


@pytest.mark.parametrize("question", [*YES_NO_UNSURE, "cancer", "skin_type"])
def test_unsure_answer_needs_review(ruleset: RuleSet, question: str) -> None:
    verdict = verdict_for(ruleset, **{question: "unsure"})
    assert verdict.status == "review"
    assert [(r.rule, r.questions) for r in verdict.reasons] == [("unsure_answer", (question,))]


@pytest.mark.parametrize("skin_type", ["I", "II", "III", "IV"])
def test_lighter_skin_types_do_not_fire(ruleset: RuleSet, skin_type: str) -> None:
    assert verdict_for(ruleset, skin_type=skin_type).status == "eligible"


def test_worst_outcome_wins_and_every_reason_is_listed_in_file_order(ruleset: RuleSet) -> None:
    verdict = verdict_for(ruleset, pregnant="yes", keloids="yes", epilepsy="unsure", recent_tan="yes")
    assert verdict.status == "deferred"
    fired = [r.rule for r in verdict.reasons]
    assert set(fired) == {"pregnancy", "keloids", "unsure_answer", "recent_tan"}
    file_order = [r.id for r in ruleset.rules]
    assert fired == sorted(fired, key=file_order.index)
    # An undated deferral (pregnancy) means no date to come back on.
    assert verdict.rescreen_after is None


def test_ineligible_beats_everything(ruleset: RuleSet) -> None:
    verdict = verdict_for(ruleset, cancer="active", recent_tan="yes", keloids="yes")
    assert verdict.status == "ineligible"
    assert {r.rule for r in verdict.reasons} == {"cancer", "recent_tan", "keloids"}
    # No date is promised to a patient who cannot be treated.
    assert verdict.rescreen_after is None


def test_latest_dated_deferral_is_the_verdicts_date(ruleset: RuleSet) -> None:
    verdict = verdict_for(ruleset, recent_tan="yes", recent_injectables="yes")
    assert verdict.status == "deferred"
    assert verdict.rescreen_after == TODAY + dt.timedelta(weeks=8)


def test_several_unsure_answers_are_named(ruleset: RuleSet) -> None:
    verdict = verdict_for(ruleset, pregnant="unsure", keloids="unsure")
    assert verdict.status == "review"
    (reason,) = verdict.reasons
    assert set(reason.questions) == {"pregnant", "keloids"}


@pytest.mark.parametrize(
    ("birth", "status"),
    [
        ("2008-11-24", "eligible"),  # 18 today
        ("2008-11-25", "review"),  # 18 tomorrow
        ("2008-11-23", "eligible"),
        ("1950-01-01", "eligible"),
        ("2020-01-01", "review"),
    ],
)
def test_under_18_on_the_screening_day_needs_review(ruleset: RuleSet, birth: str, status: str) -> None:
    verdict = verdict_for(ruleset, date_of_birth=birth)
    assert verdict.status == status
    if status == "review":
        assert [r.rule for r in verdict.reasons] == ["under_18"]
        assert verdict.reasons[0].questions == ("date_of_birth",)


@pytest.mark.parametrize(
    ("stopped_on", "status", "rescreen"),
    [
        ("2026-05-24", "eligible", None),  # exactly 6 months ago
        ("2026-05-25", "deferred", "2026-11-25"),  # 6 months less a day
        ("2026-11-01", "deferred", "2027-05-01"),
        ("2025-01-01", "eligible", None),
    ],
)
def test_isotretinoin_stopped_six_month_boundary(
    ruleset: RuleSet, stopped_on: str, status: str, rescreen: str | None
) -> None:
    verdict = verdict_for(ruleset, isotretinoin="stopped", isotretinoin_stopped_on=stopped_on)
    assert verdict.status == status
    if rescreen:
        assert [r.rule for r in verdict.reasons] == ["isotretinoin_recent"]
        assert verdict.reasons[0].questions == ("isotretinoin", "isotretinoin_stopped_on")
        assert verdict.rescreen_after == dt.date.fromisoformat(rescreen)


@pytest.mark.parametrize(
    ("today", "status"), [("2027-02-28", "deferred"), ("2027-03-01", "eligible")], ids=["28 Feb", "1 Mar"]
)
def test_isotretinoin_window_from_a_month_end_is_never_short(ruleset: RuleSet, today: str, status: str) -> None:
    day = dt.date.fromisoformat(today)
    verdict = verdict_for(ruleset, day, isotretinoin="stopped", isotretinoin_stopped_on="2026-08-31")
    assert verdict.status == status
    if status == "deferred":
        assert verdict.rescreen_after == dt.date(2027, 3, 1)


def test_follow_up_answer_is_dropped_when_not_shown(ruleset: RuleSet) -> None:
    verdict = verdict_for(ruleset, isotretinoin="never", isotretinoin_stopped_on="2026-11-01")
    assert verdict.status == "eligible"
    assert "isotretinoin_stopped_on" not in verdict.answers


def test_follow_up_is_required_when_shown(ruleset: RuleSet) -> None:
    with pytest.raises(InvalidAnswers) as info:
        verdict_for(ruleset, isotretinoin="stopped")
    assert info.value.errors == {"isotretinoin_stopped_on": ["needs an answer"]}


def test_invalid_follow_up_is_ignored_when_not_shown(ruleset: RuleSet) -> None:
    # Not shown, so not validated either: the patient never saw it.
    assert verdict_for(ruleset, isotretinoin="never", isotretinoin_stopped_on="garbage").status == "eligible"


def test_concerns_are_kept_and_do_not_change_the_verdict(ruleset: RuleSet) -> None:
    verdict = verdict_for(ruleset, concerns=["acne", "wrinkles", "acne"])
    assert verdict.status == "eligible"
    assert verdict.answers["concerns"] == ["wrinkles", "acne"]


INVALID = [
    ("missing required", {"pregnant": None}, {"pregnant": ["needs an answer"]}),
    ("empty string", {"pregnant": ""}, {"pregnant": ["needs an answer"]}),
    (
        "unknown question",
        {"favourite_colour": "blue"},
        {"favourite_colour": ["is not a question of this questionnaire"]},
    ),
    ("value outside options", {"pregnant": "maybe"}, {"pregnant": ["must be one of: yes, no, unsure"]}),
    ("wrong type", {"epilepsy": True}, {"epilepsy": ["must be one of: yes, no, unsure"]}),
    ("malformed date", {"date_of_birth": "31/05/1990"}, {"date_of_birth": ["must be a date in the form YYYY-MM-DD"]}),
    ("impossible date", {"date_of_birth": "1990-02-30"}, {"date_of_birth": ["must be a date in the form YYYY-MM-DD"]}),
    ("birth in the future", {"date_of_birth": "2026-11-25"}, {"date_of_birth": ["cannot be in the future"]}),
    ("ancient date", {"date_of_birth": "1850-01-01"}, {"date_of_birth": ["must be after 1900-01-01"]}),
    (
        "stopped in the future",
        {"isotretinoin": "stopped", "isotretinoin_stopped_on": "2027-01-01"},
        {"isotretinoin_stopped_on": ["cannot be in the future"]},
    ),
    (
        "bad concern",
        {"concerns": ["tattoo"]},
        {"concerns": ["must be one of: " + "wrinkles, age_spots, scars, vascular, pores, sagging, acne"]},
    ),
    ("concerns not a list", {"concerns": 5}, {"concerns": ["must be a list of options"]}),
]


@pytest.mark.parametrize(("changes", "errors"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_answers_name_the_field(
    ruleset: RuleSet, changes: dict[str, object], errors: dict[str, list[str]]
) -> None:
    answers = {**CLEAR_ANSWERS, **changes}
    answers = {k: v for k, v in answers.items() if v is not None}
    with pytest.raises(InvalidAnswers) as info:
        screen(ruleset, answers, TODAY)
    assert info.value.errors == errors


def test_every_bad_field_is_named_at_once(ruleset: RuleSet) -> None:
    with pytest.raises(InvalidAnswers) as info:
        screen(ruleset, {"pregnant": "maybe", "colour": "red"}, TODAY)
    fields = set(info.value.errors)
    assert {"pregnant", "colour", "date_of_birth", "cancer", "skin_type"} <= fields
    assert len(fields) == len(CLEAR_ANSWERS) + 1


def test_empty_answers_are_never_eligible(ruleset: RuleSet) -> None:
    with pytest.raises(InvalidAnswers):
        screen(ruleset, {}, TODAY)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2026-01-31", 1, "2026-03-01"),
        ("2024-01-31", 1, "2024-03-01"),
        ("2024-01-29", 1, "2024-02-29"),
        ("2026-11-15", 2, "2027-01-15"),
        ("2026-12-31", 6, "2027-07-01"),
        ("2026-05-31", 6, "2026-12-01"),
    ],
)
def test_add_months(day: str, months: int, expected: str) -> None:
    assert add_months(dt.date.fromisoformat(day), months) == dt.date.fromisoformat(expected)


def test_leap_day_birthday_counts_from_march_first() -> None:
    born = dt.date(2008, 2, 29)
    assert age_on(born, dt.date(2026, 2, 28)) == 17
    assert age_on(born, dt.date(2026, 3, 1)) == 18


def test_verdict_as_dict_in_russian(ruleset: RuleSet) -> None:
    data = verdict_for(ruleset, pregnant="yes").as_dict("ru")
    assert data["status"] == "deferred"
    reason = data["reasons"][0]
    assert reason["rule"] == "pregnancy" and reason["questions"] == ["pregnant"]
    assert any("а" <= ch <= "я" for ch in reason["patient"])
    assert set(reason) == {"rule", "outcome", "questions", "patient", "practitioner", "source", "rescreen_after"}


def test_partial_answers_skip_required_but_still_check_values(ruleset: RuleSet) -> None:
    assert clean_answers(ruleset, {"pregnant": "yes"}, TODAY, partial=True) == {"pregnant": "yes"}
    with pytest.raises(InvalidAnswers) as info:
        clean_answers(ruleset, {"pregnant": "maybe"}, TODAY, partial=True)
    assert set(info.value.errors) == {"pregnant"}


@pytest.mark.parametrize(("isotretinoin", "shown"), [("stopped", True), ("never", False), (None, False)])
def test_visible_questions_follow_the_triggers(ruleset: RuleSet, isotretinoin: str | None, shown: bool) -> None:
    answers = {} if isotretinoin is None else {"isotretinoin": isotretinoin}
    visible = visible_questions(ruleset, answers, TODAY)
    assert ("isotretinoin_stopped_on" in visible) is shown
    assert {"pregnant", "date_of_birth", "skin_type"} <= visible
