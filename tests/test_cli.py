"""The command line: screen, check-rules, init-db, and refusing a broken rule file at start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner

from screening import ROOT
from tests.helpers import CLEAR_ANSWERS, MINIMAL


def run_screen(runner: FlaskCliRunner, answers: dict, *extra: str):
    return runner.invoke(args=["screen", "--today", "2026-11-24", *extra, "-"], input=json.dumps({"answers": answers}))


@pytest.mark.parametrize(
    ("changes", "status", "rules"),
    [
        ({}, "eligible", []),
        ({"pregnant": "yes"}, "deferred", ["pregnancy"]),
        ({"cancer": "active"}, "ineligible", ["cancer"]),
        ({"keloids": "unsure"}, "review", ["unsure_answer"]),
        ({"date_of_birth": "2010-01-01"}, "review", ["under_18"]),
        ({"isotretinoin": "stopped", "isotretinoin_stopped_on": "2026-09-01"}, "deferred", ["isotretinoin_recent"]),
    ],
)
def test_screen_prints_the_verdict(runner: FlaskCliRunner, changes: dict, status: str, rules: list[str]) -> None:
    result = run_screen(runner, {**CLEAR_ANSWERS, **changes})
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["status"] == status
    assert [r["rule"] for r in verdict["reasons"]] == rules
    assert set(verdict) == {"status", "reasons", "rescreen_after", "rules_version"}


def test_screen_dates_follow_today_option(runner: FlaskCliRunner) -> None:
    verdict = json.loads(run_screen(runner, {**CLEAR_ANSWERS, "recent_tan": "yes"}).stdout)
    assert verdict["rescreen_after"] == "2027-01-19"


def test_screen_reads_a_file(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({"answers": {**CLEAR_ANSWERS, "epilepsy": "yes"}}))
    result = runner.invoke(args=["screen", str(path)])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "review"


def test_screen_invalid_answers_go_to_stderr_with_exit_2(runner: FlaskCliRunner) -> None:
    answers = {**CLEAR_ANSWERS, "pregnant": "maybe", "colour": "red"}
    del answers["cancer"]
    result = run_screen(runner, answers)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = sorted(result.stderr.strip().splitlines())
    assert lines == [
        "cancer: needs an answer",
        "colour: is not a question of this questionnaire",
        "pregnant: must be one of: yes, no, unsure",
    ]


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", '{"answers": 5}'])
def test_screen_bad_input_exits_2(runner: FlaskCliRunner, payload: str) -> None:
    result = runner.invoke(args=["screen", "-"], input=payload)
    assert result.exit_code == 2
    assert "Error:" in result.stderr
    assert result.stdout == ""


def test_check_rules_good_file(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["check-rules"])
    assert result.exit_code == 0
    assert "OK, version 2027.1.1+" in result.stdout
    assert "questions" in result.stdout and "in 2 procedure(s), languages en, ru" in result.stdout
    assert "ipl_photorejuvenation: " in result.stdout and "every rule fired at least once" in result.stdout


def test_check_rules_bad_file(runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.replace("when: {pregnant: yes}", "when: {pregnent: yes}"))
    result = runner.invoke(args=["check-rules", str(path)])
    assert result.exit_code == 2
    assert f"{path}:28: rule 'pregnancy' names an unknown question 'pregnent'" in result.stderr


@pytest.mark.sqlite_only
def test_init_db_creates_the_schema(runner: FlaskCliRunner, app) -> None:
    os.remove(app.config["DATABASE"])
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0
    assert "m001_screenings" in result.stdout
    again = runner.invoke(args=["init-db"])
    assert "Applied" not in again.stdout and "Database ready" in again.stdout


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (
            MINIMAL.replace("when: {pregnant: yes}", "when: {pregnent: yes}"),
            ":28: rule 'pregnancy' names an unknown question",
        ),
        (MINIMAL.replace("  - id: unsure_answer", "  - id: pregnancy"), ":33: duplicate rule id 'pregnancy'"),
        (MINIMAL.replace("    text: Stopped?\n", "    text: [Stopped?\n"), ":14: YAML syntax error"),
    ],
)
def test_app_refuses_to_start_on_a_broken_rule_file(tmp_path: Path, broken: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(broken)
    env = {**os.environ, "SCREENING_RULES_FILE": str(path), "SCREENING_DATABASE": str(tmp_path / "db.sqlite")}
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "routes"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "The rule file has problems" in result.stderr
    assert f"{path}{message}" in result.stderr
    assert "Traceback" not in result.stderr
