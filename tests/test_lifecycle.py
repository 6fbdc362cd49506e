"""Patient-data lifecycle: purge after retention, erase on request, online backup; all audited."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from screening import storage
from tests.helpers import TODAY, query, save_answers


def add_screening(app: Flask, created_at: str, name: str = "Anna") -> storage.SavedScreening:
    db = storage.connect(app.config["DATABASE"])
    try:
        saved = save_answers(
            db, app.extensions["ruleset"], name=name, email=None, phone="+7 900 000 00 00", day=TODAY, keloids="yes"
        )
        db.execute("UPDATE screenings SET created_at = ? WHERE id = ?", [created_at, saved.id])
        pid = storage.get_practitioner_by_email(db, "doc@example.com")
        if pid is None:
            storage.create_practitioner(db, "doc@example.com", "Doc", "hash")
            pid = storage.get_practitioner_by_email(db, "doc@example.com")
        storage.add_review(db, saved.id, pid["id"], decision="override", status="eligible", reason_code="other")
        return saved
    finally:
        db.close()


def table(app: Flask, sql: str) -> list[tuple]:
    return [tuple(row.values()) for row in query(app, sql)]


def backed_up_references(backend: str, target: Path) -> list[str]:
    """The references the backup file holds, read back with the backend's own tools."""
    if backend == "sqlite":
        conn = sqlite3.connect(target)
        try:
            return [row[0] for row in conn.execute("SELECT reference FROM screenings")]
        finally:
            conn.close()
    # pg_restore turns the custom-format dump back into SQL: the screenings' COPY block holds the rows.
    script = subprocess.run(
        ["pg_restore", "--data-only", "--table=screenings", "-f", "-", str(target)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = script.split("FROM stdin;\n", 1)[1].split("\n\\.", 1)[0].splitlines()
    return [row.split("\t")[1] for row in rows]


def test_purge_deletes_only_old_screenings_and_their_reviews(app: Flask, runner: FlaskCliRunner) -> None:
    old = [add_screening(app, f"2020-01-0{i}T10:00:00+00:00", name=f"Old {i}") for i in range(1, 4)]
    recent = add_screening(app, "2099-01-01T10:00:00+00:00", name="Recent")
    result = runner.invoke(args=["purge", "--older-than", "365", "--yes"])
    assert result.exit_code == 0, result.output
    assert "3 screenings" in result.stdout and "3 reviews" in result.stdout
    assert table(app, "SELECT reference FROM screenings") == [(recent.reference,)]
    assert table(app, "SELECT count(*) FROM reviews") == [(1,)]
    # The name index forgot them too: the queue's search finds none.
    db = storage.connect(app.config["DATABASE"])
    try:
        assert storage.list_screenings(db, storage.ScreeningFilter(search="Old")) == []
    finally:
        db.close()
    (row,) = table(app, "SELECT action, actor, target, details FROM audit_log WHERE action = 'data.purge'")
    assert row[:3] == ("data.purge", "cli", None)
    assert '"screenings": 3' in row[3] and "Old" not in row[3]
    assert all(s.reference not in str(row) for s in old)


def test_purge_with_nothing_to_do(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["purge", "--older-than", "30", "--yes"])
    assert result.exit_code == 0
    assert "No screenings older than 30 days" in result.stdout


@pytest.mark.parametrize("days", ["0", "-5", "soon"])
def test_purge_refuses_a_bad_period(runner: FlaskCliRunner, days: str) -> None:
    result = runner.invoke(args=["purge", "--older-than", days, "--yes"])
    assert result.exit_code == 2


def test_erase_one_patient(app: Flask, runner: FlaskCliRunner) -> None:
    keep = add_screening(app, "2026-11-01T10:00:00+00:00", name="Keep")
    gone = add_screening(app, "2026-11-02T10:00:00+00:00", name="Gone")
    result = runner.invoke(args=["erase", gone.reference.lower()])
    assert result.exit_code == 0
    assert table(app, "SELECT reference FROM screenings") == [(keep.reference,)]
    assert table(app, "SELECT count(*) FROM reviews") == [(1,)]
    (row,) = table(app, "SELECT target, details FROM audit_log WHERE action = 'screening.erase'")
    assert row[0] == f"screening:{gone.reference}"
    assert "Gone" not in str(row)


def test_erase_unknown_reference_exits_2(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["erase", "NOPE1234"])
    assert result.exit_code == 2
    assert "no screening with reference 'NOPE1234'" in result.stderr


def save_patient(app: Flask, name: str) -> str:
    """A stored screening of ``name`` (without a review); its reference."""
    db = storage.connect(app.config["DATABASE"])
    try:
        return save_answers(db, app.extensions["ruleset"], name=name, email=None, day=TODAY).reference
    finally:
        db.close()


def test_erasing_again_finishes_or_confirms_the_erase(app: Flask, runner: FlaskCliRunner) -> None:
    """A second erase of the same reference is not "no screening": it finishes the wipe (and says so)."""
    gone = save_patient(app, "Gone")
    assert runner.invoke(args=["erase", gone]).exit_code == 0
    again = runner.invoke(args=["erase", gone.lower()])
    assert again.exit_code == 0, again.output
    assert f"Screening {gone} was erased before; no copy of it is left" in again.stdout
    rows = table(app, "SELECT target, details FROM audit_log WHERE action = 'screening.erase' ORDER BY id")
    assert [target for target, _ in rows] == [f"screening:{gone}"] * 2
    assert '"finished": 1' in rows[1][1] and '"wal_cleared": 1' in rows[1][1]
    unknown = runner.invoke(args=["erase", "NOPE1234"])
    assert unknown.exit_code == 2 and "no screening with reference 'NOPE1234'" in unknown.stderr


def test_backup_is_a_consistent_copy(app: Flask, runner: FlaskCliRunner, tmp_path: Path, backend: str) -> None:
    saved = add_screening(app, "2026-11-01T10:00:00+00:00")
    target = tmp_path / "backup.sqlite"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    assert "integrity_check: ok" in result.stdout
    assert backed_up_references(backend, target) == [saved.reference]
    assert target.stat().st_mode & 0o777 == 0o600
    assert table(app, "SELECT count(*) FROM audit_log WHERE action = 'data.backup'") == [(1,)]
    again = runner.invoke(args=["backup", str(target)])
    assert again.exit_code == 2 and "exists already" in again.stderr
