"""Loading and validating the rule file: every broken file names its line and problem."""

from __future__ import annotations

import textwrap

import pytest

from screening.core.conditions import describe_condition
from screening.core.loader import load_rules, parse_rules
from screening.core.model import RuleFileError
from tests.helpers import MINIMAL, RULES_FILE, assert_refused_at, problems_of

# MINIMAL is a small valid rule file (one language) that the broken cases below alter.


def load_text(text: str):
    return parse_rules(textwrap.dedent(text).encode(), "test.yaml")


def test_minimal_file_loads() -> None:
    ruleset = load_text(MINIMAL)
    assert [q.id for q in ruleset.questions] == ["pregnant", "stopped", "stopped_on"]
    assert [r.id for r in ruleset.rules] == ["pregnancy", "unsure_answer"]
    # yes/no stay strings: PyYAML would otherwise read them as booleans.
    assert ruleset.question_by_id["pregnant"].option_values == {"yes", "no", "unsure"}
    assert describe_condition(ruleset.rules[0].condition) == 'pregnant is "yes"'


def test_default_rule_file_loads_with_contract_ids() -> None:
    ruleset = load_rules(RULES_FILE)
    ids = {q.id for q in ruleset.questions}
    assert {
        "date_of_birth",
        "pregnant",
        "breastfeeding",
        "herpes_active",
        "herpes_history",
        "skin_inflammation",
        "cancer",
        "chronic_flare",
        "isotretinoin",
        "isotretinoin_stopped_on",
        "photosensitizing_meds",
        "recent_tan",
        "recent_injectables",
        "recent_peel",
        "keloids",
        "anticoagulants",
        "autoimmune",
        "epilepsy",
        "implants",
        "changing_mole",
        "skin_type",
        "other_conditions",
        "lifelong_history",
        "topical_retinoids",
    } <= ids
    rule_ids = {r.id for r in ruleset.rules}
    assert {"pregnancy", "breastfeeding", "herpes_active", "skin_inflammation", "cancer", "chronic_flare"} <= rule_ids
    assert ruleset.languages == ("en", "ru")
    assert ruleset.full_version.startswith("2027.1.1+") and len(ruleset.full_version.split("+")[1]) == 12


BROKEN = [
    # (description, replace old, with new, expected fragment of the message, expected line)
    ("yaml syntax", "text: Stopped?\n", "text: [Stopped?\n", "YAML syntax error", None),
    ("duplicate question id", "id: stopped_on\n", "id: stopped\n", "duplicate question id 'stopped'", 16),
    ("duplicate rule id", "id: unsure_answer\n", "id: pregnancy\n", "duplicate rule id 'pregnancy'", 33),
    ("duplicate key", "outcome: deferred\n", "outcome: deferred\n    outcome: review\n", "duplicate key 'outcome'", 30),
    ("unknown question in rule", "{pregnant: yes}", "{pregnent: yes}", "unknown question 'pregnent'", 28),
    ("unknown option in rule", "{pregnant: yes}", "{pregnant: maybe}", "has no option 'maybe'", 28),
    ("unknown question in show_if", "{stopped: stopped}", "{stop: stopped}", "unknown question 'stop'", 20),
    ("unknown option in show_if", "{stopped: stopped}", "{stopped: paused}", "no option 'paused'", 20),
    ("unknown outcome", "outcome: deferred", "outcome: postponed", "unknown outcome 'postponed'", 29),
    ("missing patient text", "    patient: Come back later.\n", "", "missing its 'patient' text", 27),
    ("missing practitioner text", "    practitioner: Pregnant.\n", "", "missing its 'practitioner' text", 27),
    ("missing source", "    source: Clinic page\n", "", "has no 'source'", 27),
    ("unknown question type", "type: date\n", "type: datetime\n", "type 'datetime'", 18),
    ("choice without options", "    options: [never, stopped]\n", "", "needs options", 11),
    ("unknown section", "main\n    type: date", "mian\n    type: date", "unknown section 'mian'", 17),
    ("rescreen on review", "review\n", "review\n    rescreen: {weeks: 2}\n", "only a deferred rule", 36),
    ("rescreen unit", "outcome: deferred\n", "outcome: deferred\n    rescreen: {fortnights: 2}\n", "rescreen", 30),
    ("date test on choice", "{pregnant: yes}", "{pregnant: {within_months: 6}}", "needs a date question", 28),
    ("no unsure rule", "{any_answer: unsure}\n", "{pregnant: unsure}\n", "no rule sends it to review", 26),
    (
        "unknown key",
        "deferred\n",
        "deferred\n    severity: high\n",
        "rule 'pregnancy' has an unknown key 'severity'",
        30,
    ),
    ("no version", 'version: "1"\n', "", "needs a 'version'", None),
]


@pytest.mark.parametrize(("old", "new", "message", "line"), [case[1:] for case in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_rule_file_names_line_and_problem(old: str, new: str, message: str, line: int | None) -> None:
    assert_refused_at(MINIMAL, old, new, message, line)


def test_follow_up_loop_is_refused() -> None:
    text = MINIMAL.replace(
        "    options: [never, stopped]\n",
        "    options: [never, stopped]\n    show_if: {stopped_on: {within_days: 5}}\n",
    )
    problems = problems_of(text)
    assert any("loop" in p and "stopped -> stopped_on -> stopped" in p for p in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    text = MINIMAL.replace("when: {pregnant: yes}", "when: {pregnent: yes}").replace(
        "outcome: review", "outcome: maybe"
    )
    problems = problems_of(text)
    assert len(problems) == 2


def test_missing_translation_is_reported() -> None:
    text = "languages: [en, ru]\n" + MINIMAL
    problems = problems_of(text)
    assert any("must give a translation for each language" in p for p in problems)
    text = text.replace("    patient: Come back later.\n", "    patient: {en: Come back later.}\n")
    assert any("has no 'ru' translation" in p for p in problems_of(text))


def test_unreadable_file(tmp_path) -> None:
    with pytest.raises(RuleFileError) as info:
        load_rules(tmp_path / "missing.yaml")
    assert "cannot read the rule file" in info.value.problems[0]


def test_not_utf8() -> None:
    with pytest.raises(RuleFileError, match="not valid UTF-8"):
        parse_rules(b"version: \xff\n", "bad.yaml")


def test_no_python_tags_are_executed() -> None:
    with pytest.raises(RuleFileError):
        parse_rules(b"version: !!python/object/apply:os.system ['true']\n", "evil.yaml")


def test_follow_up_of_a_follow_up_in_any_order() -> None:
    import datetime as dt

    from screening.core.engine import screen

    chain = MINIMAL.replace(
        "procedures:\n",
        "  - id: detail\n    section: main\n    type: choice\n    text: Which kind?\n    options: [a, b]\n"
        "    show_if: {why: other}\n"
        "  - id: why\n    section: main\n    type: choice\n    text: Why?\n    options: [doctor, other]\n"
        "    show_if: {stopped: stopped}\n"
        "procedures:\n",
    )
    ruleset = load_text(chain)
    base = {"pregnant": "no", "stopped": "never"}
    today = dt.date(2026, 11, 24)
    # The second follow-up is dropped when its trigger (itself a follow-up) is hidden.
    verdict = screen(ruleset, {**base, "why": "other", "detail": "a"}, today)
    assert set(verdict.answers) == {"pregnant", "stopped"}
    shown = screen(
        ruleset, {**base, "stopped": "stopped", "stopped_on": "2026-01-01", "why": "other", "detail": "b"}, today
    )
    assert shown.answers["detail"] == "b"


def test_unsure_ticked_in_a_multi_question_needs_review() -> None:
    import datetime as dt

    from screening.core.engine import screen

    text = MINIMAL.replace(
        "procedures:\n",
        "  - id: areas\n    section: main\n    type: multi\n    text: Which areas?\n    options: [cheeks, unsure]\n"
        "procedures:\n",
    )
    ruleset = load_text(text)
    base = {"pregnant": "no", "stopped": "never"}
    # "Not sure" is ticked alone (core.answers refuses it with another option).
    verdict = screen(ruleset, {**base, "areas": ["unsure"]}, dt.date(2026, 11, 24))
    assert verdict.status == "review"
    assert verdict.reasons[0].questions == ("areas",)
    assert screen(ruleset, {**base, "areas": ["cheeks"]}, dt.date(2026, 11, 24)).status == "eligible"
