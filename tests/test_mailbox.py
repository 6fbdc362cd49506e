"""Mail that works without an SMTP server: the local mailbox (``MAIL_TRANSPORT`` "mailbox",
what ``make run`` uses), read by an administrator in the app; and invitations and password
resets e-mailed, here through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email.policy
import re
import stat
import subprocess
from email.parser import BytesParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.settings import ROOT, default_settings
from screening.web.security import ConfigError
from tests.helpers import (
    ADMIN_EMAIL,
    CLEAR_ANSWERS,
    PATIENT_FORM,
    Inbox,
    audit_rows,
    build_app,
    create_account,
    first_link,
    mail_text,
    outbox_rows,
    page_text,
    query,
    send_mail,
    sign_in,
    signed_in,
)

PUBLIC = "http://clinic.example.com"
STAFF = "reception@example.com"  # the shipped clinic.yaml's staff address
NEW_PASSWORD = "a brand new passphrase"


def mailbox_app(folder: Path, **overrides: object) -> Flask:
    """The app delivering e-mail to ``folder/instance/mail`` and no SMTP server configured."""
    settings: dict[str, object] = {
        "MAIL_TRANSPORT": "mailbox",
        "MAIL_FOLDER": str(folder / "instance" / "mail"),
        "MAIL_DEFAULT_SENDER": "screening@example.com",
        "PUBLIC_URL": PUBLIC,
        "OUTBOX_RETRY_SECONDS": 0,
    }
    return build_app(folder, **{**settings, **overrides})


def eml_files(app: Flask) -> list[Path]:
    """The mailbox's files, oldest first."""
    folder = Path(app.config["MAIL_FOLDER"])
    return sorted(folder.glob("*.eml"), key=lambda path: path.stat().st_mtime_ns) if folder.exists() else []


def read_eml(path: Path) -> email.message.EmailMessage:
    with path.open("rb") as handle:
        return BytesParser(policy=email.policy.default).parse(handle)  # type: ignore[return-value]


def submit(app: Flask, *, link: bool, **answers: object) -> str:
    """Send the questionnaire; the result page's path."""
    data = {**CLEAR_ANSWERS, **PATIENT_FORM, **answers}
    if link:
        data["email_link"] = "y"
    response = app.test_client().post("/screening", data=data, headers={"Accept-Language": "en"})
    assert response.status_code == 303, page_text(response)
    return str(response.headers["Location"])


def test_a_ticked_box_lands_in_the_local_mailbox_where_an_admin_reads_it(tmp_path: Path) -> None:
    """The issue's acceptance: no SMTP server, the patient ticks "E-mail me a link"; the message is a
    private file under the instance folder, and an administrator reads it in the app."""
    app = mailbox_app(tmp_path)
    assert "E-mail me a link to my result" in page_text(app.test_client().get("/screening"))
    result_path = submit(app, link=True, keloids="yes")  # a review: the staff are told too
    assert "2 delivered" in send_mail(app)

    files = eml_files(app)
    assert len(files) == 2 and all(path.parent == tmp_path / "instance" / "mail" for path in files)
    assert stat.S_IMODE(files[0].parent.stat().st_mode) == 0o700
    assert {stat.S_IMODE(path.stat().st_mode) for path in files} == {0o600}
    raw = files[0].read_bytes()
    assert b"\r\nSubject: " in raw and b"\r\n\r\n" in raw  # RFC 5322, CRLF lines, as SMTP carries it
    patient, staff = sorted((read_eml(path) for path in files), key=lambda m: m["To"] != "anna@example.com")
    assert patient["To"] == "anna@example.com" and patient["From"] == "screening@example.com"
    assert patient["Subject"] == "Your screening result at Example Skin Clinic"
    link = first_link(mail_text(patient))
    assert link == PUBLIC + result_path
    reference = query(app, "SELECT reference FROM screenings")[0]["reference"]
    assert staff["To"] == STAFF and reference in staff["Subject"]
    # Delivered as over SMTP: the outbox keeps no copy of the link.
    assert all(row["delivered_at"] and row["body"] == "" for row in outbox_rows(app, "mail"))

    admin = signed_in(app, ADMIN_EMAIL, "Grace Admin", role="admin")
    listing = admin.get("/practitioner/webhooks")
    assert listing.status_code == 200
    listed = page_text(listing)
    assert "Local mailbox" in listed and "Your screening result at Example Skin Clinic" in listed
    assert "anna@example.com" in listed and f"A screening waits for review: {reference}" in listed
    delivery_id = files[0].stem if read_eml(files[0])["To"] == "anna@example.com" else files[1].stem
    assert f'href="/practitioner/mail/{delivery_id}"' in listing.get_data(as_text=True)

    opened = admin.get(f"/practitioner/mail/{delivery_id}")
    assert opened.status_code == 200
    text = page_text(opened)
    assert "You asked us to e-mail you the link to your screening result." in text
    assert link in text and "anna@example.com" in text
    assert "The message also has an HTML version" in text
    assert '<a href="' + link not in opened.get_data(as_text=True)  # the HTML part is never put in the page
    (viewed,) = audit_rows(app, "mail.view")
    assert viewed["actor"] == ADMIN_EMAIL and viewed["target"] == f"screening:{reference}"
    assert delivery_id in viewed["details"] and "patient.link" in viewed["details"]
    # The patient's link from the file opens the result.
    assert app.test_client().get(link.removeprefix(PUBLIC)).status_code == 200


def test_the_result_page_offers_the_link_with_the_mailbox(tmp_path: Path) -> None:
    """Without SMTP but with the mailbox, "E-mail me the link" is offered on the result page and works."""
    app = mailbox_app(tmp_path)
    result_path = submit(app, link=False)
    client = app.test_client()
    assert "E-mail me the link" in page_text(client.get(result_path))
    assert client.post(result_path + "/notify", data={"what": "link"}).status_code == 303
    assert "1 delivered" in send_mail(app)
    (path,) = eml_files(app)
    assert first_link(mail_text(read_eml(path))) == PUBLIC + result_path


def test_without_mail_nothing_is_offered_or_queued(app: Flask, client: FlaskClient) -> None:
    """The default with no SMTP server (tests, production): no mail, no mailbox."""
    assert "E-mail me a link to my result" not in page_text(client.get("/screening"))
    assert outbox_rows(app) == []


def test_a_mailbox_that_cannot_be_written_retries_like_smtp(tmp_path: Path) -> None:
    """A delivery to the mailbox that fails is retried by the same rounds, and listed as waiting."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the mailbox should be")
    app = mailbox_app(tmp_path, MAIL_FOLDER=str(blocked / "mail"))
    submit(app, link=True)
    assert "0 delivered, 1 to retry later" in send_mail(app)
    (row,) = outbox_rows(app, "mail")
    assert row["delivered_at"] is None and row["attempts"] == 1 and "Error" in row["last_error"]
    app.config["MAIL_FOLDER"] = str(tmp_path / "mail")
    assert "1 delivered" in send_mail(app)
    assert len(eml_files(app)) == 1


@pytest.mark.parametrize("delivery_id", ["x", "screening", "00000000-0000-0000-0000-000000000000", "0" * 36])
def test_only_a_delivered_message_opens(tmp_path: Path, delivery_id: str) -> None:
    """Anything but a delivery id of a file in the mailbox is a 404, never another file."""
    app = mailbox_app(tmp_path)
    folder = Path(app.config["MAIL_FOLDER"])
    folder.mkdir(parents=True)
    (folder / "screening.eml").write_text("Subject: not a delivery\r\n\r\nx\r\n")
    admin = signed_in(app, ADMIN_EMAIL, "Grace Admin", role="admin")
    assert admin.get(f"/practitioner/mail/{delivery_id}").status_code == 404
    assert audit_rows(app, "mail.view") == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"MAIL_TRANSPORT": "pigeon"}, "SCREENING_MAIL_TRANSPORT must be one of smtp, mailbox, none"),
        ({"MAIL_TRANSPORT": "smtp"}, "SCREENING_MAIL_TRANSPORT=smtp needs SCREENING_MAIL_SERVER"),
    ],
)
def test_bad_mail_settings_refuse_start_up(tmp_path: Path, settings: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_app(tmp_path, **settings)


def test_the_mailbox_is_in_the_instance_folder_and_make_run_uses_it_without_smtp() -> None:
    """``make run`` (dry run) turns the mailbox on unless an SMTP server is set."""
    assert default_settings("/srv/app/instance")["MAIL_FOLDER"] == "/srv/app/instance/mail"
    without = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert 'SCREENING_MAIL_TRANSPORT="${SCREENING_MAIL_TRANSPORT:-mailbox}"' in without
    with_smtp = subprocess.run(
        ["make", "-n", "run", "SCREENING_MAIL_SERVER=smtp.example.com"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "SCREENING_MAIL_TRANSPORT" not in with_smtp


# --- Invitations and password resets, e-mailed ------------------------------------------


def shown_link(page: str) -> str:
    """The set-password link in the page's copy field."""
    match = re.search(r'id="account-link"[^>]*value="([^"]+)"', page)
    assert match, page
    return match.group(1)


@pytest.mark.parametrize("purpose", ["invite", "reset"])
def test_an_invitation_or_reset_arrives_by_smtp_with_the_link_that_sets_the_password(
    mail_app: Flask, mailbox: Inbox, purpose: str
) -> None:
    """The link arrives through a real SMTP server, is the one shown once on the page, and sets the password."""
    admin = signed_in(mail_app, ADMIN_EMAIL, "Grace Admin", role="admin")
    if purpose == "invite":
        response = admin.post(
            "/practitioner/accounts", data={"email": "new@example.com", "name": "Nina New", "role": "practitioner"}
        )
        subject = "Your account at Example Skin Clinic"
    else:
        account = create_account(mail_app, "new@example.com", "Nina New", password="the old long passphrase")
        response = admin.post(f"/practitioner/accounts/{account}/reset")
        subject = "Set a new password for your account at Example Skin Clinic"
    assert response.status_code == 200, page_text(response)
    page = page_text(response)
    assert "The link was e-mailed to new@example.com." in page
    assert ".The" not in page and "created.Give" not in page
    shown = shown_link(response.get_data(as_text=True))

    assert "1 delivered" in send_mail(mail_app)
    (message,) = mailbox.to("new@example.com")
    assert message["Subject"] == subject
    link = first_link(mail_text(message))
    assert link == shown and link.startswith(f"{PUBLIC}/practitioner/set-password/")
    assert link in str(message.get_body(("html",)).get_content())  # type: ignore[union-attr]
    assert "The link works once, for 72 hours." in mail_text(message)

    newcomer = mail_app.test_client()
    path = link.removeprefix(PUBLIC)
    assert newcomer.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 303
    assert sign_in(newcomer, "new@example.com", NEW_PASSWORD).status_code == 303
    if purpose == "reset":
        assert sign_in(mail_app.test_client(), "new@example.com", "the old long passphrase").status_code != 303


def test_without_mail_the_link_is_shown_once_with_a_copy_field(app: Flask, admin: FlaskClient) -> None:
    """No mail: nothing is queued; the page says to hand the link over, in a selectable field with a copy button."""
    response = admin.post(
        "/practitioner/accounts", data={"email": "new@example.com", "name": "Nina New", "role": "reception"}
    )
    assert response.status_code == 200
    page = page_text(response)
    assert "The account is created. Give this link to new@example.com only" in page
    html = response.get_data(as_text=True)
    assert shown_link(html).startswith("http://localhost/practitioner/set-password/")
    assert re.search(r'<input type="text" id="account-link"[^>]* readonly', html)
    assert re.search(r'<button type="button"[^>]*data-copy="account-link"[^>]*hidden>Copy link</button>', html)
    assert outbox_rows(app) == []
