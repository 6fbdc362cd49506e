"""A patient record shows only what a screening's own token proves (issue 30, item 2):
a match on typed e-mail or phone and date of birth is a suggestion for staff until the
patient (their own earlier result link, or the link e-mailed to the record's address)
or a practitioner confirms it. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import storage
from screening.web.ruleset import get_ruleset
from tests.helpers import (
    CLEAR_ANSWERS,
    END_OTHER_CONNECTIONS,
    PATIENT_FORM,
    Inbox,
    audit_rows,
    bearer,
    build_app,
    execute,
    first_link,
    mail_text,
    make_token,
    outbox_config,
    page_text,
    query,
    send_mail,
    signed_in,
    today,
)

# The sentence the result page gives a patient whose course is planned.
COURSE_LINE = "Your course of 6 sessions has been planned."
STRANGER = {"patient_name": "Eve Stranger", "signature": "Eve Stranger", "phone": "+7 900 111 22 33"}
# The victim's address with its case and the spaces around it changed.
TYPED_LIKE_THE_VICTIM = "  ANNA@Example.COM "


def submit(client: FlaskClient, **details: str) -> str:
    """Send the questionnaire (all clear, Anna's details unless changed); the result page's path."""
    response = client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM, **details})
    assert response.status_code == 303, page_text(response)
    return str(response.headers["Location"])


def latest(app: Flask) -> dict[str, Any]:
    """The newest screening's row."""
    return query(app, "SELECT * FROM screenings ORDER BY id DESC LIMIT 1")[0]


def link_of(app: Flask, reference: str) -> tuple[int, str]:
    """(patient_id, patient_link) of the screening."""
    row = query(app, "SELECT patient_id, patient_link FROM screenings WHERE reference = ?", [reference])[0]
    return int(row["patient_id"]), str(row["patient_link"])


def victim_with_a_course(app: Flask, doctor: FlaskClient) -> tuple[str, dict[str, Any]]:
    """Anna's first screening, its result page and a course planned on her record."""
    result = submit(app.test_client())
    screening = latest(app)
    data = {"started_on": today().isoformat(), "planned_sessions": "6", "interval_weeks": "4"}
    assert doctor.post(f"/practitioner/screening/{screening['reference']}/course", data=data).status_code == 303
    assert COURSE_LINE in page_text(app.test_client().get(result))
    return result, screening


@pytest.fixture
def mail_app(tmp_path: Path, database: str, mailbox: Inbox) -> Flask:
    """The app on this test's backend, sending e-mail to ``mailbox``."""
    return build_app(tmp_path, DATABASE=database, **outbox_config(mailbox))


def test_a_stranger_with_the_victims_email_and_birth_date_sees_nothing_of_the_record(
    app: Flask, doctor: FlaskClient
) -> None:
    victim_result, victim = victim_with_a_course(app, doctor)
    stranger = app.test_client()
    result = submit(stranger, email=TYPED_LIKE_THE_VICTIM, **STRANGER)
    fake = latest(app)

    page = page_text(stranger.get(result))
    assert COURSE_LINE not in page and "Session" not in page
    assert COURSE_LINE in page_text(app.test_client().get(victim_result))  # the owner still sees it
    # Staff still see the match, as a suggestion, kept for the staff's answer comparison.
    assert link_of(app, fake["reference"]) == (victim["patient_id"], "suggested")
    assert link_of(app, victim["reference"]) == (victim["patient_id"], "own")
    detail = page_text(doctor.get(f"/practitioner/screening/{fake['reference']}"))
    assert "Suggested match (unconfirmed)" in detail and "Confirm link" in detail
    assert victim["reference"] in detail
    on_victims_page = page_text(doctor.get(f"/practitioner/screening/{victim['reference']}"))
    assert f"{fake['reference']} Suggested match (unconfirmed)" in on_victims_page
    assert "Confirm link" not in on_victims_page  # the victim's own screening began the record
    # The stranger's phone does not become a key of the victim's record: a later screening with it goes elsewhere.
    submit(app.test_client(), email="eve@example.net", **STRANGER)
    assert link_of(app, latest(app)["reference"])[1] == "own"
    assert link_of(app, latest(app)["reference"])[0] != victim["patient_id"]
    # The staff API read names each link's state.
    token, _ = make_token(app)
    body = app.test_client().get(f"/api/v1/screenings/{fake['reference']}/patient", headers=bearer(token)).get_json()
    assert body["patient_link"] == "suggested"
    assert [(s["reference"], s["patient_link"]) for s in body["screenings"]] == [
        (victim["reference"], "own"),
        (fake["reference"], "suggested"),
    ]


def test_the_link_emailed_to_the_records_address_confirms_it(mail_app: Flask, mailbox: Inbox) -> None:
    doctor = signed_in(mail_app)
    victim_with_a_course(mail_app, doctor)
    send_mail(mail_app)
    mailbox.clear()
    newcomer = mail_app.test_client()
    result = submit(newcomer, email=TYPED_LIKE_THE_VICTIM, patient_name="Anna Petrova")
    screening = latest(mail_app)
    assert COURSE_LINE not in page_text(newcomer.get(result))
    send_mail(mail_app)
    # To the address the record holds, as its owner typed it: not to what the newcomer typed.
    (message,) = mailbox.messages
    assert message["To"] == "anna@example.com"
    assert message["Subject"] == "Is this you? Link your new screening to your record"
    text = mail_text(message)
    link = first_link(text).removeprefix("http://clinic.example.com")
    assert re.fullmatch(r"/record-link/[A-Za-z0-9_-]{43}", link)
    assert "for 7 days" in text and screening["reference"] not in text
    # Only the link's hash is stored.
    (request,) = query(mail_app, "SELECT * FROM record_link_requests")
    assert request["token_hash"] == storage.hash_token(link.rsplit("/", 1)[1]) and request["used_at"] is None

    # A mail scanner's GET changes nothing.
    owner = mail_app.test_client()
    page = owner.get(link)
    assert page.status_code == 200 and "Is this you?" in page_text(page)
    assert "Yes, this was me: link it to my record" in page_text(page)
    assert link_of(mail_app, screening["reference"])[1] == "suggested"
    # The button needs its CSRF token.
    mail_app.config["WTF_CSRF_ENABLED"] = True
    assert owner.post(link).status_code == 400
    assert link_of(mail_app, screening["reference"])[1] == "suggested"
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', owner.get(link).get_data(as_text=True))
    assert csrf
    confirmed = owner.post(link, data={"csrf_token": csrf.group(1)})
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == link
    assert link_of(mail_app, screening["reference"])[1] == "confirmed"
    assert "Your new screening is linked to your record" in page_text(owner.get(link))
    (row,) = audit_rows(mail_app, "patient.confirm")
    assert row["actor"] == "patient" and row["target"] == f"screening:{screening['reference']}"
    assert link.rsplit("/", 1)[1] not in str(row["details"])  # the hash, never the link
    mail_app.config["WTF_CSRF_ENABLED"] = False
    # Now the course shows on the new screening's result page, and the link is spent.
    assert COURSE_LINE in page_text(newcomer.get(result))
    assert owner.post(link).status_code == 200 and len(audit_rows(mail_app, "patient.confirm")) == 1
    assert "Confirm link" not in page_text(doctor.get(f"/practitioner/screening/{screening['reference']}"))


def test_an_expired_or_unknown_link_confirms_nothing(mail_app: Flask, mailbox: Inbox) -> None:
    submit(mail_app.test_client())
    submit(mail_app.test_client(), email=TYPED_LIKE_THE_VICTIM)
    screening = latest(mail_app)
    send_mail(mail_app)
    (message,) = mailbox.to("anna@example.com")[-1:]
    link = first_link(mail_text(message)).removeprefix("http://clinic.example.com")
    execute(mail_app, "UPDATE record_link_requests SET expires_at = ?", ["2020-01-01T00:00:00.000000+00:00"])
    client = mail_app.test_client()
    expired = client.get(link)
    assert expired.status_code == 410 and "This link has expired" in page_text(expired)
    assert client.post(link).status_code == 410
    assert link_of(mail_app, screening["reference"])[1] == "suggested"
    assert client.get("/record-link/" + "x" * 43).status_code == 404
    # Erasing the screening takes its link request with it.
    db = storage.connect(mail_app.config["DATABASE"])
    try:
        assert storage.erase_screening(db, screening["reference"]) is not None
    finally:
        db.close()
    assert query(mail_app, "SELECT * FROM record_link_requests") == []
    assert client.get(link).status_code == 404


def test_a_match_on_the_phone_alone_mails_no_one(mail_app: Flask, mailbox: Inbox) -> None:
    submit(mail_app.test_client(), phone="+7 912 345 67 89")
    submit(mail_app.test_client(), email="someone.else@example.org", phone="+7 (912) 345-67-89")
    assert link_of(mail_app, latest(mail_app)["reference"])[1] == "suggested"
    send_mail(mail_app)
    assert mailbox.messages == []
    assert query(mail_app, "SELECT * FROM record_link_requests") == []


def test_answering_again_through_ones_own_result_link_confirms(app: Flask, doctor: FlaskClient) -> None:
    result, victim = victim_with_a_course(app, doctor)
    patient = app.test_client()
    again = answer_again(app, patient, result)
    assert link_of(app, latest(app)["reference"]) == (victim["patient_id"], "confirmed")
    assert COURSE_LINE in page_text(patient.get(again))


def test_answering_again_from_a_suggested_screening_proves_nothing(app: Flask, doctor: FlaskClient) -> None:
    _, victim = victim_with_a_course(app, doctor)
    stranger = app.test_client()
    first = submit(stranger, email=TYPED_LIKE_THE_VICTIM, **STRANGER)
    again = answer_again(app, stranger, first, email=TYPED_LIKE_THE_VICTIM, **STRANGER)
    assert link_of(app, latest(app)["reference"]) == (victim["patient_id"], "suggested")
    assert COURSE_LINE not in page_text(stranger.get(again))


def answer_again(app: Flask, client: FlaskClient, result: str, **details: str) -> str:
    """Send the "answer again" form from ``result`` with every carried section confirmed; the new result's path."""
    with app.app_context():
        ruleset = get_ruleset(app)
    ticks = {f"confirm_{q.section}": "y" for q in ruleset.questions if q.carry_over}
    response = client.post(result + "/again", data={**CLEAR_ANSWERS, **PATIENT_FORM, **details, **ticks})
    assert response.status_code == 303, page_text(response)
    return str(response.headers["Location"])


def test_a_practitioner_confirms_links_and_moves_by_hand(app: Flask, doctor: FlaskClient) -> None:
    _, victim = victim_with_a_course(app, doctor)
    stranger = app.test_client()
    result = submit(stranger, email=TYPED_LIKE_THE_VICTIM, **STRANGER)
    fake = latest(app)
    assert doctor.post(f"/practitioner/screening/{fake['reference']}/confirm-link").status_code == 303
    assert link_of(app, fake["reference"]) == (victim["patient_id"], "confirmed")
    assert COURSE_LINE in page_text(stranger.get(result))
    (row,) = audit_rows(app, "patient.confirm")
    assert row["actor"] == "ada@example.com" and '"by": "practitioner"' in str(row["details"])
    detail = page_text(doctor.get(f"/practitioner/screening/{fake['reference']}"))
    assert "Suggested match (unconfirmed)" not in detail
    again = doctor.post(f"/practitioner/screening/{fake['reference']}/confirm-link", follow_redirects=True)
    assert "nothing to confirm" in page_text(again) and len(audit_rows(app, "patient.confirm")) == 1
    # Unlinked by hand: a record of its own; linked by hand: confirmed.
    assert doctor.post(f"/practitioner/screening/{fake['reference']}/unlink").status_code == 303
    assert link_of(app, fake["reference"])[1] == "own" and COURSE_LINE not in page_text(stranger.get(result))
    linked = doctor.post(f"/practitioner/screening/{fake['reference']}/link", data={"other": victim["reference"]})
    assert linked.status_code == 303
    assert link_of(app, fake["reference"]) == (victim["patient_id"], "confirmed")


def test_m038_reads_earlier_links_safely(app: Flask, doctor: FlaskClient, backend: str) -> None:
    first = submit(app.test_client())
    own = latest(app)
    submit(app.test_client(), email=TYPED_LIKE_THE_VICTIM)
    joined = latest(app)  # joined automatically: a suggestion
    submit(app.test_client(), email="anna.p@example.com")
    by_hand = latest(app)
    linked = doctor.post(f"/practitioner/screening/{by_hand['reference']}/link", data={"other": own["reference"]})
    assert linked.status_code == 303
    submit(app.test_client())
    unlinked = latest(app)
    assert doctor.post(f"/practitioner/screening/{unlinked['reference']}/unlink").status_code == 303
    # As a database of the release before m038 held them: no state, no link requests.
    url = app.config["DATABASE"]
    db = storage.connect(url)
    try:
        db.execute("DROP TABLE record_link_requests")
        db.execute("ALTER TABLE screenings DROP COLUMN patient_link")
        if backend == "postgresql":
            db.execute("DELETE FROM _migrations WHERE name = 'm038_patient_link_proof'")
        else:
            db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm038_patient_link_proof'")
        assert storage.migrate(db) == ["m038_patient_link_proof"]
        if backend == "postgresql":
            # The column came back in another place: the shared pool's prepared plans of
            # "SELECT *" no longer fit, so its connections are replaced (as after a failover).
            db.execute(END_OTHER_CONNECTIONS)
    finally:
        db.close()
    states = {r["reference"]: r["patient_link"] for r in query(app, "SELECT reference, patient_link FROM screenings")}
    assert states == {
        own["reference"]: "own",
        joined["reference"]: "suggested",
        by_hand["reference"]: "confirmed",
        unlinked["reference"]: "own",
    }
    assert COURSE_LINE not in page_text(app.test_client().get(first))  # no course yet: the page works
