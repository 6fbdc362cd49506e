"""clinic.yaml: its name on every page, the booking hand-off, the clinic's
contact details and working days, the print view, and a broken file refused
with its line."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import ROOT
from screening.core.clinic import ClinicFileError, load_clinic
from tests.helpers import (
    CLEAR_ANSWERS,
    PATIENT_FORM,
    build_app,
    decide,
    override_to_eligible,
    page_text,
    signed_in,
)

PATIENT = PATIENT_FORM

NEW_CLINIC = """\
name: {en: Rosewood Laser Studio, ru: Студия «Розвуд»}
address: {en: 2 Sample Road, Testville, ru: Тествилль, Сэмпл-роуд, 2}
phone: "+44 20 7946 0123"
email: desk@rosewood.example
booking_url: "https://book.rosewood.example/new?code={reference}&result={status}"
working_days: [tue, thu]
reply_within_working_days: 3
"""


def write_clinic(tmp_path: Path, text: str = NEW_CLINIC) -> Path:
    path = tmp_path / "clinic.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def long_date(day: dt.date) -> str:
    """A date as the English pages write it: 3 December 2026."""
    return f"{day.day} {day:%B %Y}"


def result_of(client: FlaskClient, **answers: object) -> tuple[str, str]:
    """Submit the questionnaire; the result's path and its text."""
    response = client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT, **answers})
    assert response.status_code == 303
    path = response.headers["Location"]
    return path, page_text(client.get(path, headers={"Accept-Language": "en"}))


@pytest.fixture
def clinic_app(tmp_path: Path) -> Flask:
    return build_app(tmp_path, CLINIC_FILE=str(write_clinic(tmp_path)))


def test_a_new_clinic_is_named_on_every_page_and_books_with_the_reference(clinic_app: Flask) -> None:
    client = clinic_app.test_client()
    for path in ("/", "/screening", "/no-such-page"):
        assert "Rosewood Laser Studio" in page_text(client.get(path, headers={"Accept-Language": "en"}))
    assert "Студия «Розвуд»" in page_text(client.get("/", headers={"Accept-Language": "ru"}))
    path, text = result_of(client)
    reference = clinic_app.test_client().get(path).get_data(as_text=True).split('id="reference-code">')[1][:8]
    html = client.get(path).get_data(as_text=True)
    assert f'href="https://book.rosewood.example/new?code={reference}&amp;result=eligible"' in html
    assert "Book your session" in text
    assert "Rosewood Laser Studio" in text and "+44 20 7946 0123" in text and "desk@rosewood.example" in text


def test_the_shipped_clinic_is_a_fictional_example(client: FlaskClient) -> None:
    text = page_text(client.get("/", headers={"Accept-Language": "en"}))
    assert "Example Skin Clinic" in text


def test_practitioner_header_names_the_clinic(clinic_app: Flask) -> None:
    page = signed_in(clinic_app).get("/practitioner/", headers={"Accept-Language": "en"})
    assert "Rosewood Laser Studio: practitioner workspace" in page_text(page)


def test_review_shows_no_booking_button_but_when_to_expect_contact(clinic_app: Flask) -> None:
    _path, text = result_of(clinic_app.test_client(), epilepsy="unsure")
    assert "Book your session" not in text
    assert "contact you within 3 working days" in text
    assert "Staff answer on: Tuesday, Thursday." in text


def test_without_a_booking_url_the_result_gives_phone_and_email(tmp_path: Path) -> None:
    text = NEW_CLINIC.replace('booking_url: "https://book.rosewood.example/new?code={reference}&result={status}"\n', "")
    app = build_app(tmp_path, CLINIC_FILE=str(write_clinic(tmp_path, text)))
    _path, page = result_of(app.test_client())
    assert "Book your session" not in page
    assert "To book, call +44 20 7946 0123 or write to desk@rosewood.example" in page


def test_a_cleared_review_follows_the_decision_with_date_and_booking(clinic_app: Flask) -> None:
    client = clinic_app.test_client()
    path, before = result_of(client, epilepsy="unsure")
    assert "A practitioner needs to look" in before and "Why this result" in before
    reference = client.get(path).get_data(as_text=True).split('id="reference-code">')[1][:8]
    doctor = signed_in(clinic_app)
    response = override_to_eligible(
        doctor, reference, "physician_clearance", "Neurologist letter: seizure-free for ten years"
    )
    assert response.status_code == 303
    after = page_text(client.get(path, headers={"Accept-Language": "en"}))
    assert "Good news" in after and "A practitioner needs to look" not in after
    assert "Why this result" not in after  # the verdict's reasons no longer explain the result
    assert "Book your session" in after
    assert f"code={reference}&amp;result=eligible" in client.get(path).get_data(as_text=True)


LATER = dt.date.today() + dt.timedelta(days=45)
PENDING = ("A practitioner needs to look", "A practitioner will review your answers", "will contact you")


@pytest.mark.parametrize(
    ("decision", "message", "absent"),
    [
        (
            {"status": "eligible", "reason_code": "physician_clearance"},
            "Cleared for treatment by a practitioner on {today}.",
            ("reviewed your answers", "You can fill in the questionnaire again"),
        ),
        (
            {"status": "deferred", "reason_code": "clarified_with_patient", "defer_until": LATER.isoformat()},
            "A practitioner reviewed your answers on {today}: you can be treated from {later}.",
            ("Cleared for treatment", "Book your session", "You can fill in the questionnaire again"),
        ),
        (
            {"status": "ineligible", "reason_code": "contraindication_confirmed"},
            "A practitioner reviewed your answers on {today} and cannot offer you this treatment. To talk it"
            " through, call the clinic on +44 20 7946 0123 or write to desk@rosewood.example.",
            ("Cleared for treatment", "Book your session"),
        ),
    ],
)
def test_a_decided_review_shows_the_patient_one_message_that_follows_it(
    clinic_app: Flask, decision: dict[str, str], message: str, absent: tuple[str, ...]
) -> None:
    client = clinic_app.test_client()
    path, before = result_of(client, epilepsy="unsure")
    assert "A practitioner needs to look" in before
    reference = client.get(path).get_data(as_text=True).split('id="reference-code">')[1][:8]
    assert decide(signed_in(clinic_app), reference, **decision).status_code == 303

    after = page_text(client.get(path, headers={"Accept-Language": "en"}))
    words = {"today": long_date(dt.date.today()), "later": long_date(LATER)}
    assert after.count(message.format(**words)) == 1
    assert after.count("by a practitioner on") + after.count("A practitioner reviewed") == 1  # one message
    for text in (*PENDING, *absent, "The result above is their decision"):
        assert text not in after


def test_deferred_result_says_when_to_book_again(clinic_app: Flask) -> None:
    _path, text = result_of(clinic_app.test_client(), recent_tan="yes")
    assert "you can book again" in text
    assert "Book your session" not in text


def test_result_page_says_to_keep_the_link_and_print_view_has_the_details(clinic_app: Flask) -> None:
    client = clinic_app.test_client()
    path, text = result_of(client)
    assert "the only way back to your result" in text
    printed = client.get(path + "/print", headers={"Accept-Language": "en"})
    assert printed.status_code == 200
    page = page_text(printed)
    reference = client.get(path).get_data(as_text=True).split('id="reference-code">')[1][:8]
    for expected in ("Anna Petrova", reference, "Rosewood Laser Studio", "+44 20 7946 0123", "Date"):
        assert expected in page
    assert client.get("/result/not-a-token/print").status_code == 404


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (lambda t: t.replace("phone: ", "phone: [", 1), 4, "YAML syntax error"),  # where YAML notices
        (lambda t: t.replace("https://book", "javascript://book"), 5, "must be an http:// or https:// address"),
        (lambda t: t.replace("{status}", "{name}"), 5, "may contain {reference} and {status} only"),
        (lambda t: t.replace(", ru: Студия «Розвуд»", ""), 1, "has no 'ru' text"),
        (lambda t: t.replace("[tue, thu]", "[tue, funday]"), 6, "'working_days' lists 'funday'"),
        (lambda t: t + "colour: pink\n", 8, "unknown key 'colour'"),
        (lambda t: t.replace("desk@rosewood.example", "not-an-address"), 4, "must be an e-mail address"),
        (lambda t: t + "logo: missing.png\n", 8, "names a file that does not exist"),
        (lambda t: t.replace("reply_within_working_days: 3", "reply_within_working_days: soon"), 7, "1 to 30"),
    ],
)
def test_a_broken_clinic_file_is_refused_with_its_line(tmp_path: Path, change, line: int, message: str) -> None:
    path = write_clinic(tmp_path, change(NEW_CLINIC))
    with pytest.raises(ClinicFileError) as error:
        build_app(tmp_path, CLINIC_FILE=str(path))
    assert any(p.startswith(f"{path}:{line}: ") and message in p for p in error.value.problems), error.value.problems


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    path = write_clinic(tmp_path, NEW_CLINIC.replace('phone: "+44 20 7946 0123"\n', ""))
    with pytest.raises(ClinicFileError, match="has no 'phone'"):
        load_clinic(path, ("en", "ru"))


def test_the_shipped_clinic_names_its_zone_and_a_file_without_one_counts_in_utc(tmp_path: Path) -> None:
    assert load_clinic(ROOT / "clinic.yaml", ("en", "ru")).timezone == "Europe/London"
    assert load_clinic(write_clinic(tmp_path), ("en", "ru")).timezone == "UTC"


def test_check_rules_checks_the_clinic_file(runner, tmp_path: Path) -> None:
    good = runner.invoke(args=["check-rules"])
    assert good.exit_code == 0 and "clinic.yaml: OK, Example Skin Clinic, time zone Europe/London" in good.stdout
    path = write_clinic(tmp_path, NEW_CLINIC.replace("https://book", "ftp://book"))
    bad = runner.invoke(args=["check-rules", "--clinic", str(path)])
    assert bad.exit_code == 2 and f"{path}:5: 'booking_url' must be an http:// or https:// address" in bad.stderr


def test_app_py_refuses_to_start_on_a_broken_clinic_file(tmp_path: Path) -> None:
    path = write_clinic(tmp_path, NEW_CLINIC.replace("[tue, thu]", "[tue, thu"))
    env = {
        "PATH": "/usr/bin:/bin",
        "SCREENING_DATABASE": str(tmp_path / "x.sqlite"),
        "SCREENING_SECRET_KEY": "a-long-enough-secret-key-for-this-test",
        "SCREENING_CLINIC_FILE": str(path),
    }
    done = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 2
    assert "The clinic file has problems" in done.stderr and f"{path}:" in done.stderr


def test_the_logo_is_served_when_named(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    app = build_app(tmp_path, CLINIC_FILE=str(write_clinic(tmp_path, NEW_CLINIC + "logo: logo.png\n")))
    client = app.test_client()
    assert 'src="/clinic-logo"' in client.get("/").get_data(as_text=True)
    response = client.get("/clinic-logo")
    assert response.status_code == 200 and response.data.startswith(b"\x89PNG")
    response.close()
