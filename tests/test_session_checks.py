"""Around each course session: the check before a planned session (the link once, a tan defers
the session and tells staff over real SMTP), the check-in after a session (blisters alert
staff), and the adverse events staff record on a session."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.core.check_in import complication_signs
from screening.patient.session_checks import asked_questions
from screening.web.ruleset import get_ruleset
from tests.helpers import (
    Inbox,
    add_screening,
    audit_rows,
    build_app,
    create_account,
    execute,
    first_link,
    longest_weekly_deferral,
    mail_text,
    outbox_config,
    outbox_rows,
    page_text,
    query,
    send_mail,
    signed_in,
    today,
)

STAFF = "reception@example.com"  # the shipped clinic.yaml's staff address


@pytest.fixture
def mail_app(tmp_path: Path, mailbox: Inbox, database: str) -> Flask:
    """The app on this module's backend, sending e-mail to the real SMTP server ``mailbox``."""
    return build_app(tmp_path, DATABASE=database, **outbox_config(mailbox))


def start_course(app: Flask, screening: dict[str, Any], started_on: dt.date) -> int:
    """A course on the screening's patient record, begun by the signed-in practitioner's account."""
    (doctor,) = query(app, "SELECT id FROM practitioners ORDER BY id LIMIT 1")
    execute(
        app,
        "INSERT INTO courses (patient_id, practitioner_id, created_at, started_on, planned_sessions, interval_days)"
        " VALUES (?, ?, ?, ?, 6, 28)",
        [screening["patient_id"], doctor["id"], "2026-01-01T00:00:00+00:00", started_on.isoformat()],
    )
    return int(query(app, "SELECT max(id) AS id FROM courses")[0]["id"])


def give_session(app: Flask, screening: dict[str, Any], course_id: int, given_on: dt.date, number: int = 1) -> int:
    """A session given in the course on the screening (as the session form stores one)."""
    (doctor,) = query(app, "SELECT id FROM practitioners ORDER BY id LIMIT 1")
    execute(
        app,
        "INSERT INTO course_sessions (course_id, screening_id, practitioner_id, created_at, given_on, number)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [course_id, screening["id"], doctor["id"], "2026-01-01T00:00:00+00:00", given_on.isoformat(), number],
    )
    return int(query(app, "SELECT max(id) AS id FROM course_sessions")[0]["id"])


def reminders(app: Flask, day: dt.date) -> str:
    result = app.test_cli_runner().invoke(args=["send-reminders", "--today", day.isoformat()])
    assert result.exit_code == 0, result.output
    return str(result.output)


def link_path(mailbox: Inbox, address: str, subject_part: str) -> str:
    (message,) = [m for m in mailbox.to(address) if subject_part in str(m["Subject"])]
    return urlsplit(first_link(mail_text(message))).path


def test_a_tan_before_a_planned_session_defers_it_and_tells_staff(mail_app: Flask, mailbox: Inbox) -> None:
    doctor = signed_in(mail_app)
    screening = add_screening(mail_app)
    day = today()
    course_id = start_course(mail_app, screening, day + dt.timedelta(days=3))

    # Too early (4 days ahead) nothing; 3 days ahead the link, once however often the command runs.
    assert "pre-session" not in reminders(mail_app, day - dt.timedelta(days=1))
    assert "pre-session check queued for session 1" in reminders(mail_app, day)
    assert "pre-session" not in reminders(mail_app, day)
    assert len([r for r in outbox_rows(mail_app) if r["event"] == "patient.pre_session"]) == 1
    send_mail(mail_app)
    path = link_path(mailbox, "anna@example.com", "Before your session")
    (check,) = query(mail_app, "SELECT * FROM pre_session_checks")
    assert check["course_id"] == course_id and check["number"] == 1 and path.rpartition("/")[2] not in str(check)

    # The page asks the questions whose answers go stale, and only those.
    with mail_app.app_context():
        ruleset = get_ruleset(mail_app)
    asked = asked_questions(ruleset)
    client = mail_app.test_client()
    page = client.get(path).get_data(as_text=True)
    stable = [q for q in ruleset.questions if q.id not in asked and q.role == "birth_date"]
    assert stable and f'name="{stable[0].id}"' not in page
    assert all(f'name="{q}"' in page for q in asked if ruleset.question_by_id[q].show_if is None)

    # "Yes, I have a tan" (the longest weekly deferral's answer); the other answers as before.
    tan_rule = longest_weekly_deferral(ruleset)
    tan = tan_rule.condition.tests[0]
    posted = {q: screening["answers"][q] for q in asked if q in screening["answers"]}
    posted[tan.question] = sorted(tan.values)[0]
    response = client.post(path, data=posted)
    assert response.status_code == 303
    assert "cannot go ahead" in page_text(client.get(path))

    # A new screening of the same patient, deferred, marks the planned session.
    (check,) = query(mail_app, "SELECT * FROM pre_session_checks")
    assert check["outcome"] == "deferred"
    (new,) = query(mail_app, "SELECT * FROM screenings WHERE id = ?", [check["screening_id"]])
    assert new["status"] == "deferred" and new["patient_id"] == screening["patient_id"]
    assert new["source"] == "pre-session"
    send_mail(mail_app)
    (alert,) = mailbox.to(STAFF)
    assert "pre-session check" in str(alert["Subject"]) and new["reference"] in mail_text(alert)
    assert "deferred" in mail_text(alert)

    # The course page and the due view show the mark; the day-of-session check starts from the new answers.
    course_page = page_text(doctor.get(f"/practitioner/screening/{screening['reference']}"))
    assert "is marked by the pre-session check" in course_page
    assert f"Do the day-of-session check on screening {new['reference']}" in course_page
    assert "Pre-session check: Deferred" in page_text(doctor.get("/practitioner/due"))
    assert [r["details"] for r in audit_rows(mail_app, "check.pre_session")]

    # The link works once: a second post changes nothing.
    assert client.post(path, data=posted).status_code == 200
    assert len(query(mail_app, "SELECT * FROM screenings")) == 2


def test_unanswered_questions_are_refused_beside_them_and_nothing_is_stored(mail_app: Flask, mailbox: Inbox) -> None:
    signed_in(mail_app)
    screening = add_screening(mail_app)
    start_course(mail_app, screening, today() + dt.timedelta(days=2))
    reminders(mail_app, today())
    send_mail(mail_app)
    path = link_path(mailbox, "anna@example.com", "Before your session")
    response = mail_app.test_client().post(path, data={})
    assert response.status_code == 400
    assert "Please answer this question." in page_text(response)
    assert query(mail_app, "SELECT outcome FROM pre_session_checks") == [{"outcome": None}]
    assert len(query(mail_app, "SELECT * FROM screenings")) == 1


CLEAR_CHECK_IN = {
    "redness": "yes",
    "swelling": "no",
    "blisters": "no",
    "crusting": "no",
    "darker_patches": "no",
    "lighter_patches": "no",
    "pain": "mild",
    "other": "no",
    "note": "",
}


@pytest.mark.parametrize(
    ("changes", "alerted", "words"),
    [
        ({"blisters": "yes"}, True, "blisters"),
        ({"pain": "severe"}, True, "severe pain"),
        ({"swelling": "yes"}, True, "swelling after two days"),  # answered 2 days after the session
        ({"other": "yes", "note": "A dark spot on my cheek"}, True, "something else"),
        ({}, False, ""),
    ],
)
def test_a_check_in_that_suggests_a_complication_alerts_staff(
    mail_app: Flask, mailbox: Inbox, changes: dict[str, str], alerted: bool, words: str
) -> None:
    doctor = signed_in(mail_app)
    screening = add_screening(mail_app)
    course_id = start_course(mail_app, screening, today() - dt.timedelta(days=2))
    give_session(mail_app, screening, course_id, today() - dt.timedelta(days=2))

    assert "check-in" not in reminders(mail_app, today() - dt.timedelta(days=1))  # 24 h: not yet
    assert "check-in queued for session 1" in reminders(mail_app, today())
    assert "check-in" not in reminders(mail_app, today())  # once per session
    send_mail(mail_app)
    path = link_path(mailbox, "anna@example.com", "How is your skin")
    client = mail_app.test_client()
    assert "Are there blisters?" in page_text(client.get(path))

    assert client.post(path, data={**CLEAR_CHECK_IN, **changes}).status_code == 303
    send_mail(mail_app)
    alerts = mailbox.to(STAFF)
    assert len(alerts) == int(alerted)
    if alerted:
        assert words in mail_text(alerts[0]) and screening["reference"] in mail_text(alerts[0])
    (row,) = query(mail_app, "SELECT * FROM check_ins")
    assert row["answered_at"] and (row["signs"] != "[]") == alerted
    course_page = page_text(doctor.get(f"/practitioner/screening/{screening['reference']}"))
    assert ("Check-in suggests a complication" in course_page) == alerted
    assert "Thank you" in page_text(client.get(path))


def test_a_check_in_needs_every_answer_and_a_note_for_anything_else(mail_app: Flask, mailbox: Inbox) -> None:
    signed_in(mail_app)
    screening = add_screening(mail_app)
    course_id = start_course(mail_app, screening, today() - dt.timedelta(days=3))
    give_session(mail_app, screening, course_id, today() - dt.timedelta(days=3))
    reminders(mail_app, today())
    send_mail(mail_app)
    path = link_path(mailbox, "anna@example.com", "How is your skin")
    client = mail_app.test_client()
    response = client.post(path, data={**CLEAR_CHECK_IN, "blisters": "", "other": "yes"})
    assert response.status_code == 400
    text = page_text(response)
    assert "Please answer this question." in text and "Please tell us what worries you." in text
    assert query(mail_app, "SELECT answered_at FROM check_ins") == [{"answered_at": None}]


@pytest.mark.parametrize(
    ("answers", "days_after", "signs"),
    [
        ({"blisters": "yes", "crusting": "yes"}, 1, ["blisters", "crusting"]),
        ({"swelling": "yes"}, 1, []),  # expected the day after
        ({"swelling": "yes"}, 2, ["swelling"]),
        ({"redness": "yes", "pain": "moderate"}, 3, []),
        (
            {"darker_patches": "yes", "lighter_patches": "yes", "pain": "severe"},
            5,
            ["darker_patches", "lighter_patches", "pain"],
        ),
    ],
)
def test_complication_signs(answers: dict[str, str], days_after: int, signs: list[str]) -> None:
    session = dt.date(2026, 11, 20)
    assert complication_signs(answers, session, session + dt.timedelta(days=days_after)) == signs


def test_adverse_events_are_recorded_on_a_session_audited_and_shown(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app)
    course_id = start_course(app, screening, today() - dt.timedelta(days=5))
    session_id = give_session(app, screening, course_id, today() - dt.timedelta(days=5))
    url = f"/practitioner/screening/{screening['reference']}/session/{session_id}/adverse-event"
    prefix = f"ae{session_id}-"
    event = {
        "kind": "blistering",
        "grade": "moderate",
        "outcome": "ongoing",
        "source": "call",
        "follow_up": "Review in a week",
    }
    form = {prefix + key: value for key, value in event.items()}

    # Before the session day: refused beside the field, nothing stored.
    early = doctor.post(url, data={**form, prefix + "onset_on": (today() - dt.timedelta(days=6)).isoformat()})
    assert early.status_code == 400 and "Enter a date from the session day to today." in page_text(early)
    assert query(app, "SELECT * FROM adverse_events") == []

    response = doctor.post(url, data={**form, prefix + "onset_on": (today() - dt.timedelta(days=3)).isoformat()})
    assert response.status_code == 303
    (row,) = query(app, "SELECT * FROM adverse_events")
    assert (row["kind"], row["grade"], row["session_id"], row["screening_id"]) == (
        "blistering",
        "moderate",
        session_id,
        screening["id"],
    )
    (audited,) = audit_rows(app, "course.adverse_event")
    assert audited["target"] == f"screening:{screening['reference']}"
    page = page_text(doctor.get(f"/practitioner/screening/{screening['reference']}"))
    assert "Adverse event: Blistering (Moderate)" in page and "Review in a week" in page

    # Another patient's session is not reachable through this screening.
    other = add_screening(app, name="Boris Ivanov", email="boris@example.com", phone="+7 900 111 22 33")
    assert (
        doctor.post(
            f"/practitioner/screening/{other['reference']}/session/{session_id}/adverse-event", data=form
        ).status_code
        == 404
    )


def test_unknown_and_expired_links(mail_app: Flask, mailbox: Inbox) -> None:
    signed_in(mail_app)
    screening = add_screening(mail_app)
    course_id = start_course(mail_app, screening, today() - dt.timedelta(days=2))
    give_session(mail_app, screening, course_id, today() - dt.timedelta(days=2))
    reminders(mail_app, today())
    send_mail(mail_app)
    path = link_path(mailbox, "anna@example.com", "How is your skin")
    client = mail_app.test_client()
    assert client.get("/check-in/not-a-token").status_code == 404
    assert client.get("/check/not-a-token").status_code == 404
    execute(mail_app, "UPDATE check_ins SET expires_at = ?", ["2020-01-01T00:00:00.000000+00:00"])
    assert client.get(path).status_code == 410


def test_both_links_refuse_a_post_without_its_csrf_token(tmp_path: Path, mailbox: Inbox, database: str) -> None:
    app = build_app(tmp_path, DATABASE=database, WTF_CSRF_ENABLED=True, **outbox_config(mailbox))
    create_account(app)  # the course's practitioner
    screening = add_screening(app)
    course_id = start_course(app, screening, today() - dt.timedelta(days=2))
    give_session(app, screening, course_id, today() - dt.timedelta(days=2))
    execute(app, "UPDATE courses SET interval_days = 4")  # session 2 planned two days ahead
    reminders(app, today())
    send_mail(app)
    client = app.test_client()
    before = link_path(mailbox, "anna@example.com", "Before your session")
    after = link_path(mailbox, "anna@example.com", "How is your skin")
    assert client.post(before, data={}).status_code == 400
    assert client.post(after, data=CLEAR_CHECK_IN).status_code == 400
    assert query(app, "SELECT answered_at FROM pre_session_checks") == [{"answered_at": None}]
    assert query(app, "SELECT answered_at FROM check_ins") == [{"answered_at": None}]
