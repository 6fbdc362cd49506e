"""Rule texts follow the rule (issue 31, part 3): ``{period}`` placeholders rendered with
plural forms in each language, refused with their line when unknown; ``check-rules`` warns
about a number a text still states; ``diff-rules`` reports a changed period and the examples
that now fail (exit 1); an example's failure names the line of the value that fails."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient, FlaskCliRunner

from screening.core.lint import lint_rules
from screening.core.loader import parse_rules
from screening.core.model import RuleFileError, RuleSet, pick_text
from screening.core.placeholders import Period, period_words
from tests.helpers import MINIMAL, RULES_FILE, line_number, longest_weekly_deferral, page_text

RULES_TEXT = RULES_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("amount", "unit", "en", "nom", "acc", "gen"),
    [
        (1, "weeks", "1 week", "1 неделя", "1 неделю", "1 недели"),
        (2, "weeks", "2 weeks", "2 недели", "2 недели", "2 недель"),
        (5, "weeks", "5 weeks", "5 недель", "5 недель", "5 недель"),
        (21, "weeks", "21 weeks", "21 неделя", "21 неделю", "21 недели"),
        (22, "weeks", "22 weeks", "22 недели", "22 недели", "22 недель"),
        (25, "weeks", "25 weeks", "25 недель", "25 недель", "25 недель"),
        (11, "weeks", "11 weeks", "11 недель", "11 недель", "11 недель"),
        (1, "days", "1 day", "1 день", "1 день", "1 дня"),
        (2, "days", "2 days", "2 дня", "2 дня", "2 дней"),
        (5, "days", "5 days", "5 дней", "5 дней", "5 дней"),
        (21, "days", "21 days", "21 день", "21 день", "21 дня"),
        (1, "months", "1 month", "1 месяц", "1 месяц", "1 месяца"),
        (22, "months", "22 months", "22 месяца", "22 месяца", "22 месяцев"),
        (25, "months", "25 months", "25 месяцев", "25 месяцев", "25 месяцев"),
    ],
)
def test_a_period_in_words_with_its_plural_form(amount: int, unit: str, en: str, nom: str, acc: str, gen: str) -> None:
    period = Period(unit, amount)
    assert [period_words(period, "en", form) for form in ("acc", "nom", "gen")] == [en] * 3
    assert period_words(period, "ru", "nom") == nom
    assert period_words(period, "ru") == acc
    assert period_words(period, "ru", "gen") == gen


# A two-language rule file with one deferral whose period the texts name.
PERIOD_FILE = """\
version: 1
languages: [en, ru]
sections:
  - id: main
    title: {en: Main, ru: Основное}
questions:
  - id: tan
    section: main
    type: choice
    text:
      en: In the last {period:tan}, have you had a tan?
      ru: За последние {period:tan} вы загорали?
    options: [yes, no, unsure]
procedures:
- id: laser
  name: {en: Laser, ru: Лазер}
  description: {en: D, ru: Д}
  course: {en: C, ru: К}
  preparation:
    - en: For {period:tan} before your session, avoid the sun.
      ru: За {period:tan} до сеанса не загорайте.
  rules:
  - id: tan
    when: {tan: yes}
    outcome: deferred
    rescreen: {weeks: AMOUNT}
    patient:
      en: See you in about {period}.
      ru: Будем рады видеть вас через {period}.
    practitioner:
      en: Tan within {period}; {{not a placeholder}}.
      ru: Загар в течение {period|gen}; сейчас {period|nom}.
    source: S
  - id: unsure
    when: {any_answer: unsure}
    outcome: review
    patient: {en: We will call., ru: Мы позвоним.}
    practitioner: {en: Unsure., ru: Не уверен.}
    source: S
"""


@pytest.mark.parametrize(
    ("amount", "en", "ru_acc", "ru_gen", "ru_nom"),
    [
        (1, "1 week", "1 неделю", "1 недели", "1 неделя"),
        (2, "2 weeks", "2 недели", "2 недель", "2 недели"),
        (5, "5 weeks", "5 недель", "5 недель", "5 недель"),
        (21, "21 weeks", "21 неделю", "21 недели", "21 неделя"),
        (22, "22 weeks", "22 недели", "22 недель", "22 недели"),
        (25, "25 weeks", "25 недель", "25 недель", "25 недель"),
    ],
)
def test_placeholders_are_rendered_in_every_text(amount: int, en: str, ru_acc: str, ru_gen: str, ru_nom: str) -> None:
    ruleset = parse_rules(PERIOD_FILE.replace("AMOUNT", str(amount)).encode(), "p.yaml")
    rule, question = ruleset.rules[0], ruleset.questions[0]
    assert pick_text(rule.patient, "en") == f"See you in about {en}."
    assert pick_text(rule.patient, "ru") == f"Будем рады видеть вас через {ru_acc}."
    assert pick_text(rule.practitioner, "en") == f"Tan within {en}; {{not a placeholder}}."
    assert pick_text(rule.practitioner, "ru") == f"Загар в течение {ru_gen}; сейчас {ru_nom}."
    assert question.text == {
        "en": f"In the last {en}, have you had a tan?",
        "ru": f"За последние {ru_acc} вы загорали?",
    }
    assert ruleset.procedure.preparation[0] == {
        "en": f"For {en} before your session, avoid the sun.",
        "ru": f"За {ru_acc} до сеанса не загорайте.",
    }
    # Rendered numbers are the rule's own: no stale-number warning.
    assert not [w for w in lint_rules(ruleset) if "waiting period is" in w]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("See you in about {period}.", "See you in {weeks}.", "rule 'tan': unknown placeholder '{weeks}'"),
        ("See you in about {period}.", "See you in {period|dat}.", "rule 'tan': unknown form '|dat'"),
        (
            "See you in about {period}.",
            "See you in {period:sun}.",
            "rule 'tan': '{period:sun}' names an unknown rule 'sun'",
        ),
        (
            "See you in about {period}.",
            "See you in {period:unsure}.",
            "rule 'tan': '{period:unsure}': rule 'unsure' has no waiting period (rescreen:)",
        ),
        (
            "In the last {period:tan}, have",
            "In the last {period}, have",
            "question 'tan': '{period}' is outside a rule's texts: name the rule, e.g. {period:rule_id}",
        ),
        ("For {period:tan} before", "For {period:tan before", "a text: a lone '{': write {{ or }} for a brace"),
    ],
    ids=["unknown-name", "unknown-form", "unknown-rule", "rule-without-period", "no-rule", "unclosed"],
)
def test_an_unknown_placeholder_is_refused_with_its_line(old: str, new: str, message: str) -> None:
    text = PERIOD_FILE.replace("AMOUNT", "8").replace(old, new)
    with pytest.raises(RuleFileError) as info:
        parse_rules(text.encode(), "p.yaml")
    line = line_number(text, new)
    assert any(p.startswith(f"p.yaml:{line}: {message}") for p in info.value.problems), info.value.problems


def test_a_placeholder_in_a_language_without_words_is_refused() -> None:
    text = MINIMAL.replace("patient: Come back later.", "patient: Come back in {period}.").replace(
        "outcome: deferred\n", "outcome: deferred\n    rescreen: {weeks: 2}\n", 1
    )
    assert "languages:" not in text  # a single-language (en) file: the placeholder renders
    text = "languages: [de]\n" + text
    with pytest.raises(RuleFileError) as info:
        parse_rules(text.encode(), "p.yaml")
    line = line_number(text, "patient: Come back in {period}.")
    assert any(
        p.startswith(f"p.yaml:{line}:") and "no words for waiting periods in 'de'" in p for p in info.value.problems
    ), info.value.problems


# --- The shipped file: changing the recent tan's period ------------------------------------


def tan_period_changed(ruleset: RuleSet, weeks: int, *, fix_examples: bool) -> tuple[str, list[int]]:
    """The shipped file with the longest weekly deferral (the recent tan) waiting ``weeks``;
    with ``fix_examples``, its examples' re-screen dates moved to match (as a clinic would).
    Returns the text and the lines of the examples' ``rescreen_after`` values that change."""
    rule = longest_weekly_deferral(ruleset)
    assert rule.rescreen is not None
    lines = RULES_TEXT.splitlines(keepends=True)
    index = lines.index(f"        rescreen: {{weeks: {rule.rescreen.amount}}}\n", rule.line)
    lines[index] = f"        rescreen: {{weeks: {weeks}}}\n"
    moved = []
    for example in ruleset.examples:
        if example.rescreen_after is None or rule.id not in example.fired:
            continue
        at = example.lines["rescreen_after"] - 1
        assert example.rescreen_after.isoformat() in lines[at]
        moved.append(at + 1)
        if fix_examples:
            shifted = example.rescreen_after.toordinal() + 7 * (weeks - rule.rescreen.amount)
            lines[at] = lines[at].replace(
                example.rescreen_after.isoformat(), type(example.rescreen_after).fromordinal(shifted).isoformat()
            )
    return "".join(lines), moved


def test_the_shipped_texts_name_the_periods_by_placeholder(ruleset: RuleSet) -> None:
    """No text of the shipped file states a period that differs from its rule's, and a changed
    period leaves no stale number behind: the texts say it by placeholder."""
    assert not [w for w in lint_rules(ruleset) if "waiting period is" in w]
    rule = longest_weekly_deferral(ruleset)
    text, _ = tan_period_changed(ruleset, 6, fix_examples=True)
    changed = parse_rules(text.encode(), "copy.yaml")
    assert not [w for w in lint_rules(changed) if "waiting period is" in w]
    # Every text of the rule and of its question says the new period, in both languages.
    renamed = changed.rules[[r.id for r in changed.rules].index(rule.id)]
    assert "6 weeks" in renamed.patient["en"] and "6 недель" in renamed.patient["ru"]
    assert "8 weeks" not in renamed.practitioner["en"] and "8 недель" not in renamed.practitioner["ru"]
    question = changed.question_by_id[next(iter(rule.condition.questions()))]
    assert "6 weeks" in question.text["en"] and "6 недель" in question.text["ru"]
    assert any("For 6 weeks before your session" in p["en"] for p in changed.procedure.preparation)


def test_a_text_that_still_states_the_old_period_is_a_warning_with_its_line(
    ruleset: RuleSet, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    rule = longest_weekly_deferral(ruleset)
    text, _ = tan_period_changed(ruleset, 6, fix_examples=True)
    # The rule's own English patient text and its question's Russian text hard-code the old number.
    start = text.index(f"  - id: {rule.id}\n", text.index("\n    rules:\n"))
    patient = text.index("you in about {period}.", start)
    text = text[:patient] + "you in about 8 weeks." + text[patient + len("you in about {period}.") :]
    question_at = text.index(f"  - id: {rule.id}\n", text.index("\nquestions:\n"))
    asked = text.index("За последние {period:recent_tan}", question_at)
    text = text[:asked] + "За последние 8 недель" + text[asked + len("За последние {period:recent_tan}") :]
    path = tmp_path / "copy.yaml"
    path.write_text(text, encoding="utf-8")
    # A folded text's line is that of its language key, the line above its first line.
    patient_line = text[: text.index("      en: >-", text.index("    patient:", start))].count("\n") + 1
    question_line = text[:asked].count("\n")

    result = runner.invoke(args=["check-rules", str(path)])

    assert result.exit_code == 0, result.stderr
    stale = [line for line in result.stderr.splitlines() if "waiting period is" in line]
    assert stale == [
        f"{path}:{question_line}: warning: question '{rule.id}' (ru) says \"8 недель\", but the waiting period is "
        f"rule '{rule.id}': 6 weeks: write {{period}} or {{period:rule_id}} instead",
        f"{path}:{patient_line}: warning: rule '{rule.id}' (en) says \"8 weeks\", but the waiting period is "
        f"rule '{rule.id}': 6 weeks: write {{period}} or {{period:rule_id}} instead",
    ]
    assert runner.invoke(args=["check-rules", str(path), "--strict"]).exit_code == 2


def test_diff_rules_reports_the_changed_period_and_the_examples_that_now_fail(
    ruleset: RuleSet, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    rule = longest_weekly_deferral(ruleset)
    text, moved = tan_period_changed(ruleset, 6, fix_examples=False)
    path = tmp_path / "copy.yaml"
    path.write_text(text, encoding="utf-8")
    assert moved

    result = runner.invoke(args=["diff-rules", str(RULES_FILE), str(path)])
    as_json = runner.invoke(args=["diff-rules", str(RULES_FILE), str(path), "--format", "json"])

    assert result.exit_code == 1, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert (
        f"{path}:{rule.line}: rule '{rule.id}': waiting period changed from 8 weeks after screening "
        "to 6 weeks after screening"
    ) in lines
    failing = [line.strip() for line in lines if re.match(r"\s+\S+:\d+: example '", line)]
    # Each failure names the line of the example's rescreen_after, the value that no longer holds.
    assert [int(line.split(":")[1]) for line in failing] == moved
    assert all("expected rescreen_after" in line for line in failing)
    assert f"{len(moved)} example(s) fail under their file's rules (fix each, or the rules):" in lines
    assert as_json.exit_code == 1
    parts = {part["id"]: part for part in json.loads(as_json.stdout)["procedures"]}
    assert parts[ruleset.procedure.id]["failing_examples"] == failing
    # With the examples moved as well, the change alone: exit 0.
    fixed, _ = tan_period_changed(ruleset, 6, fix_examples=True)
    path.write_text(fixed, encoding="utf-8")
    result = runner.invoke(args=["diff-rules", str(RULES_FILE), str(path)])
    assert result.exit_code == 0, result.stdout
    assert "example(s) fail" not in result.stdout


def test_diff_rules_still_refuses_a_file_that_does_not_load(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "copy.yaml"
    # The default procedure's first preparation text naming the tan's period.
    at = RULES_TEXT.index("{period:recent_tan}", RULES_TEXT.index("    preparation:\n"))
    text = RULES_TEXT[:at] + "{period:recent_sun}" + RULES_TEXT[at + len("{period:recent_tan}") :]
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(args=["diff-rules", str(RULES_FILE), str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    line = line_number(text, "{period:recent_sun}") - 1  # the folded text's "- en: >-" line
    assert f"{path}:{line}: a text: '{{period:recent_sun}}' names an unknown rule 'recent_sun'" in result.stderr


def test_the_rules_page_shows_a_candidates_failing_examples_as_part_of_the_difference(
    admin: FlaskClient, ruleset: RuleSet
) -> None:
    """The in-app comparison reads a candidate as diff-rules does: failing examples are listed, not a refusal."""
    text, moved = tan_period_changed(ruleset, 6, fix_examples=False)
    data = {"rules_file": (io.BytesIO(text.encode("utf-8")), "candidate.yaml")}
    response = admin.post("/practitioner/rules/candidate", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    shown = page_text(response)
    assert "waiting period changed from 8 weeks after screening to 6 weeks after screening" in shown
    assert "Examples that fail under the candidate's rules" in shown
    assert f"{len(ruleset.examples) - len(moved)} example(s) passed." in shown
    for line in moved:
        assert f"candidate.yaml:{line}: example '" in shown
