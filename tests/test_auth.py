"""Practitioner accounts and sign-in: CLI, login, lockout, logout, CSRF,
sessions, API token commands, and no anonymous access to any workspace URL.

The shared helpers (accounts, signing in, stored screenings) are in tests/helpers.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.test import TestResponse

from screening import storage
from screening.practitioner.auth import hash_password
from screening.web.db import get_db
from tests.helpers import (
    EMAIL,
    NAME,
    PASSWORD,
    add_screening,
    audit_rows,
    build_app,
    create_account,
    execute,
    page_text,
    query,
    sign_in,
    signed_in,
)

GENERIC_FAILURE = "We could not sign you in with that email and password."


def is_login_redirect(response: TestResponse) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/practitioner/login")


# --- create-practitioner / deactivate-practitioner ----------------------------------


@pytest.mark.real_password_hash
def test_create_practitioner_reads_the_password_from_stdin(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["create-practitioner", "Ada@Example.com", "--name", NAME, "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    (row,) = query(app, "SELECT * FROM practitioners")
    assert (row["email"], row["name"], row["active"]) == (EMAIL, NAME, 1)
    assert row["password_hash"].startswith("scrypt:")
    assert PASSWORD not in row["password_hash"]
    assert [r["target"] for r in audit_rows(app, "practitioner.create")] == [f"practitioner:{EMAIL}"]


def test_create_practitioner_asks_for_the_password_twice(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["create-practitioner", EMAIL, "--name", NAME], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") >= 1
    assert "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    client = app.test_client()
    assert sign_in(client).status_code == 303


def test_create_practitioner_refuses_two_different_passwords(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["create-practitioner", EMAIL, "--name", NAME], input=f"{PASSWORD}\n{PASSWORD}x\n")
    assert result.exit_code != 0
    assert query(app, "SELECT * FROM practitioners") == []


@pytest.mark.parametrize(
    ("email", "name", "password", "message"),
    [
        (EMAIL, NAME, "short pass", "at least 12 characters"),
        (EMAIL, NAME, "eleven char", "at least 12 characters"),
        ("not-an-email", NAME, PASSWORD, "is not an email address"),
        (EMAIL, "   ", PASSWORD, "the name must have"),
    ],
)
def test_create_practitioner_refuses_bad_input(
    app: Flask, runner: FlaskCliRunner, email: str, name: str, password: str, message: str
) -> None:
    result = runner.invoke(
        args=["create-practitioner", email, "--name", name, "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert query(app, "SELECT * FROM practitioners") == []


def test_a_twelve_character_password_is_enough(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["create-practitioner", EMAIL, "--name", NAME, "--password-stdin"], input="twelve chars\n"
    )
    assert result.exit_code == 0, result.output


def test_create_practitioner_refuses_a_taken_email(app: Flask, runner: FlaskCliRunner) -> None:
    create_account(app)
    result = runner.invoke(
        args=["create-practitioner", EMAIL.upper(), "--name", "Someone Else", "--password-stdin"], input=PASSWORD
    )
    assert result.exit_code == 2
    assert "already exists" in result.stderr


def test_deactivate_practitioner(app: Flask, runner: FlaskCliRunner) -> None:
    create_account(app)
    result = runner.invoke(args=["deactivate-practitioner", EMAIL])
    assert result.exit_code == 0, result.output
    assert query(app, "SELECT active FROM practitioners") == [{"active": 0}]
    assert [r["target"] for r in audit_rows(app, "practitioner.deactivate")] == [f"practitioner:{EMAIL}"]
    unknown = runner.invoke(args=["deactivate-practitioner", "nobody@example.com"])
    assert unknown.exit_code == 2
    assert "no practitioner" in unknown.stderr


# --- API token commands -----------------------------------------------------------


def test_api_token_is_printed_once_and_works_until_revoked(app: Flask, runner: FlaskCliRunner) -> None:
    create_account(app)
    result = runner.invoke(args=["create-api-token", EMAIL, "--name", "EHR sync"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", token)
    assert token not in str(query(app, "SELECT * FROM api_tokens"))
    with app.app_context():
        assert storage.get_api_token(get_db(), token)["name"] == "EHR sync"
    again = runner.invoke(args=["create-api-token", EMAIL, "--name", "EHR sync"])
    assert again.exit_code == 2
    assert "already has a token" in again.stderr

    revoked = runner.invoke(args=["revoke-api-token", EMAIL, "--name", "EHR sync"])
    assert revoked.exit_code == 0, revoked.output
    with app.app_context():
        assert storage.get_api_token(get_db(), token) is None
    assert [r["action"] for r in audit_rows(app) if r["action"].startswith("api_token")] == [
        "api_token.create",
        "api_token.revoke",
    ]
    assert token not in str(audit_rows(app))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create-api-token", "nobody@example.com", "--name", "x"], "no practitioner"),
        (["revoke-api-token", "nobody@example.com", "--name", "x"], "no practitioner"),
        (["revoke-api-token", EMAIL, "--name", "never issued"], "no live token"),
        (["create-api-token", "off@example.com", "--name", "x"], "deactivated"),
    ],
)
def test_api_token_commands_refuse_mistakes(app: Flask, runner: FlaskCliRunner, args: list[str], message: str) -> None:
    create_account(app)
    create_account(app, "off@example.com", "Dr Off")
    with app.app_context():
        storage.set_practitioner_active(get_db(), "off@example.com", False)
    result = runner.invoke(args=args)
    assert result.exit_code == 2
    assert message in result.stderr


# --- Login ---------------------------------------------------------------------


def test_login_page_has_email_and_password_fields(client: FlaskClient) -> None:
    html = client.get("/practitioner/login").get_data(as_text=True)
    assert re.search(r'<label[^>]*for="email"[^>]*>Email</label>', html)
    assert re.search(r'<label[^>]*for="password"[^>]*>Password</label>', html)
    assert 'type="password"' in html
    assert 'autocomplete="current-password"' in html


def test_login_succeeds_and_opens_the_queue(app: Flask) -> None:
    create_account(app)
    client = app.test_client()
    response = sign_in(client, email="  ADA@example.com ")
    assert response.status_code == 303
    assert response.headers["Location"] == "/practitioner/"
    queue = client.get("/practitioner/")
    assert queue.status_code == 200
    assert f"Signed in as {NAME}" in page_text(queue)
    (row,) = audit_rows(app, "login.success")
    assert row["actor"] == EMAIL
    assert row["client_address"] == "127.0.0.1"
    assert row["practitioner_id"] == 1


@pytest.mark.parametrize(
    ("email", "password", "reason"),
    [
        (EMAIL, "wrong password!!", "wrong password"),
        (EMAIL, PASSWORD.upper(), "wrong password"),
        ("nobody@example.com", PASSWORD, "unknown account"),
        ("off@example.com", PASSWORD, "deactivated"),
    ],
)
def test_failed_login_says_nothing_about_which_part_was_wrong(
    app: Flask, email: str, password: str, reason: str
) -> None:
    create_account(app)
    create_account(app, "off@example.com", "Dr Off")
    with app.app_context():
        storage.set_practitioner_active(get_db(), "off@example.com", False)
    client = app.test_client()
    response = sign_in(client, email, password)
    assert response.status_code == 200
    text = page_text(response)
    assert GENERIC_FAILURE in text
    assert "unknown" not in text.lower()
    assert "deactivated" not in text.split(GENERIC_FAILURE)[0]
    assert f'value="{email}"' in response.get_data(as_text=True)  # the email is kept, the password is not
    assert password not in response.get_data(as_text=True)
    assert is_login_redirect(client.get("/practitioner/"))
    (row,) = audit_rows(app, "login.failure")
    assert row["details"] == f'{{"reason": "{reason}"}}'
    assert row["practitioner_id"] is None


def test_login_with_empty_fields_is_a_form_error(client: FlaskClient) -> None:
    response = client.post("/practitioner/login", data={"email": "", "password": ""})
    assert response.status_code == 400
    text = page_text(response)
    assert "Enter your email address." in text
    assert "Enter your password." in text


def test_audit_never_stores_a_password_typed_as_the_email(app: Flask) -> None:
    client = app.test_client()
    sign_in(client, email=PASSWORD, password="whatever")
    assert PASSWORD not in str(audit_rows(app))


@pytest.mark.parametrize(
    ("next_url", "landing"),
    [
        ("/practitioner/rules", "/practitioner/rules"),
        ("/practitioner/?status=review", "/practitioner/?status=review"),
        ("https://evil.example/practitioner/", "/practitioner/"),
        ("//evil.example/practitioner/", "/practitioner/"),
        ("/practitioner/\\evil", "/practitioner/"),
        ("/result/secret", "/practitioner/"),
    ],
)
def test_login_goes_back_only_to_workspace_pages(app: Flask, next_url: str, landing: str) -> None:
    create_account(app)
    client = app.test_client()
    response = client.post(
        "/practitioner/login", query_string={"next": next_url}, data={"email": EMAIL, "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == landing


def test_an_anonymous_visit_remembers_the_page(app: Flask) -> None:
    create_account(app)
    client = app.test_client()
    response = client.get("/practitioner/audit?action=logout")
    assert is_login_redirect(response)
    login_page = response.headers["Location"]
    assert client.get(login_page).status_code == 200
    signed = client.post(login_page, data={"email": EMAIL, "password": PASSWORD})
    assert signed.headers["Location"] == "/practitioner/audit?action=logout"


# --- Sessions and logout ---------------------------------------------------------


def test_logout_is_a_post_and_ends_the_session(app: Flask) -> None:
    client = signed_in(app)
    assert client.get("/practitioner/logout").status_code == 405
    response = client.post("/practitioner/logout")
    assert response.status_code == 303
    assert response.headers["Location"] == "/practitioner/login"
    assert "You are signed out." in page_text(client.get("/practitioner/login"))
    assert is_login_redirect(client.get("/practitioner/"))
    assert len(audit_rows(app, "logout")) == 1


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE practitioners SET active = 0",
        "UPDATE sessions SET ended_at = '2026-11-24T00:00:00+00:00'",
        "DELETE FROM sessions",
    ],
)
def test_an_account_change_ends_open_sessions(app: Flask, change: str) -> None:
    client = signed_in(app)
    execute(app, change)
    assert is_login_redirect(client.get("/practitioner/"))


def test_the_session_is_tied_to_the_browser(app: Flask) -> None:
    client = signed_in(app)
    response = client.get("/practitioner/", headers={"User-Agent": "Another browser"})
    assert is_login_redirect(response)


# --- CSRF ------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(tmp_path: Path) -> Flask:
    """The app with CSRF protection on, as in production."""
    return build_app(tmp_path, WTF_CSRF_ENABLED=True, RATELIMIT_ENABLED=True)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_login_without_the_csrf_token_is_refused(csrf_app: Flask) -> None:
    create_account(csrf_app)
    client = csrf_app.test_client()
    response = sign_in(client)
    assert response.status_code == 400
    assert "This form expired" in page_text(response)
    assert is_login_redirect(client.get("/practitioner/"))
    assert audit_rows(csrf_app, "login.success") == []

    token = csrf_token(client.get("/practitioner/login").get_data(as_text=True))
    response = client.post("/practitioner/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303


def test_logout_and_review_need_the_csrf_token(csrf_app: Flask) -> None:
    create_account(csrf_app)
    screening = add_screening(csrf_app, keloids="unsure")
    client = csrf_app.test_client()
    token = csrf_token(client.get("/practitioner/login").get_data(as_text=True))
    assert client.post("/practitioner/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token})
    detail = client.get(f"/practitioner/screening/{screening['reference']}")
    revision = re.search(r'name="revision" type="hidden" value="([^"]+)"', detail.get_data(as_text=True)).group(1)
    response = client.post(
        f"/practitioner/screening/{screening['reference']}/review",
        data={"status": "eligible", "reason_code": "other", "revision": revision},
    )
    assert response.status_code == 400
    assert query(csrf_app, "SELECT * FROM reviews") == []
    assert client.post("/practitioner/logout").status_code == 400
    assert client.get("/practitioner/").status_code == 200  # still signed in


# --- No anonymous access ---------------------------------------------------------------


def workspace_requests(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, URL) for every rule under /practitioner, with dummy
    values for the URL's variables."""
    requests = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/practitioner"):
            continue
        values = {name: 1 if name.endswith("_id") else "ACDEFGHJ" for name in rule.arguments}
        url = adapter.build(rule.endpoint, values, method=None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            requests.append((rule.endpoint, method, url))
    return requests


def test_every_workspace_url_sends_anonymous_visitors_to_the_login_page(app: Flask, client: FlaskClient) -> None:
    add_screening(app)
    requests = workspace_requests(app)
    endpoints = {endpoint for endpoint, _, _ in requests}
    # The map really is enumerated: every page of the workspace is in it.
    assert {
        "practitioner.queue",
        "practitioner.detail",
        "practitioner.review",
        "practitioner.reconfirm",
        "practitioner.answers",
        "practitioner.rules",
        "practitioner.audit_log",
        "practitioner.export_csv",
        "practitioner.logout",
        "practitioner.login",
    } <= endpoints
    for endpoint, method, url in requests:
        response = client.open(url, method=method)
        if endpoint == "practitioner.login":
            assert response.status_code in (200, 400), (method, url)
            continue
        if endpoint == "practitioner.set_password":  # a link's own page: an unknown link is gone
            assert response.status_code == 410, (method, url)
            continue
        assert response.status_code in (302, 303) and response.headers["Location"].startswith("/practitioner/login"), (
            endpoint,
            method,
            url,
            response.status_code,
        )
    assert query(app, "SELECT count(*) AS n FROM reviews") == [{"n": 0}]
    assert audit_rows(app, "screening.view") == []
    assert audit_rows(app, "export.csv") == []


@pytest.mark.parametrize(
    ("config", "attempts", "expected"),
    [
        # Per address: a fourth attempt from one address is refused, whatever the account.
        (
            {"LOGIN_RATE_LIMIT": "3 per minute"},
            [("a@x.org", 1), ("b@x.org", 1), ("c@x.org", 1), ("d@x.org", 1)],
            [200, 200, 200, 429],
        ),
        # Per account and address: guessing one account's password from one address is
        # refused in any letter case; the account from another address is not.
        (
            {"LOGIN_ACCOUNT_RATE_LIMIT": "2 per hour"},
            [("a@x.org", 1), ("A@x.org ", 1), ("a@x.org", 1), ("b@x.org", 1), ("a@x.org", 2)],
            [200, 200, 429, 200, 200],
        ),
    ],
)
def test_sign_in_attempts_are_rate_limited(
    tmp_path: Path, config: dict[str, str], attempts: list[tuple[str, int]], expected: list[int]
) -> None:
    app = build_app(tmp_path, RATELIMIT_ENABLED=True, **config)
    statuses = []
    for email, address in attempts:
        response = app.test_client().post(
            "/practitioner/login",
            data={"email": email, "password": "wrong password!"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{address}"},
        )
        statuses.append(response.status_code)
    assert statuses == expected


@pytest.mark.slow  # sleeps past the idle timeout
def test_an_idle_session_ends(tmp_path: Path) -> None:
    import time

    app = build_app(tmp_path, IDLE_TIMEOUT=1)
    with app.app_context():
        storage.create_practitioner(get_db(), "idle@example.com", "Dr Idle", hash_password("a long enough password"))
    client = app.test_client()
    response = client.post(
        "/practitioner/login", data={"email": "idle@example.com", "password": "a long enough password"}
    )
    assert response.status_code == 303
    assert client.get("/practitioner/").status_code == 200
    time.sleep(2.1)
    response = client.get("/practitioner/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/practitioner/login")
    page = client.get(response.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "signed out after a period without activity" in page
    assert client.get("/practitioner/").status_code == 302  # the session is gone, not just refused once
