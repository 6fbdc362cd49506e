"""Editing the clinic file, consent texts and rule file while the app runs: an edit that
loads is served at the next request without a restart; a broken one keeps the version in
force and shows its file:line problems to administrators (and the log), not to others."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import ROOT
from tests.helpers import (
    ADMIN_EMAIL,
    CLEAR_ANSWERS,
    PATIENT_FORM,
    build_app,
    line_number,
    page_text,
    query,
    signed_in,
)

OLD_NAME, NEW_NAME = "Example Skin Clinic", "Rosewood Laser Studio"
BANNER = "An edited file was not loaded"


def edit(path: Path, old: str, new: str, *, count: int = 1) -> None:
    """Replace ``old`` by ``new`` in the file and move its modification time on by a second
    (a write within the file system's clock tick could otherwise keep the old time)."""
    before = path.stat().st_mtime_ns
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Copies of the shipped clinic file, rule file and consent texts, the app's to edit."""
    shutil.copyfile(ROOT / "clinic.yaml", tmp_path / "clinic.yaml")
    shutil.copyfile(ROOT / "rules.yaml", tmp_path / "rules.yaml")
    shutil.copytree(ROOT / "consent", tmp_path / "consent")
    return {"clinic": tmp_path / "clinic.yaml", "rules": tmp_path / "rules.yaml", "consent": tmp_path / "consent"}


def app_on(files: dict[str, Path], tmp_path: Path, **overrides: object) -> Flask:
    """An app on the copies, looking for edits at every request."""
    return build_app(
        tmp_path,
        CLINIC_FILE=str(files["clinic"]),
        RULES_FILE=str(files["rules"]),
        CONSENT_FOLDER=str(files["consent"]),
        RELOAD_STAMP=str(tmp_path / "instance" / "reload.stamp"),
        CONFIG_CHECK_SECONDS=overrides.pop("CONFIG_CHECK_SECONDS", 0),
        **overrides,
    )


@pytest.fixture
def live(files: dict[str, Path], tmp_path: Path) -> Flask:
    return app_on(files, tmp_path)


def home(client: FlaskClient) -> str:
    return page_text(client.get("/", headers={"Accept-Language": "en"}))


def test_an_edited_clinic_name_is_served_at_the_next_request(live: Flask, files: dict[str, Path]) -> None:
    client = live.test_client()
    assert OLD_NAME in home(client)
    edit(files["clinic"], OLD_NAME, NEW_NAME)
    page = home(client)
    assert NEW_NAME in page and OLD_NAME not in page


def test_no_look_before_the_check_interval(files: dict[str, Path], tmp_path: Path) -> None:
    client = app_on(files, tmp_path, CONFIG_CHECK_SECONDS=3600).test_client()
    edit(files["clinic"], OLD_NAME, NEW_NAME)
    assert OLD_NAME in home(client)


BROKEN_CLINIC = [
    pytest.param("name: {en: ", "name: [en: ", "YAML syntax error", id="yaml"),
    pytest.param("working_days: [", "working_days: [funday, ", "'working_days' lists 'funday'", id="value"),
]


@pytest.mark.parametrize(("old", "new", "message"), BROKEN_CLINIC)
def test_a_broken_clinic_edit_keeps_the_name_and_shows_admins_the_line(
    live: Flask, files: dict[str, Path], caplog: pytest.LogCaptureFixture, old: str, new: str, message: str
) -> None:
    admin = signed_in(live, ADMIN_EMAIL, "Grace Admin", role="admin")
    doctor = signed_in(live)
    patient = live.test_client()
    edit(files["clinic"], OLD_NAME, NEW_NAME)
    assert NEW_NAME in home(patient)

    edit(files["clinic"], old, new)
    with caplog.at_level(logging.ERROR, logger="screening.web.reload"):
        assert NEW_NAME in home(patient)  # the version in force stays
    text = files["clinic"].read_text(encoding="utf-8")
    where = f"{files['clinic']}:{line_number(text, new)}: "
    assert any(where in record.getMessage() and message in record.getMessage() for record in caplog.records)

    admin_page = page_text(admin.get("/practitioner/"))
    assert BANNER in admin_page
    assert re.search(re.escape(where) + r".*" + re.escape(message), admin_page), admin_page
    assert NEW_NAME in admin_page
    doctor_page = page_text(doctor.get("/practitioner/"))
    assert BANNER not in doctor_page and str(files["clinic"]) not in doctor_page

    edit(files["clinic"], new, old)  # fixed
    edit(files["clinic"], NEW_NAME, OLD_NAME)
    admin_page = page_text(admin.get("/practitioner/"))
    assert BANNER not in admin_page and OLD_NAME in admin_page


def test_an_edited_rule_text_is_served_and_recorded_with_the_new_version(live: Flask, files: dict[str, Path]) -> None:
    client = live.test_client()
    old_version = live.extensions["ruleset"].full_version
    assert "About you" in page_text(client.get("/screening", headers={"Accept-Language": "en"}))
    edit(files["rules"], "title: {en: About you,", "title: {en: About yourself,")
    assert "About yourself" in page_text(client.get("/screening", headers={"Accept-Language": "en"}))

    assert client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM}).status_code == 303
    new_version = live.extensions["ruleset"].full_version
    assert new_version != old_version
    assert [row["rules_version"] for row in query(live, "SELECT rules_version FROM screenings")] == [new_version]


def test_a_rule_file_whose_examples_fail_is_a_broken_edit(live: Flask, files: dict[str, Path]) -> None:
    admin = signed_in(live, ADMIN_EMAIL, "Grace Admin", role="admin")
    version = live.extensions["ruleset"].full_version
    edit(files["rules"], "title: {en: About you,", "title: {en: About yourself,")
    edit(files["rules"], "      expect: eligible\n", "      expect: ineligible\n")
    page = page_text(admin.get("/practitioner/"))
    line = line_number(files["rules"].read_text(encoding="utf-8"), "- name: nothing applies\n")
    assert BANNER in page
    assert f"{files['rules']}:{line}: example 'nothing applies' expected ineligible, got eligible" in page
    assert "About you" in page_text(admin.get("/screening", headers={"Accept-Language": "en"}))
    assert "About yourself" not in page_text(admin.get("/screening", headers={"Accept-Language": "en"}))
    assert live.extensions["ruleset"].full_version == version


def test_an_edited_consent_text_is_served(live: Flask, files: dict[str, Path]) -> None:
    client = live.test_client()
    path = files["consent"] / "consent.en.md"
    heading = "# Consent to the screening and to storing your answers"
    assert "storing your answers" in page_text(client.get("/consent", headers={"Accept-Language": "en"}))
    edit(path, heading, "# Consent to the screening and to keeping your answers")
    page = page_text(client.get("/consent", headers={"Accept-Language": "en"}))
    assert "keeping your answers" in page and "storing your answers" not in page


def test_a_broken_consent_text_keeps_the_one_in_force(live: Flask, files: dict[str, Path]) -> None:
    admin = signed_in(live, ADMIN_EMAIL, "Grace Admin", role="admin")
    path = files["consent"] / "consent.en.md"
    edit(path, "version: ", "versio: ")
    assert "storing your answers" in page_text(admin.get("/consent", headers={"Accept-Language": "en"}))
    assert f"{path}:1: " in page_text(admin.get("/practitioner/"))


def test_flask_reload_checks_the_files_and_tells_running_servers(live: Flask, files: dict[str, Path]) -> None:
    client = live.test_client()
    runner = live.test_cli_runner()
    assert OLD_NAME in home(client)
    # An edit that keeps the file's time and size is not noticed by the look at each request...
    before = files["clinic"].stat()
    edit(files["clinic"], OLD_NAME, OLD_NAME.upper())
    os.utime(files["clinic"], ns=(before.st_atime_ns, before.st_mtime_ns))
    assert OLD_NAME in home(client)
    # ...but `flask reload` makes every process read the files again.
    result = runner.invoke(args=["reload"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK: rules ")
    assert OLD_NAME.upper() in home(client)

    edit(files["clinic"], "working_days: [", "working_days: [funday, ")
    result = runner.invoke(args=["reload"])
    assert result.exit_code == 2
    line = line_number(files["clinic"].read_text(encoding="utf-8"), "working_days: [funday, ")
    assert f"{files['clinic']}:{line}: 'working_days' lists 'funday'" in result.stderr
    assert "running servers keep the version in force" in result.stderr


def test_flask_app_reload_on_the_command_line(files: dict[str, Path], tmp_path: Path) -> None:
    stamp = tmp_path / "stamp" / "reload.stamp"
    env = {
        "PATH": "/usr/bin:/bin",
        "SCREENING_SECRET_KEY": "a-long-enough-secret-key-for-this-test",
        "SCREENING_CLINIC_FILE": str(files["clinic"]),
        "SCREENING_RULES_FILE": str(files["rules"]),
        "SCREENING_CONSENT_FOLDER": str(files["consent"]),
        "SCREENING_DATABASE": str(tmp_path / "cli.sqlite"),
        "SCREENING_RELOAD_STAMP": str(stamp),
    }
    flask = [sys.executable, "-m", "flask", "--app", "app", "reload"]
    done = subprocess.run(flask, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: rules ") and stamp.is_file()
