"""Two-factor sign-in: enrolment with a server-drawn QR code, the code step,
codes that work once, recovery codes, and who must use it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import PASSWORD, audit_rows, build_app, create_account, page_text, query, sign_in

ADMIN = "boss@example.com"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """The app as in production: administrators must use a second factor."""
    return build_app(tmp_path, ADMINS_REQUIRE_2FA=True)


def enrol(client: FlaskClient) -> tuple[str, list[str]]:
    """Set up two-factor sign-in from the enrolment page; return (secret, recovery codes)."""
    page = client.get("/practitioner/two-factor")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "<img" not in html
    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', html).group(1)
    done = client.post("/practitioner/two-factor", data={"code": pyotp.TOTP(secret).now(), "password": PASSWORD})
    assert done.status_code == 200, page_text(done)
    codes = re.findall(r"<li><code>([0-9a-f]{10})</code></li>", done.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def next_step_code(secret: str) -> str:
    """A code for the next time step (the current one was spent by enrolment)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_an_admin_must_enrol_before_anything_else(app: Flask) -> None:
    create_account(app, ADMIN, "Boss", role="admin")
    client = app.test_client()
    assert sign_in(client, ADMIN).status_code == 303
    response = client.get("/practitioner/audit")
    assert response.status_code == 302 and response.headers["Location"] == "/practitioner/two-factor"
    enrol(client)
    assert client.get("/practitioner/audit").status_code == 200
    assert len(audit_rows(app, "two_factor.enable")) == 1
    stored = query(app, "SELECT code_hash FROM recovery_codes")
    assert len(stored) == 10 and all(len(r["code_hash"]) == 64 for r in stored)  # hashed, not the codes


def test_sign_in_then_needs_a_code_that_works_once(app: Flask) -> None:
    create_account(app, ADMIN, "Boss", role="admin")
    first = app.test_client()
    sign_in(first, ADMIN)
    secret, _codes = enrol(first)
    client = app.test_client()
    step = sign_in(client, ADMIN)
    assert step.status_code == 303 and step.headers["Location"].startswith("/practitioner/login/code")
    assert client.get("/practitioner/").status_code == 302  # no session before the code
    code = next_step_code(secret)
    assert client.post("/practitioner/login/code", data={"code": "000000"}).status_code == 400
    assert client.post("/practitioner/login/code", data={"code": code}).status_code == 303
    assert client.get("/practitioner/").status_code == 200
    again = app.test_client()
    sign_in(again, ADMIN)
    replay = again.post("/practitioner/login/code", data={"code": code})
    assert replay.status_code == 400 and "used already" in page_text(replay)


def test_a_recovery_code_signs_in_once(app: Flask) -> None:
    create_account(app, ADMIN, "Boss", role="admin")
    first = app.test_client()
    sign_in(first, ADMIN)
    _secret, codes = enrol(first)
    for expected in (303, 400):
        client = app.test_client()
        sign_in(client, ADMIN)
        assert client.post("/practitioner/login/code", data={"code": codes[0]}).status_code == expected
    assert '"second_factor": "recovery"' in audit_rows(app, "login.success")[-1]["details"]


def test_practitioners_need_it_only_when_required_for_all(tmp_path: Path) -> None:
    relaxed = build_app(tmp_path / "a", ADMINS_REQUIRE_2FA=True)
    create_account(relaxed)
    client = relaxed.test_client()
    sign_in(client)
    assert client.get("/practitioner/").status_code == 200
    strict = build_app(tmp_path / "b", REQUIRE_2FA=True)
    create_account(strict)
    client = strict.test_client()
    sign_in(client)
    assert client.get("/practitioner/").headers["Location"] == "/practitioner/two-factor"


def test_a_stale_code_step_sends_back_to_the_password(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/practitioner/login/code", data={"code": "123456"})
    assert response.status_code == 303 and response.headers["Location"].startswith("/practitioner/login")


def secret_on(page: str) -> str:
    """The TOTP key the enrolment page offers."""
    return re.search(r'class="totp-secret">([A-Z2-7]+)<', page).group(1)


@pytest.mark.parametrize(
    ("password", "message"),
    [(None, "Enter your password."), ("", "Enter your password."), ("not my password", "not your current password")],
)
def test_the_first_enrolment_needs_the_password(app: Flask, password: str | None, message: str) -> None:
    """A stolen session alone cannot tie the account to the thief's authenticator app."""
    create_account(app, ADMIN, "Boss", role="admin")
    client = app.test_client()
    sign_in(client, ADMIN)
    secret = secret_on(client.get("/practitioner/two-factor").get_data(as_text=True))
    data = {"code": pyotp.TOTP(secret).now()}
    if password is not None:
        data["password"] = password
    refused = client.post("/practitioner/two-factor", data=data)
    assert refused.status_code == 400 and message in page_text(refused)
    assert 'autocomplete="current-password"' in refused.get_data(as_text=True)  # the field is on the page
    assert query(app, "SELECT totp_secret FROM practitioners WHERE email = ?", [ADMIN]) == [{"totp_secret": None}]
    assert query(app, "SELECT count(*) AS n FROM recovery_codes") == [{"n": 0}]
    assert audit_rows(app, "two_factor.enable") == []
    assert client.get("/practitioner/audit").headers["Location"] == "/practitioner/two-factor"  # still not enrolled


def test_new_recovery_codes_need_the_password(app: Flask) -> None:
    """Setting up again (which replaces the recovery codes) asks for the password too."""
    create_account(app, ADMIN, "Boss", role="admin")
    client = app.test_client()
    sign_in(client, ADMIN)
    secret, _codes = enrol(client)
    before = query(app, "SELECT code_hash FROM recovery_codes ORDER BY code_hash")
    again = client.post("/practitioner/two-factor", data={"code": next_step_code(secret), "password": "wrong one!"})
    assert again.status_code == 400 and "not your current password" in page_text(again)
    assert query(app, "SELECT code_hash FROM recovery_codes ORDER BY code_hash") == before
    assert "<li><code>" not in again.get_data(as_text=True)  # no new codes shown


def test_replacing_the_app_needs_the_password(app: Flask) -> None:
    """A session left open is not enough to move the second factor to another phone."""
    create_account(app, ADMIN, "Boss", role="admin")
    client = app.test_client()
    sign_in(client, ADMIN)
    first_secret, _ = enrol(client)
    page = client.get("/practitioner/two-factor").get_data(as_text=True)
    new_secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', page).group(1)
    refused = client.post("/practitioner/two-factor", data={"code": pyotp.TOTP(new_secret).now()})
    assert refused.status_code == 400
    assert "Enter your password." in page_text(refused)
    assert (
        query(app, "SELECT totp_secret FROM practitioners WHERE email = ?", [ADMIN])[0]["totp_secret"] == first_secret
    )
    replaced = client.post(
        "/practitioner/two-factor", data={"code": pyotp.TOTP(new_secret).now(), "password": PASSWORD}
    )
    assert replaced.status_code == 200 and "recovery" in page_text(replaced).lower()
    assert query(app, "SELECT totp_secret FROM practitioners WHERE email = ?", [ADMIN])[0]["totp_secret"] == new_secret


def test_the_code_step_refuses_a_post_without_its_csrf_token(tmp_path: Path) -> None:
    from screening import storage
    from screening.web.db import get_db
    from tests.helpers import PASSWORD

    app = build_app(tmp_path, ADMINS_REQUIRE_2FA=True, WTF_CSRF_ENABLED=True)
    account_id = create_account(app, ADMIN, "Boss", role="admin")
    secret = pyotp.random_base32()
    with app.app_context():
        storage.enable_totp(get_db(), account_id, secret, ["0123456789"])
    client = app.test_client()

    def token(path: str) -> str:
        html = client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

    login = {"email": ADMIN, "password": PASSWORD, "csrf_token": token("/practitioner/login")}
    assert client.post("/practitioner/login", data=login).headers["Location"] == "/practitioner/login/code"
    forged = client.post("/practitioner/login/code", data={"code": pyotp.TOTP(secret).now()})
    assert forged.status_code == 400
    assert client.get("/practitioner/").status_code == 302  # not signed in
    good = {"code": pyotp.TOTP(secret).now(), "csrf_token": token("/practitioner/login/code")}
    assert client.post("/practitioner/login/code", data=good).status_code == 303
    assert client.get("/practitioner/").status_code == 200
