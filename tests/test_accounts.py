"""Account management in the app: invitations with one-time links, roles,
deactivation and reactivation, resets, and everyone's own password."""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests import helpers
from tests.helpers import (
    ADMIN_EMAIL,
    EMAIL,
    PASSWORD,
    add_screening,
    audit_rows,
    build_app,
    create_account,
    page_text,
    query,
    sign_in,
)

NEW_PASSWORD = "a brand new passphrase"


def invite(admin: FlaskClient, email: str, name: str, role: str) -> str:
    """Invite someone; return the path of their set-password link."""
    response = admin.post("/practitioner/accounts", data={"email": email, "name": name, "role": role})
    assert response.status_code == 200, page_text(response)
    match = re.search(
        r'id="account-link"[^>]*value="http://localhost(/practitioner/set-password/[^"]+)"',
        response.get_data(as_text=True),
    )
    assert match
    return match.group(1)


def set_password(client: FlaskClient, path: str, password: str = NEW_PASSWORD) -> TestResponse:
    return client.post(path, data={"password": password, "confirm": password})


def account_id(app: Flask, email: str) -> int:
    (row,) = query(app, "SELECT id FROM practitioners WHERE email = ?", [email])
    return int(row["id"])


def is_login_redirect(response: TestResponse) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/practitioner/login")


def test_acceptance_first_admin_invites_a_practitioner_and_a_receptionist(tmp_path: Path) -> None:
    """The issue's walk-through, with the second factor administrators must use."""
    app = build_app(tmp_path, ADMINS_REQUIRE_2FA=True)
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=["create-practitioner", "boss@example.com", "--name", "Boss", "--role", "admin", "--password-stdin"],
        input="the first admin's passphrase\n",
    )
    assert made.exit_code == 0, made.output
    admin = app.test_client()
    assert sign_in(admin, "boss@example.com", "the first admin's passphrase").status_code == 303
    assert admin.get("/practitioner/accounts").headers["Location"] == "/practitioner/two-factor"
    secret = re.search(
        r'class="totp-secret">([A-Z2-7]+)<', admin.get("/practitioner/two-factor").get_data(as_text=True)
    )
    assert secret
    totp = pyotp.TOTP(secret.group(1))
    enrolment = {"code": totp.now(), "password": "the first admin's passphrase"}
    enrolled = admin.post("/practitioner/two-factor", data=enrolment)
    assert enrolled.status_code == 200
    assert admin.post("/practitioner/logout").status_code == 303
    assert sign_in(admin, "boss@example.com", "the first admin's passphrase").status_code == 303
    code = totp.at(time.time() + 30)  # the current step was spent enrolling
    assert admin.post("/practitioner/login/code", data={"code": code}).status_code == 303
    doctor_link = invite(admin, "nina@example.com", "Nina Nurse", "practitioner")
    reception_link = invite(admin, "rita@example.com", "Rita Reception", "reception")

    doctor, reception = app.test_client(), app.test_client()
    assert set_password(doctor, doctor_link).status_code == 303
    assert set_password(reception, reception_link, "reception's own passphrase").status_code == 303
    assert set_password(app.test_client(), doctor_link, "someone else's try").status_code == 410  # once only
    assert sign_in(doctor, "nina@example.com", NEW_PASSWORD).status_code == 303
    assert sign_in(reception, "rita@example.com", "reception's own passphrase").status_code == 303

    screening = add_screening(app, "Vera Orlova")
    reference = screening["reference"]
    found = page_text(reception.get("/practitioner/", query_string={"q": reference}))
    assert "Vera Orlova" in found
    contact = page_text(reception.get(f"/practitioner/screening/{reference}/contact"))
    assert "anna@example.com" in contact and "Eligible" in contact
    for url in (
        f"/practitioner/screening/{reference}/answers",
        f"/practitioner/screening/{reference}",
        "/practitioner/audit",
        "/practitioner/export.csv",
    ):
        assert reception.get(url).status_code == 403, url

    assert doctor.get(f"/practitioner/screening/{reference}").status_code == 200
    nina = account_id(app, "nina@example.com")
    assert admin.post(f"/practitioner/accounts/{nina}/deactivate").status_code == 303
    assert is_login_redirect(doctor.get("/practitioner/"))  # gone at the next click
    assert sign_in(app.test_client(), "nina@example.com", NEW_PASSWORD).status_code == 200
    actions = [row["action"] for row in audit_rows(app)]
    for action in ("practitioner.create", "password.set", "practitioner.deactivate", "access.denied"):
        assert action in actions, action


def test_a_deactivated_account_is_reactivated_not_recreated(
    app: Flask, admin: FlaskClient, doctor: FlaskClient
) -> None:
    ada = account_id(app, EMAIL)
    admin.post(f"/practitioner/accounts/{ada}/deactivate")
    again = admin.post("/practitioner/accounts", data={"email": EMAIL, "name": "Ada", "role": "practitioner"})
    assert again.status_code == 400 and "reactivate it below" in page_text(again)
    assert admin.post(f"/practitioner/accounts/{ada}/reactivate").status_code == 303
    assert sign_in(app.test_client()).status_code == 303
    assert len(audit_rows(app, "practitioner.reactivate")) == 1


def test_a_role_change_applies_at_once(app: Flask, admin: FlaskClient, doctor: FlaskClient) -> None:
    reference = add_screening(app)["reference"]
    ada = account_id(app, EMAIL)
    assert admin.post(f"/practitioner/accounts/{ada}/role", data={"role": "reception"}).status_code == 303
    assert query(app, "SELECT role FROM practitioners WHERE id = ?", [ada]) == [{"role": "reception"}]
    assert is_login_redirect(doctor.get("/practitioner/"))
    assert sign_in(doctor).status_code == 303
    assert doctor.get(f"/practitioner/screening/{reference}").status_code == 403
    (row,) = audit_rows(app, "practitioner.role")
    assert '"from": "practitioner"' in row["details"] and '"to": "reception"' in row["details"]


def test_an_admin_cannot_lock_themselves_out(app: Flask, admin: FlaskClient) -> None:
    me = account_id(app, ADMIN_EMAIL)
    response = admin.post(f"/practitioner/accounts/{me}/deactivate", follow_redirects=True)
    assert "You cannot do that to your own account" in page_text(response)
    assert query(app, "SELECT active FROM practitioners WHERE id = ?", [me]) == [{"active": 1}]


def test_a_reset_ends_the_old_password_and_sessions(app: Flask, admin: FlaskClient, doctor: FlaskClient) -> None:
    ada = account_id(app, EMAIL)
    response = admin.post(f"/practitioner/accounts/{ada}/reset")
    link = re.search(
        r'value="http://localhost(/practitioner/set-password/[^"]+)"', response.get_data(as_text=True)
    ).group(1)
    assert is_login_redirect(doctor.get("/practitioner/"))
    assert sign_in(app.test_client()).status_code == 200  # the old password no longer works
    assert set_password(app.test_client(), link).status_code == 303
    assert sign_in(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 303


def test_an_expired_link_says_what_to_do(app: Flask, admin: FlaskClient) -> None:
    link = invite(admin, "late@example.com", "Late Comer", "reception")
    helpers.execute(
        app,
        "UPDATE account_links SET expires_at = ?",
        [(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()],
    )
    response = app.test_client().get(link)
    assert response.status_code == 410 and "Ask the clinic's administrator for a new one" in page_text(response)


def test_a_link_password_follows_the_policy(app: Flask, admin: FlaskClient) -> None:
    link = invite(admin, "new@example.com", "New Person", "practitioner")
    client = app.test_client()
    for password, message in [
        ("a" * 14, "one character over and over"),
        ("password1234", "well-known"),
        ("new@example.com", "e-mail address"),
    ]:
        response = set_password(client, link, password)
        assert response.status_code == 400 and message in page_text(response), password
    different = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert "The two passwords differ." in page_text(different)
    assert set_password(client, link).status_code == 303


def test_own_password_change_ends_the_other_sessions(app: Flask, doctor: FlaskClient) -> None:
    other = app.test_client()
    assert sign_in(other).status_code == 303
    wrong = doctor.post(
        "/practitioner/password", data={"current": "nope", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert wrong.status_code == 400 and "That is not your current password." in page_text(wrong)
    changed = doctor.post(
        "/practitioner/password", data={"current": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert changed.status_code == 303
    assert doctor.get("/practitioner/").status_code == 200  # this session stays
    assert is_login_redirect(other.get("/practitioner/"))
    assert sign_in(app.test_client(), EMAIL, NEW_PASSWORD).status_code == 303
    assert len(audit_rows(app, "password.change")) == 1


def test_the_accounts_page_shows_roles_and_last_sign_in(app: Flask, admin: FlaskClient, doctor: FlaskClient) -> None:
    text = page_text(admin.get("/practitioner/accounts"))
    assert "Dr Ada Lovelace ada@example.com" in text and "Never" not in text


def test_a_set_password_form_without_its_csrf_token_changes_nothing(tmp_path: Path) -> None:
    app = build_app(tmp_path, WTF_CSRF_ENABLED=True)
    account = create_account(app, "csrf@example.com", "Csrf Person")
    with app.app_context():
        from screening import storage
        from screening.web.db import get_db

        token = storage.create_account_link(get_db(), account, "invite", "2999-01-01T00:00:00+00:00")
    response = app.test_client().post(
        f"/practitioner/set-password/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert query(app, "SELECT used_at FROM account_links") == [{"used_at": None}]
