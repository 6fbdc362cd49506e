"""E-mail through the outbox, delivered to a real SMTP server (aiosmtpd): the
patient's link, the staff notice, the review message, reminders, and an SMTP
server that is down, hung, or killed with the app."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from flask import Flask

from screening import storage
from screening.outbox.sender import backoff_seconds, deliver_due
from screening.web.db import get_db
from tests.helpers import (
    CLEAR_ANSWERS,
    PATIENT_FORM,
    Inbox,
    build_app,
    first_link,
    free_port,
    mail_html,
    mail_text,
    outbox_config,
    outbox_rows,
    override_to_eligible,
    page_text,
    send_mail,
    signed_in,
)

PATIENT = PATIENT_FORM
STAFF = "reception@example.com"  # the shipped clinic.yaml's staff address


def submit(app: Flask, link: bool = True, language: str = "en", **answers: object) -> str:
    """Send the questionnaire; the result page's path."""
    data = {**CLEAR_ANSWERS, **PATIENT, **answers}
    if link:
        data["email_link"] = "y"
    response = app.test_client().post("/screening", data=data, headers={"Accept-Language": language})
    assert response.status_code == 303, page_text(response)
    return str(response.headers["Location"])


def test_ticked_box_emails_a_link_that_opens_the_result(mail_app: Flask, mailbox: Inbox) -> None:
    result_path = submit(mail_app, keloids="yes")
    assert "2 delivered" in send_mail(mail_app)  # the patient's link and the staff notice (review)
    (message,) = mailbox.to("anna@example.com")
    assert message["Subject"] == "Your screening result at Example Skin Clinic"
    assert message["From"] == "screening@example.com"
    text = mail_text(message)
    link = first_link(text)
    assert link == "http://clinic.example.com" + result_path
    assert link in mail_html(message)
    page = mail_app.test_client().get(link.removeprefix("http://clinic.example.com"))
    assert page.status_code == 200 and "Your reference code" in page_text(page)
    # The message names no condition and no answer: only the link and the reference.
    for secret in ("pregnan", "deferred", "Pregnant", "answer"):
        assert secret not in text
    # Once delivered, the outbox keeps no copy of the link.
    for row in outbox_rows(mail_app, "mail"):
        assert row["delivered_at"] and row["body"] == "" and row["html"] is None


def test_no_box_no_link_and_eligible_tells_staff_nothing(mail_app: Flask, mailbox: Inbox) -> None:
    submit(mail_app, link=False)
    send_mail(mail_app)
    assert mailbox.messages == []


def test_answers_that_contradict_the_patients_recent_ones_tell_staff(mail_app: Flask, mailbox: Inbox) -> None:
    """Deferred for a tan, then "no tan" the same day: the patient reads the rules' verdict, staff are told."""
    submit(mail_app, link=False, recent_tan="yes")
    send_mail(mail_app)
    assert mailbox.to(STAFF) == []  # a deferral is the rules' decision: nothing to tell staff
    result_path = submit(mail_app, link=False)
    assert "Good news" in page_text(mail_app.test_client().get(result_path))
    send_mail(mail_app)
    (staff,) = mailbox.to(STAFF)
    with mail_app.app_context():
        (row,) = get_db().query("SELECT reference, flagged FROM screenings WHERE status = 'eligible'")
    assert row["flagged"] == 1
    assert row["reference"] in staff["Subject"] and "Anna" not in mail_text(staff)


def test_russian_patient_gets_russian_mail(mail_app: Flask, mailbox: Inbox) -> None:
    submit(mail_app, language="ru")
    send_mail(mail_app)
    (message,) = mailbox.to("anna@example.com")
    assert message["Subject"] == "Ваш результат анкеты в Клиника «Пример»"
    assert "Откройте свой результат" in mail_text(message)


def test_ticking_the_box_without_an_email_is_a_field_error(mail_app: Flask) -> None:
    data = {**CLEAR_ANSWERS, **PATIENT, "email": "", "phone": "+7 912 345 67 89", "email_link": "y"}
    response = mail_app.test_client().post("/screening", data=data, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Please give your email address to receive the link." in html
    assert 'value="+7 912 345 67 89"' in html  # the other answers are kept
    assert outbox_rows(mail_app) == []


def test_the_box_is_offered_only_when_mail_is_configured(mail_app: Flask, client) -> None:
    assert "E-mail me a link to my result" in mail_app.test_client().get("/screening?x=1").get_data(as_text=True)
    assert "E-mail me a link to my result" not in client.get("/screening?x=1").get_data(as_text=True)


def test_review_sends_staff_one_message_and_the_decision_the_patient_one(mail_app: Flask, mailbox: Inbox) -> None:
    result_path = submit(mail_app, epilepsy="unsure")
    send_mail(mail_app)
    (staff,) = mailbox.to(STAFF)
    reference = storage_row(mail_app)["reference"]
    assert reference in staff["Subject"]
    assert f"http://clinic.example.com/practitioner/screening/{reference}" in mail_text(staff)
    assert "Anna" not in mail_text(staff)
    assert "within 2 working days" in page_text(mail_app.test_client().get(result_path))

    mailbox.clear()
    doctor = signed_in(mail_app)
    assert (
        override_to_eligible(
            doctor, reference, "physician_clearance", "Seizure-free for ten years, neurologist letter on file"
        ).status_code
        == 303
    )
    send_mail(mail_app)
    (reviewed,) = mailbox.messages
    assert reviewed["To"] == "anna@example.com" and reviewed["Subject"] == "Your screening has been reviewed"
    assert first_link(mail_text(reviewed)) == "http://clinic.example.com" + result_path
    page = page_text(mail_app.test_client().get(result_path))
    assert "Good news" in page and "Cleared for treatment by a practitioner on" in page
    assert "A practitioner needs to look" not in page
    assert "Book your session" in page


def test_reminder_on_the_rescreen_date_once(mail_app: Flask, mailbox: Inbox) -> None:
    result_path = submit(mail_app, link=False, recent_tan="yes")
    client = mail_app.test_client()
    assert "E-mail me a reminder on" in page_text(client.get(result_path))
    assert client.post(result_path + "/notify", data={"what": "reminder"}).status_code == 303
    assert "we will e-mail you a reminder" in page_text(client.get(result_path))
    rescreen = storage_row(mail_app)["rescreen_after"]
    runner = mail_app.test_cli_runner()

    early = runner.invoke(args=["send-reminders", "--today", "2000-01-01"])
    assert early.exit_code == 0 and "0 reminder(s) queued" in early.output
    dry = runner.invoke(args=["send-reminders", "--dry-run", "--today", rescreen])
    assert dry.exit_code == 0 and "(not sent: dry run)" in dry.output
    send_mail(mail_app)
    assert mailbox.to("anna@example.com") == []  # the staff were told of the deferral, the patient not yet

    first = runner.invoke(args=["send-reminders", "--today", rescreen])
    assert "1 reminder(s) queued" in first.output
    send_mail(mail_app)
    (reminder,) = mailbox.to("anna@example.com")
    assert reminder["Subject"] == "You can fill in the screening questionnaire again"
    assert first_link(mail_text(reminder)) == "http://clinic.example.com/screening"

    second = runner.invoke(args=["send-reminders", "--today", rescreen])
    assert "0 reminder(s) queued" in second.output
    send_mail(mail_app)
    assert len(mailbox.to("anna@example.com")) == 1


def storage_row(app: Flask) -> dict:
    with app.app_context():
        (row,) = get_db().query("SELECT * FROM screenings")
    return row


def test_send_reminders_without_mail_is_a_usage_error(runner) -> None:
    result = runner.invoke(args=["send-reminders"])
    assert result.exit_code == 2 and "SCREENING_MAIL_SERVER" in result.output


def test_smtp_down_delays_mail_then_delivers_it(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    inbox.port = free_port()
    app = build_app(tmp_path, **outbox_config(inbox))
    submit(app)
    assert "0 delivered, 1 to retry later" in send_mail(app)
    (row,) = outbox_rows(app, "mail")
    assert row["delivered_at"] is None and row["attempts"] >= 1 and "ConnectionRefused" in row["last_error"]

    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        assert "1 delivered" in send_mail(app)
    finally:
        controller.stop()
    (message,) = inbox.messages
    assert message["To"] == "anna@example.com"


def test_a_hung_smtp_server_does_not_slow_submissions(tmp_path: Path) -> None:
    with socket.socket() as hung:  # accepts connections at the TCP level, never says a word
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        inbox = Inbox()
        inbox.port = hung.getsockname()[1]
        app = build_app(tmp_path, **{**outbox_config(inbox), "MAIL_TIMEOUT": 3})
        submit(app)  # warm up
        started = time.perf_counter()
        for _ in range(3):
            submit(app, epilepsy="unsure")
        assert time.perf_counter() - started < 2  # three submissions, any one SMTP wait would be 3 s
    # 4 links, 3 staff notices and 3 "Is this you?" questions (each later screening matched the first), all queued
    assert len(outbox_rows(app, "mail")) == 10


@pytest.mark.parametrize(("attempts", "wait"), [(1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)])
def test_backoff_doubles_up_to_the_cap(attempts: int, wait: float) -> None:
    config = {"OUTBOX_RETRY_SECONDS": 30, "OUTBOX_MAX_RETRY_SECONDS": 3600}
    assert backoff_seconds(attempts, config) == wait


def test_a_failed_message_waits_for_its_retry(tmp_path: Path, mailbox: Inbox) -> None:
    down = Inbox()
    down.port = free_port()
    app = build_app(tmp_path, **{**outbox_config(down), "OUTBOX_RETRY_SECONDS": 60})
    submit(app)
    send_mail(app)
    app.config["MAIL_PORT"] = mailbox.port  # the server is back, but the retry is a minute away
    assert "0 delivered" in send_mail(app)
    assert mailbox.messages == []


def test_two_senders_never_send_one_message_twice(mail_app: Flask, mailbox: Inbox) -> None:
    for _ in range(12):
        submit(mail_app)
    barrier = threading.Barrier(3)

    def sender() -> None:
        db = storage.connect(mail_app.config["DATABASE"])
        with mail_app.app_context():
            barrier.wait()
            while deliver_due(db, limit=2).delivered:
                pass
        db.close()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [m["Message-ID"] for m in mailbox.to("anna@example.com")]
    assert len(ids) == 12 + 11 == len(set(ids))  # 12 result links, 11 "Is this you?" (each later one matched)
    assert all(row["delivered_at"] for row in outbox_rows(mail_app))


@pytest.mark.slow
def test_kill_9_with_queued_mail_delivers_it_after_the_restart(tmp_path: Path, mailbox: Inbox) -> None:
    from bench.durability import Server

    port, dead = free_port(), free_port()
    env = {
        "SCREENING_MAIL_SERVER": "127.0.0.1",
        "SCREENING_MAIL_PORT": str(dead),
        "SCREENING_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SCREENING_OUTBOX_RETRY_SECONDS": "0.2",
        "SCREENING_OUTBOX_MAX_RETRY_SECONDS": "0.5",
    }
    # The first server queues without sending: killed while a send is in flight, its claim
    # would hold the message for the claim's lifetime (see storage.outbox), not what this checks.
    server = Server(tmp_path / "live.sqlite", port, workers=1, env={**env, "SCREENING_OUTBOX_BACKGROUND": "false"})
    server.start()
    try:
        import json
        import urllib.request

        body = json.dumps({"answers": {**CLEAR_ANSWERS, "epilepsy": "unsure"}, "patient": PATIENT_API, "consent": True})
        request = urllib.request.Request(
            server.base + "/api/v1/screenings", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
    finally:
        server.kill()
    assert mailbox.messages == []

    server = Server(tmp_path / "live.sqlite", port, workers=1, env={**env, "SCREENING_MAIL_PORT": str(mailbox.port)})
    server.start()  # its first request (the readiness check) starts the background sender
    try:
        deadline = time.monotonic() + 40
        while not mailbox.to(STAFF) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    assert len(mailbox.to(STAFF)) == 1


PATIENT_API = {"name": "Anna Example", "email": "anna@example.com"}


def test_staff_digest_gathers_screenings_into_one_message(tmp_path: Path, mailbox: Inbox) -> None:
    app = build_app(tmp_path, **{**outbox_config(mailbox), "STAFF_DIGEST_MINUTES": 10})
    for _ in range(3):
        submit(app, link=False, epilepsy="unsure")
    send_mail(app)
    assert mailbox.to(STAFF) == []  # held for ten minutes after the first
    with app.app_context():
        get_db().execute("UPDATE outbox SET next_attempt_at = '2000-01-01' WHERE id = 1")
        get_db().conn.commit()
    assert "3 delivered" in send_mail(app)
    (digest,) = mailbox.to(STAFF)
    assert digest["Subject"] == "Screenings waiting for review: 3"
    references = [row["reference"] for row in app_rows(app)]
    for reference in references:
        assert f"{reference}: http://clinic.example.com/practitioner/screening/{reference}" in mail_text(digest)


def app_rows(app: Flask) -> list[dict]:
    with app.app_context():
        return list(get_db().query("SELECT reference FROM screenings ORDER BY id"))


def test_erasing_a_screening_erases_its_queued_mail(mail_app: Flask) -> None:
    submit(mail_app, recent_tan="yes")
    reference = storage_row(mail_app)["reference"]
    assert outbox_rows(mail_app)
    result = mail_app.test_cli_runner().invoke(args=["erase", reference])
    assert result.exit_code == 0, result.output
    assert outbox_rows(mail_app) == []
    with mail_app.app_context():
        assert list(get_db().query("SELECT * FROM patient_notices")) == []
