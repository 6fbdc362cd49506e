"""The safety report (admin page and ``flask safety-report``) and ``diff-rules --replay``'s count of
past sessions with an adverse event whose patient a candidate rule file would have stopped."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from screening.web.ruleset import get_ruleset
from tests.helpers import RULES_FILE, add_screening, execute, page_text, query, today


def session_with_event(app: Flask, screening: dict[str, Any], kind: str = "blistering", grade: str = "severe") -> int:
    """A course, a session given on ``screening`` five days ago and an adverse event recorded on it."""
    (doctor,) = query(app, "SELECT id FROM practitioners ORDER BY id LIMIT 1")
    day = (today() - dt.timedelta(days=5)).isoformat()
    execute(
        app,
        "INSERT INTO courses (patient_id, practitioner_id, created_at, started_on, planned_sessions, interval_days)"
        " VALUES (?, ?, '2026-01-01T00:00:00+00:00', ?, 6, 28)",
        [screening["patient_id"], doctor["id"], day],
    )
    course_id = query(app, "SELECT max(id) AS id FROM courses")[0]["id"]
    execute(
        app,
        "INSERT INTO course_sessions (course_id, screening_id, practitioner_id, created_at, given_on, number)"
        " VALUES (?, ?, ?, '2026-01-01T00:00:00+00:00', ?, 1)",
        [course_id, screening["id"], doctor["id"], day],
    )
    session_id = query(app, "SELECT max(id) AS id FROM course_sessions")[0]["id"]
    execute(
        app,
        "INSERT INTO adverse_events (session_id, screening_id, practitioner_id, created_at, kind, grade, onset_on,"
        " outcome, source, follow_up) VALUES (?, ?, ?, '2026-01-01T00:00:00+00:00', ?, ?, ?, 'ongoing', 'call',"
        " '=cmd|x')",
        [session_id, screening["id"], doctor["id"], kind, grade, day],
    )
    return int(session_id)


def test_an_adverse_event_appears_under_the_rules_version_of_its_screening(
    app: Flask, admin: FlaskClient, doctor: FlaskClient, runner: FlaskCliRunner
) -> None:
    screening = add_screening(app, skin_type="IV")
    session_with_event(app, screening)
    version = screening["rules_version"]

    result = runner.invoke(args=["safety-report"])
    assert result.exit_code == 0, result.output
    assert f"rules {version}: 1 session(s), 0 check-in(s) answered, 1 adverse event(s)" in result.output
    assert "  blistering (severe): 1" in result.output
    assert f"Adverse event: {screening['reference']} session 1" in result.output
    fired = [r["rule"] for r in [*screening["reasons"], *screening["notes"]]]
    assert fired and f"fired: {', '.join(fired)}" in result.output

    rows = list(csv.DictReader(io.StringIO(runner.invoke(args=["safety-report", "--format", "csv"]).output)))
    (event,) = [r for r in rows if r["row"] == "event"]
    assert (event["rules_version"], event["kind"], event["grade"]) == (version, "blistering", "severe")
    assert event["rules_fired"] == " ".join(fired) and event["rules_not_fired"]
    assert event["follow_up"] == "'=cmd|x"  # neutralised as in the CSV export
    (count,) = [r for r in rows if r["row"] == "count"]
    assert count["events"] == "1"

    page = admin.get("/practitioner/safety-report")
    assert page.status_code == 200
    text = page_text(page)
    assert screening["reference"] in text and "Blistering (Severe)" in text and version in text
    assert doctor.get("/practitioner/safety-report").status_code == 403
    assert admin.get("/practitioner/safety-report?from=2026-99-01").status_code == 400


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "yesterday"], "Invalid value for '--from'"),
        (["--format", "pdf"], "Invalid value for '--format'"),
        (["--from", "2026-02-01", "--to", "2026-01-01"], "--from must not be after --to"),
    ],
)
def test_bad_arguments_exit_2_on_stderr(runner: FlaskCliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(args=["safety-report", *args])
    assert result.exit_code == 2
    assert message in result.stderr and result.stdout == ""


def test_diff_rules_replay_counts_sessions_with_an_adverse_event_the_candidate_would_stop(
    app: Flask, doctor: FlaskClient, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    with app.app_context():
        ruleset = get_ruleset(app)
    # A note of a single chosen answer (in the shipped file: skin type IV's) turned into a review.
    note = next(
        r for r in ruleset.rules if r.outcome == "note" and len(r.condition.tests) == 1 and r.condition.tests[0].values
    )
    test = note.condition.tests[0]
    patient = add_screening(app, **{test.question: sorted(test.values)[0]})
    assert patient["status"] == "eligible"
    session_with_event(app, patient)
    add_screening(app, name="Boris Ivanov", email="boris@example.com", phone="+7 900 111 22 33")  # no event

    lines = RULES_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i in range(note.line - 1, len(lines)) if "outcome: note" in lines[i])
    lines[at] = lines[at].replace("outcome: note", "outcome: review")
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text("".join(lines), encoding="utf-8")

    result = runner.invoke(args=["diff-rules", str(RULES_FILE), str(candidate), "--replay", "30"])
    assert result.exit_code in (0, 1), result.output  # 1: examples that expect the note now fail
    assert (
        "Sessions with an adverse event (all recorded): 1; the new rules would have deferred, sent to review or"
        f" refused the patient of 1: {patient['reference']}" in result.output
    )
    same = runner.invoke(args=["diff-rules", str(RULES_FILE), str(RULES_FILE), "--replay", "30"])
    assert "refused the patient of 0." in same.output
