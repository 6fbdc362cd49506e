"""The clinic's time zone (clinic.yaml's ``timezone``): every time a person reads is on the
clinic's clock with its zone named (staff pages, the audit log, the CSV export, e-mails, the
PDFs), storage stays UTC, "today" for the rules is the clinic's day, and a zone name that is
not one is refused with its line."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from screening import ROOT
from screening.core.clinic import ClinicFileError
from tests.helpers import (
    ADMIN_EMAIL,
    CLEAR_ANSWERS,
    PATIENT_FORM,
    Inbox,
    build_app,
    clinic_in_zone,
    longest_weekly_deferral,
    mail_text,
    outbox_config,
    page_text,
    pdf_text,
    query,
    send_mail,
    signed_in,
)

MOSCOW = "Europe/Moscow"
# 21:30 UTC on 7 December is 00:30 on 8 December in Moscow (UTC+3 all year).
EVENING = dt.datetime(2026, 12, 7, 21, 30, tzinfo=dt.UTC)
STAFF = "reception@example.com"  # the shipped clinic.yaml's staff address


@pytest.fixture
def evening() -> Iterator[None]:
    """The whole test happens at 21:30 UTC on 7 December 2026 (the clock stands still)."""
    with time_machine.travel(EVENING, tick=False):
        yield


@pytest.fixture
def moscow(evening: None, tmp_path: Path, mailbox: Inbox) -> Flask:
    """The shipped clinic in Moscow, e-mailing ``mailbox``."""
    return build_app(tmp_path, CLINIC_FILE=clinic_in_zone(tmp_path, MOSCOW), **outbox_config(mailbox))


def submit(app: Flask, language: str = "en", **answers: object) -> str:
    """The questionnaire sent now (the link e-mailed); the result page's path."""
    data = {**CLEAR_ANSWERS, **PATIENT_FORM, "email_link": "y", **answers}
    response = app.test_client().post("/screening", data=data, headers={"Accept-Language": language})
    assert response.status_code == 303, page_text(response)
    return str(response.headers["Location"])


def only_screening(app: Flask) -> dict[str, object]:
    (row,) = query(app, "SELECT reference, created_at, signed_at, rescreen_after FROM screenings")
    return row


def test_storage_stays_utc(moscow: Flask) -> None:
    submit(moscow)
    row = only_screening(moscow)
    assert row["created_at"] == row["signed_at"] == "2026-12-07T21:30:00.000000+00:00"


def test_staff_read_the_clinics_time_with_its_zone(moscow: Flask) -> None:
    submit(moscow, keloids="yes")
    reference = only_screening(moscow)["reference"]
    doctor = signed_in(moscow)
    detail = page_text(doctor.get(f"/practitioner/screening/{reference}"))
    assert "Screened 2026-12-08 00:30 MSK" in detail
    assert "2026-12-07" not in detail  # no UTC date anywhere on the page
    assert "2026-12-08 00:30 MSK" in page_text(doctor.get("/practitioner/?view=all"))
    chart = doctor.get(f"/practitioner/screening/{reference}/chart.pdf")
    assert chart.status_code == 200 and "2026-12-08 00:30 MSK" in pdf_text(chart.data)
    # Administrators: the audit log and the CSV export.
    admin = signed_in(moscow, ADMIN_EMAIL, "Grace Admin", role="admin")
    audit = page_text(admin.get("/practitioner/audit"))
    assert f"Time ({MOSCOW})" in audit and "2026-12-08 00:30 MSK" in audit
    export = admin.get("/practitioner/export.csv?view=all").get_data(as_text=True)
    header, row = export.splitlines()[:2]
    assert f"Screened at ({MOSCOW})" in header and "2026-12-08 00:30" in row


@pytest.mark.parametrize(
    ("language", "time"),
    [("en", "8 Dec 2026, 00:30 MSK"), ("ru", "8 дек. 2026\u202fг., 00:30 MSK")],  # Babel's narrow space before г.
)
def test_emails_name_the_clinics_time_and_zone(moscow: Flask, mailbox: Inbox, language: str, time: str) -> None:
    submit(moscow, language=language, keloids="yes")  # a review: the staff are told too
    assert "2 delivered" in send_mail(moscow)
    (patient,) = mailbox.to("anna@example.com")
    filled_in = "Questionnaire filled in" if language == "en" else "Анкета заполнена"
    assert f"{filled_in}: {time}." in mail_text(patient)
    (staff,) = mailbox.to(STAFF)  # in the rule file's first language, whatever the patient's
    assert "Questionnaire filled in: 8 Dec 2026, 00:30 MSK." in mail_text(staff)


@pytest.mark.parametrize(
    ("language", "date", "signed"),
    [
        ("en", "Date 8 Dec 2026, 00:30 MSK", "Signed at 8 Dec 2026, 00:30 MSK"),
        ("ru", "Дата 8 дек. 2026 г., 00:30 MSK", "Время подписи 8 дек. 2026 г., 00:30 MSK"),
    ],
)
def test_the_patients_pdf_names_the_clinics_time_and_zone(moscow: Flask, language: str, date: str, signed: str) -> None:
    client: FlaskClient = moscow.test_client()
    result = submit(moscow, language=language)
    response = client.get(result + "/record.pdf", headers={"Accept-Language": language})
    assert response.status_code == 200
    text = pdf_text(response.data)
    assert date in text and signed in text, text[:600]


def test_a_deferral_counts_from_the_clinics_day(tmp_path: Path) -> None:
    """22:30 UTC on 7 December is 01:30 on the 8th in Moscow: the wait counts from the 8th."""
    app = build_app(tmp_path, CLINIC_FILE=clinic_in_zone(tmp_path, MOSCOW))
    rule = longest_weekly_deferral(app.extensions["ruleset"])  # the recent tan, 8 weeks
    assert rule.rescreen is not None
    with time_machine.travel(dt.datetime(2026, 12, 7, 22, 30, tzinfo=dt.UTC), tick=False):
        result = submit(app, recent_tan="yes")
        page = page_text(app.test_client().get(result, headers={"Accept-Language": "en"}))
    expected = dt.date(2026, 12, 8) + dt.timedelta(weeks=rule.rescreen.amount)
    assert only_screening(app)["rescreen_after"] == expected.isoformat()
    assert f"{expected.day} {expected:%B %Y}" in page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Europe/Moskva", "'timezone' must be a time zone name such as Europe/London, not 'Europe/Moskva'"),
        ("europe/moscow", "not 'europe/moscow' (did you mean Europe/Moscow?)"),
        ("localtime", "not 'localtime'"),
        ("../../etc/passwd", "not '../../etc/passwd'"),
        ("Europe", "not 'Europe'"),
        ("[Europe/Moscow]", "'timezone' must be a text"),
    ],
)
def test_a_bad_zone_name_is_refused_with_its_line(tmp_path: Path, value: str, message: str) -> None:
    path = Path(clinic_in_zone(tmp_path, value))
    line = path.read_text(encoding="utf-8").splitlines().index(f"timezone: {value}") + 1
    expected = f"{path}:{line}: "
    # At start-up...
    with pytest.raises(ClinicFileError) as error:
        build_app(tmp_path, CLINIC_FILE=str(path))
    assert any(p.startswith(expected) and message in p for p in error.value.problems), error.value.problems
    # ...and by check-rules, on stderr with exit 2.
    good = build_app(tmp_path / "good")
    checked = good.test_cli_runner().invoke(args=["check-rules", "--clinic", str(path)])
    assert checked.exit_code == 2
    assert any(p.startswith(expected) and message in p for p in checked.stderr.splitlines()), checked.stderr


def run_app_py(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``import app`` as gunicorn would, with the SCREENING_* settings ``env``."""
    environment = {
        "PATH": "/usr/bin:/bin",
        "SCREENING_DATABASE": str(tmp_path / "x.sqlite"),
        "SCREENING_SECRET_KEY": "a-long-enough-secret-key-for-this-test",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", "import app"], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_app_py_refuses_a_bad_zone_with_its_line(tmp_path: Path) -> None:
    path = Path(clinic_in_zone(tmp_path, "Mars/Olympus"))
    line = path.read_text(encoding="utf-8").splitlines().index("timezone: Mars/Olympus") + 1
    done = run_app_py(tmp_path, SCREENING_CLINIC_FILE=str(path))
    assert done.returncode == 2
    assert "The clinic file has problems" in done.stderr and f"{path}:{line}: 'timezone'" in done.stderr


def test_the_old_timezone_setting_is_refused_not_ignored(tmp_path: Path) -> None:
    """One source of truth: a leftover SCREENING_TIMEZONE says where the zone now lives."""
    done = run_app_py(tmp_path, SCREENING_TIMEZONE="Europe/Moscow")
    assert done.returncode == 2
    assert "SCREENING_TIMEZONE (Europe/Moscow) is no longer read" in done.stderr and "clinic.yaml" in done.stderr
