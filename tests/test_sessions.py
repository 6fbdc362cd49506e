"""Server-side sessions: a copied cookie is refused after sign-out, the idle
timeout and the absolute lifetime hold on the server, and an account change
or the owner ends sessions."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.helpers import EMAIL, audit_rows, body, execute, page_text, query, sign_in, signed_in


def is_login_redirect(response: TestResponse) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/practitioner/login")


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app: Flask, cookie: str) -> FlaskClient:
    """A fresh browser holding a copied session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def hours_ago(hours: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)).isoformat()


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app: Flask, doctor: FlaskClient) -> None:
    copied = cookie_of(doctor)
    assert replay(app, copied).get("/practitioner/").status_code == 200
    assert doctor.post("/practitioner/logout").status_code == 303
    assert is_login_redirect(replay(app, copied).get("/practitioner/"))
    assert query(app, "SELECT end_reason FROM sessions") == [{"end_reason": "signed_out"}]


def test_each_sign_in_is_a_session_row_without_the_secret(app: Flask, doctor: FlaskClient) -> None:
    (row,) = query(app, "SELECT * FROM sessions")
    assert row["ended_at"] is None and row["client_address"] == "127.0.0.1"
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    secret = serializer.loads(cookie_of(doctor))["_user_id"]
    assert len(secret) >= 40 and secret not in str(row)  # only its hash is stored
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()


@pytest.mark.parametrize(
    ("column", "hours", "setting"),
    [("last_seen_at", 0.6, "IDLE_TIMEOUT"), ("created_at", 12.1, "SESSION_MAX_AGE")],
)
def test_idle_and_too_old_sessions_end_on_the_server(
    app: Flask, doctor: FlaskClient, column: str, hours: float, setting: str
) -> None:
    """Replaying the cookie does not keep an idle session alive; a busy one still ends after 12 hours."""
    assert app.config[setting] < hours * 3600
    copied = cookie_of(doctor)
    execute(app, f"UPDATE sessions SET {column} = ?", [hours_ago(hours)])
    response = replay(app, copied).get("/practitioner/")
    assert is_login_redirect(response)
    assert is_login_redirect(doctor.get("/practitioner/"))
    assert query(app, "SELECT end_reason FROM sessions") == [
        {"end_reason": "idle" if column == "last_seen_at" else "max_age"}
    ]


def test_an_idle_sign_out_says_why(app: Flask, doctor: FlaskClient) -> None:
    execute(app, "UPDATE sessions SET last_seen_at = ?", [hours_ago(1)])
    response = doctor.get("/practitioner/", follow_redirects=True)
    assert "You were signed out after a period without activity" in page_text(response)


def test_a_request_keeps_a_session_alive(app: Flask, doctor: FlaskClient) -> None:
    execute(app, "UPDATE sessions SET last_seen_at = ?", [hours_ago(0.4)])
    assert doctor.get("/practitioner/").status_code == 200
    (row,) = query(app, "SELECT last_seen_at FROM sessions")
    assert dt.datetime.fromisoformat(row["last_seen_at"]) > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)


def test_deactivation_ends_the_open_session_at_the_next_click(app: Flask, doctor: FlaskClient) -> None:
    result = app.test_cli_runner().invoke(args=["deactivate-practitioner", EMAIL])
    assert result.exit_code == 0, result.output
    assert is_login_redirect(doctor.get("/practitioner/"))
    assert query(app, "SELECT end_reason FROM sessions") == [{"end_reason": "deactivated"}]


def test_a_practitioner_sees_and_ends_their_other_sessions(app: Flask, doctor: FlaskClient) -> None:
    laptop = app.test_client()
    assert sign_in(laptop, headers={"User-Agent": "Laptop browser"}).status_code == 303
    page = doctor.get("/practitioner/sessions")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Laptop browser" in html and "This session" in page_text(page)
    other = [int(i) for i in re.findall(r'action="/practitioner/sessions/(\d+)/end"', html)]
    assert len(other) == 1
    assert doctor.post(f"/practitioner/sessions/{other[0]}/end").status_code == 303
    assert is_login_redirect(laptop.get("/practitioner/"))
    assert doctor.get("/practitioner/").status_code == 200
    assert len(audit_rows(app, "session.end")) == 1


def test_nobody_ends_someone_elses_session(app: Flask, doctor: FlaskClient) -> None:
    bob = signed_in(app, "bob@example.com", "Dr Bob")
    (bob_session,) = query(app, "SELECT id FROM sessions WHERE practitioner_id = 2")
    assert doctor.post(f"/practitioner/sessions/{bob_session['id']}/end").status_code == 404
    assert bob.get("/practitioner/").status_code == 200


def test_an_api_post_without_a_cookie_neither_sets_one_nor_varies_on_it(client: FlaskClient) -> None:
    response = client.post("/api/v1/screenings", json=body())
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    assert "cookie" not in response.headers.get("Vary", "").lower()
    page = client.get("/practitioner/login")  # a page still reads the session and says so
    assert "cookie" in page.headers["Vary"].lower()


@pytest.mark.parametrize(("fallback", "signed_in_still"), [(False, False), (True, True)])
def test_a_new_secret_key_refuses_old_cookies_unless_kept_as_a_fallback(
    app: Flask, doctor: FlaskClient, fallback: bool, signed_in_still: bool
) -> None:
    copied = cookie_of(doctor)
    assert replay(app, copied).get("/practitioner/").status_code == 200  # the signer is built and kept
    old_key = app.secret_key
    app.secret_key = "a-rotated-secret-key-" + "y" * 40
    app.config["SECRET_KEY_FALLBACKS"] = [old_key] if fallback else []
    response = replay(app, copied).get("/practitioner/")
    assert (response.status_code == 200) is signed_in_still
    assert is_login_redirect(response) is not signed_in_still
