"""``diff-rules``: what a new rule file changes, in words and JSON; ``--replay``
over stored screenings (nothing stored); the same report on the rules page from
an uploaded file; and the detail page's verdict under the rules in force."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from screening import storage
from screening.core.engine import screen
from screening.core.loader import load_rulebook, load_rules, parse_rules
from screening.core.model import Example, Rule, RuleSet
from screening.web.db import get_db
from screening.web.ruleset import get_ruleset
from tests.helpers import (
    MINIMAL,
    PREGNANCY_RULE,
    RULES_FILE,
    UNSURE_RULE,
    add_screening,
    audit_rows,
    deferral_to_review,
    execute,
    longest_weekly_deferral,
    page_text,
    query,
)

RULES_TEXT = RULES_FILE.read_text(encoding="utf-8")

# The small rule file the cases change, and its ids (read from it, not named here).
BASE_SET = parse_rules(MINIMAL.encode(), "base.yaml")
Q, FOLLOW_UP = BASE_SET.questions[0].id, BASE_SET.questions[2].id
TRIGGER = BASE_SET.questions[1].id
R, CATCH_ALL = BASE_SET.rules[0].id, BASE_SET.rules[1].id


@pytest.fixture(scope="module")
def tan_rule() -> Rule:
    """The deferral the copy turns into a review (in the shipped file: the recent tan)."""
    return longest_weekly_deferral(load_rules(RULES_FILE))


@pytest.fixture(scope="module")
def tan_copy(tmp_path_factory: pytest.TempPathFactory, tan_rule: Rule) -> Path:
    """A copy of the shipped file in which that deferral is a review (its examples adjusted
    to match, as a clinic making the change would)."""
    text = deferral_to_review(RULES_TEXT, tan_rule)
    ruleset = load_rules(RULES_FILE)
    lines = text.splitlines(keepends=True)
    for example in changed_examples(ruleset, tan_rule):
        # The default procedure's examples: its cases sit eight columns in.
        start = next(i for i, line in enumerate(lines) if line == f"        - name: {example.name}\n")
        end = next(i for i in range(start + 1, len(lines)) if not lines[i].startswith("          "))
        lines[start:end] = [
            line.replace("expect: deferred", "expect: review")
            for line in lines[start:end]
            if not line.startswith("          rescreen_after:")
        ]
    path = tmp_path_factory.mktemp("rules") / "copy.yaml"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def changed_examples(ruleset: RuleSet, rule: Rule) -> list[Example]:
    """The examples whose verdict is that deferral alone: they become reviews."""
    others = {r.id for r in ruleset.rules if r.outcome in ("deferred", "ineligible") and r.id != rule.id}
    return [e for e in ruleset.examples if rule.id in e.fired and e.status == "deferred" and not e.fired & others]


def store_examples(app: Flask, ruleset: RuleSet, examples: list[Example]) -> list[str]:
    """One stored screening (today) per example's answers; their references."""
    return [add_screening(app, name=f"Patient {i}", **e.answers)["reference"] for i, e in enumerate(examples)]


# --- In words -------------------------------------------------------------------------------


def _rule_added(text: str) -> str:
    return (
        text
        + f"  - id: extra\n    when: {{{Q}: unsure}}\n    outcome: review\n"
        + "    patient: P.\n    practitioner: P.\n    source: S\n"
    )


def _rule_removed(text: str) -> str:
    start = text.index(f"  - id: {R}\n")
    return text[:start] + text[text.index(f"  - id: {CATCH_ALL}\n") :]


def _question_removed(text: str) -> str:
    start = text.index(f"  - id: {FOLLOW_UP}\n")
    return text[:start] + text[text.index("procedures:\n") :]


QUESTION = "  - id: extra\n    section: main\n    type: choice\n    text: Extra?\n    options: [yes, no]\n"


@pytest.mark.parametrize(
    ("change", "kind", "line_in", "words"),
    [
        (_rule_added, "rule_added", "  - id: extra", f"rule 'extra' added (review): when {Q} is \"unsure\""),
        (_rule_removed, "rule_removed", None, f"rule '{R}' removed (was deferred)"),
        (
            lambda t: t.replace(f"when: {{{Q}: yes}}", f"when: {{{Q}: [yes, unsure]}}"),
            "condition",
            f"  - id: {R}",
            f'rule \'{R}\': condition changed from {Q} is "yes" to {Q} is one of "unsure", "yes"',
        ),
        (
            lambda t: t.replace("outcome: deferred", "outcome: review"),
            "outcome",
            f"  - id: {R}",
            f"rule '{R}': outcome changed from deferred to review",
        ),
        (
            lambda t: t.replace("outcome: deferred\n", "outcome: deferred\n    rescreen: {weeks: 2}\n"),
            "rescreen",
            f"  - id: {R}",
            f"rule '{R}': waiting period changed from none to 2 weeks after screening",
        ),
        (
            lambda t: t.replace("patient: Come back later.", "patient: Please come back later."),
            "texts",
            f"  - id: {R}",
            f"rule '{R}': texts changed (patient)",
        ),
        (
            lambda t: t.replace("procedures:\n", QUESTION + "procedures:\n"),
            "question_added",
            "  - id: extra",
            "question 'extra' added",
        ),
        (_question_removed, "question_removed", None, f"question '{FOLLOW_UP}' removed"),
        (
            lambda t: t.replace("options: [never, stopped]", "options: [never, stopped, current]"),
            "option_added",
            f"  - id: {TRIGGER}\n",
            f"question '{TRIGGER}': option 'current' added",
        ),
        (
            lambda t: t.replace("options: [yes, no, unsure]", "options: [yes, no, unsure, maybe]"),
            "option_added",
            f"  - id: {Q}\n",
            f"question '{Q}': option 'maybe' added",
        ),
        (
            lambda t: t.replace(f"show_if: {{{TRIGGER}: stopped}}", f"show_if: {{{TRIGGER}: never}}"),
            "show_if",
            f"  - id: {FOLLOW_UP}",
            f'question \'{FOLLOW_UP}\': was asked when {TRIGGER} is "stopped", now when {TRIGGER} is "never"',
        ),
    ],
    ids=[
        "rule-added",
        "rule-removed",
        "condition",
        "outcome",
        "waiting-period",
        "texts",
        "question-added",
        "question-removed",
        "option-added",
        "option-added-2",
        "show-if",
    ],
)
def test_changes_in_words_and_json(
    change: Callable[[str], str], kind: str, line_in: str | None, words: str, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(MINIMAL)
    new_text = change(MINIMAL)
    new.write_text(new_text)
    # A removal names its line in the old file.
    where, text = (new, new_text) if line_in else (old, MINIMAL)
    anchor = line_in or words.split("'")[1]
    line = text[: text.index(anchor if line_in else f"  - id: {anchor}\n")].count("\n") + 1

    result = runner.invoke(args=["diff-rules", str(old), str(new)])
    as_json = runner.invoke(args=["diff-rules", str(old), str(new), "--format", "json"])

    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert f"{where}:{line}: {words}" in result.stdout.splitlines()
    assert "1 change(s)." in result.stdout
    [part] = json.loads(as_json.stdout)["procedures"]
    assert part["changes"] == [{"kind": kind, "subject": words.split("'")[1], "line": line, "text": words}]
    assert "replay" not in part


def test_the_same_file_has_no_changes(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["diff-rules", str(RULES_FILE), str(RULES_FILE)])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "0 change(s)."


# --- Replay ------------------------------------------------------------------------------------


def test_replay_reports_each_changed_verdict_with_its_reference(
    app: Flask, runner: FlaskCliRunner, ruleset: RuleSet, tan_rule: Rule, tan_copy: Path
) -> None:
    """The recent tan deferred → review over a year of screenings: only those it alone deferred change."""
    changing = changed_examples(ruleset, tan_rule)
    staying = [e for e in ruleset.examples if tan_rule.id in e.fired and e not in changing]
    assert changing and staying
    moved = store_examples(app, ruleset, changing)
    store_examples(app, ruleset, staying)
    add_screening(app, name="Clear Patient")
    old = store_examples(app, ruleset, changing[:1])[0]
    execute(
        app,
        "UPDATE screenings SET created_at = ? WHERE reference = ?",
        [(dt.datetime.now(dt.UTC) - dt.timedelta(days=400)).isoformat(timespec="microseconds"), old],
    )
    before = query(app, "SELECT * FROM screenings ORDER BY id")
    in_window = len(changing) + len(staying) + 1

    result = runner.invoke(args=["diff-rules", str(RULES_FILE), str(tan_copy), "--replay", "365"])
    as_json = runner.invoke(args=["diff-rules", str(RULES_FILE), str(tan_copy), "--replay", "365", "--format", "json"])

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"{tan_copy}:{tan_rule.line}: rule '{tan_rule.id}': outcome changed from deferred to review" in lines
    assert (
        f"Replay of {in_window} screening(s) from the last 365 day(s): {len(moved)} verdict(s) would change." in lines
    )
    # The default procedure's block: its screenings' changes, then its adverse-event count.
    block = lines[lines.index(f"Procedure {ruleset.procedure.id} ({ruleset.procedure.name['en']}):") :]
    at = block.index(f"  deferred → review: {len(moved)}")
    assert block[at + 1] == f"    {', '.join(sorted(moved))}"
    assert block[at + 2].startswith("Sessions with an adverse event (all recorded): 0;")
    replay = json.loads(as_json.stdout)["procedures"][0]["replay"]
    assert replay == {
        "days": 365,
        "screenings": in_window,
        "changed": len(moved),
        "transitions": [{"from": "deferred", "to": "review", "count": len(moved), "references": sorted(moved)}],
        "adverse_events": {"sessions": 0, "stopped": 0, "references": []},
    }
    # Nothing stored: every screening is as it was; the read is audited.
    assert query(app, "SELECT * FROM screenings ORDER BY id") == before
    assert [json.loads(r["details"]) for r in audit_rows(app, "rules.replay")] == [
        {"days": 365, "screenings": in_window}
    ] * 2


# --- Per procedure ----------------------------------------------------------------------------

# MINIMAL with a second procedure asking the same question: compared with MINIMAL, it is added.
SECOND = "- id: second\n  name: Second\n  description: D.\n  course: C.\n  rules:\n" + PREGNANCY_RULE + UNSURE_RULE


def test_every_procedure_is_reported_under_its_name(runner: FlaskCliRunner) -> None:
    book = load_rulebook(RULES_FILE)
    assert len(book.procedures) > 1

    result = runner.invoke(args=["diff-rules", str(RULES_FILE), str(RULES_FILE)])
    as_json = runner.invoke(args=["diff-rules", str(RULES_FILE), str(RULES_FILE), "--format", "json"])

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    headings = [f"Procedure {pid} ({each.procedure.name['en']}):" for pid, each in book.procedures.items()]
    assert [line for line in lines if line.startswith("Procedure ")] == headings
    assert lines.count("0 change(s).") == len(book.procedures)
    parts = json.loads(as_json.stdout)["procedures"]
    assert [(p["id"], p["state"], p["changes"]) for p in parts] == [(pid, "compared", []) for pid in book.procedures]


def test_procedure_option_compares_that_procedure_alone(runner: FlaskCliRunner) -> None:
    book = load_rulebook(RULES_FILE)
    other = next(pid for pid in book.procedures if pid != book.default)

    result = runner.invoke(args=["diff-rules", str(RULES_FILE), str(RULES_FILE), "--procedure", other])

    assert result.exit_code == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if line.startswith("Procedure ")] == [
        f"Procedure {other} ({book.procedures[other].procedure.name['en']}):"
    ]


@pytest.mark.parametrize(
    ("old_text", "new_text", "state"), [(MINIMAL, MINIMAL + SECOND, "added"), (MINIMAL + SECOND, MINIMAL, "removed")]
)
def test_a_procedure_in_one_file_only_is_added_or_removed(
    runner: FlaskCliRunner, tmp_path: Path, old_text: str, new_text: str, state: str
) -> None:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(old_text)
    new.write_text(new_text)

    result = runner.invoke(args=["diff-rules", str(old), str(new), "--replay", "30"])
    as_json = runner.invoke(args=["diff-rules", str(old), str(new), "--format", "json"])

    assert result.exit_code == 0, result.stderr
    expected = (
        f"Procedure second (Second): added in {new}, 2 rule(s)."
        if state == "added"
        else (f"Procedure second (Second): removed (only in {old}).")
    )
    assert expected in result.stdout.splitlines()
    parts = json.loads(as_json.stdout)["procedures"]
    assert [(p["id"], p["state"]) for p in parts] == [(BASE_SET.procedure.id, "compared"), ("second", state)]


def test_replay_replays_each_procedures_screenings_under_its_own_rules(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """A deferral of the second procedure turned into a review: only that procedure's screening changes."""
    book = load_rulebook(RULES_FILE)
    other = next(each for pid, each in book.procedures.items() if pid != book.default)
    rule = longest_weekly_deferral(other)
    example = changed_examples(other, rule)[0]
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(deferral_to_review(RULES_TEXT, rule), encoding="utf-8")
    laser = add_screening(app, name="Lev Orlov")
    with app.app_context():
        # The example's own answers: the second procedure's questionnaire, screened for it.
        ipl = storage.save_screening(
            get_db(),
            screen(get_ruleset(app, other.procedure.id), example.answers, dt.date.today()),
            storage.Patient(name="Ira Sokolova", email="ira@example.com", phone=None),
            source="web",
            language="en",
            consent_version="2026-11",
            procedure=other.procedure.id,
        )

    result = runner.invoke(args=["diff-rules", str(RULES_FILE), str(candidate), "--replay", "30"])

    # Exit 1: the second procedure's examples that expect the deferral now fail, and are listed under it.
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index(f"Procedure {other.procedure.id} ({other.procedure.name['en']}):")
    default_block, other_block = lines[:at], lines[at:]
    assert "Replay of 1 screening(s) from the last 30 day(s): 0 verdict(s) would change." in default_block
    assert laser["reference"] not in result.stdout
    assert f"{candidate}:{rule.line}: rule '{rule.id}': outcome changed from deferred to review" in other_block
    assert any("example(s) fail under their file's rules" in line for line in other_block)
    assert "Replay of 1 screening(s) from the last 30 day(s): 1 verdict(s) would change." in other_block
    assert other_block[other_block.index("  deferred → review: 1") + 1] == f"    {ipl.reference}"
    assert [json.loads(r["details"]) for r in audit_rows(app, "rules.replay")] == [{"days": 30, "screenings": 2}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml", "RULES"], "missing.yaml: cannot read the rule file"),
        (["RULES", "broken.yaml"], "broken.yaml:3: YAML syntax error"),
        (["RULES", "RULES", "--replay", "0"], "Invalid value for '--replay'"),
        (["RULES", "RULES", "--format", "xml"], "Invalid value for '--format'"),
        (["RULES", "RULES", "--procedure", "nope"], "--procedure: unknown procedure 'nope'"),
    ],
    ids=["missing", "broken", "replay-0", "format", "procedure"],
)
def test_bad_input_exits_2(args: list[str], message: str, runner: FlaskCliRunner, tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("version: 1\nrules: [\n")
    paths = [str(RULES_FILE) if a == "RULES" else str(tmp_path / a) if a.endswith(".yaml") else a for a in args]
    result = runner.invoke(args=["diff-rules", *paths])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert message in result.stderr


# --- The rules page ---------------------------------------------------------------------------


def upload(client: FlaskClient, content: bytes, **fields: str) -> Any:
    """POST a candidate rule file to the rules page's comparison."""
    data: dict[str, Any] = {"rules_file": (io.BytesIO(content), "candidate.yaml"), **fields}
    return client.post("/practitioner/rules/candidate", data=data, content_type="multipart/form-data")


def test_the_candidate_report_needs_a_signed_in_practitioner(client: FlaskClient) -> None:
    response = client.get("/practitioner/rules/candidate")
    assert response.status_code == 302
    assert "/practitioner/login" in response.headers["Location"]


def test_rules_page_reports_an_uploaded_candidate(
    app: Flask, admin: FlaskClient, ruleset: RuleSet, tan_rule: Rule, tan_copy: Path
) -> None:
    moved = store_examples(app, ruleset, changed_examples(ruleset, tan_rule))
    assert "Compare a candidate rule file" in page_text(admin.get("/practitioner/rules"))

    response = upload(admin, tan_copy.read_bytes(), days="365")

    assert response.status_code == 200
    text = page_text(response)
    assert f"rule '{tan_rule.id}': outcome changed from deferred to review" in text
    assert f"{len(ruleset.examples)} example(s) passed." in text
    assert "the rules changed since the examples were reviewed" in text  # a warning of the candidate
    assert f"from the last 365 day(s), each re-evaluated on its own screening day, {len(moved)} verdict(s)" in text
    assert f"Deferred Review {len(moved)}" in text
    for reference in moved:
        assert f"{reference} ({tan_rule.id})" in text
    assert audit_rows(app, "rules.replay")[-1]["actor"]


@pytest.mark.parametrize(
    ("content", "fields", "shown"),
    [
        (b"version: 1\nrules: [\n", {}, "candidate.yaml:3: YAML syntax error"),
        (None, {}, "Choose a rule file (YAML)."),
        (b"version: 1\n", {"days": "0"}, "Enter a number of days from 1 to 3650."),
    ],
    ids=["broken", "no-file", "bad-days"],
)
def test_rules_page_refuses_a_bad_candidate(
    admin: FlaskClient, content: bytes | None, fields: dict[str, str], shown: str
) -> None:
    if content is None:
        response = admin.post("/practitioner/rules/candidate", data=fields, content_type="multipart/form-data")
    else:
        response = upload(admin, content, **fields)
    assert response.status_code == 400
    assert shown in page_text(response)


# --- The detail page ----------------------------------------------------------------------------


def test_detail_page_says_the_rules_in_force_give_the_same_verdict(
    app: Flask, doctor: FlaskClient, ruleset: RuleSet, tan_rule: Rule
) -> None:
    example = changed_examples(ruleset, tan_rule)[0]
    reference = store_examples(app, ruleset, [example])[0]
    assert "current-rules" not in doctor.get(f"/practitioner/screening/{reference}").get_data(as_text=True)
    execute(app, "UPDATE screenings SET rules_version = '2025.1.0+0123456789ab'")
    text = page_text(doctor.get(f"/practitioner/screening/{reference}"))
    assert "The rules in force give the same verdict on these answers: Deferred." in text


def test_detail_page_names_the_rule_that_decides_differently_now(
    app: Flask, doctor: FlaskClient, ruleset: RuleSet, tan_rule: Rule, tan_copy: Path
) -> None:
    """Decided under the copy (a review); the rules in force defer it again."""
    example = changed_examples(ruleset, tan_rule)[0]
    with app.app_context():
        verdict = screen(load_rules(tan_copy), example.answers, dt.datetime.now(dt.UTC).date())
        saved = storage.save_screening(
            get_db(),
            verdict,
            storage.Patient(name="Old Rules", email="old@example.com", phone=None),
            source="web",
            language="en",
            consent_version="2026-11",
            procedure=ruleset.procedure.id,
        )
    assert verdict.status == "review"
    text = page_text(doctor.get(f"/practitioner/screening/{saved.reference}"))
    assert "The rules in force give a different verdict on these answers: Deferred." in text
    assert f"Rules that decide differently: {tan_rule.id}." in text
