"""The sign-in throttle: per account and address, growing, never a lock an
attacker elsewhere can put on a colleague."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.helpers import (
    EMAIL,
    PASSWORD,
    Inbox,
    audit_rows,
    create_account,
    execute,
    mail_text,
    page_text,
    query,
    send_mail,
)

GENERIC_FAILURE = "We could not sign you in with that email and password."
PAUSED = "too many failed attempts for this email from this computer"


def attempt(app: Flask, address: str, email: str = EMAIL, password: str = "not the password") -> TestResponse:
    client: FlaskClient = app.test_client()
    return client.post(
        "/practitioner/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}
    )


def pause_of(app: Flask, address: str) -> float:
    (row,) = query(app, "SELECT blocked_until FROM login_failures WHERE client_address = ?", [address])
    return (dt.datetime.fromisoformat(row["blocked_until"]) - dt.datetime.now(dt.UTC)).total_seconds()


def test_five_wrong_passwords_from_one_address_do_not_stop_the_right_one_from_another(app: Flask) -> None:
    create_account(app)
    for _ in range(5):
        assert GENERIC_FAILURE in page_text(attempt(app, "203.0.113.9"))
    assert PAUSED in page_text(attempt(app, "203.0.113.9", password=PASSWORD))  # that pair waits
    assert attempt(app, "192.0.2.10", password=PASSWORD).status_code == 303
    locked = audit_rows(app, "login.locked")
    assert len(locked) == 1 and locked[0]["client_address"] == "203.0.113.9"
    assert json.loads(audit_rows(app, "login.failure")[-1]["details"]) == {"reason": "paused"}


def test_the_delay_grows_with_each_failure_and_is_capped(app: Flask) -> None:
    create_account(app)
    address = "203.0.113.9"
    for _ in range(5):
        attempt(app, address)
    first = pause_of(app, address)
    assert 25 < first <= 30
    response = attempt(app, address)
    assert response.status_code == 429 and "Please wait 30 seconds" in page_text(response)
    delays = []
    for _ in range(8):
        execute(app, "UPDATE login_failures SET blocked_until = NULL")  # the wait is over
        attempt(app, address)
        delays.append(round(pause_of(app, address) / 30))
    assert delays == [2, 4, 8, 16, 30, 30, 30, 30]  # doubling, at most LOGIN_LOCK_MINUTES (15)


def test_the_right_password_after_the_wait_resets_the_count(app: Flask) -> None:
    create_account(app)
    for _ in range(5):
        attempt(app, "203.0.113.9")
    execute(app, "UPDATE login_failures SET blocked_until = NULL")
    assert attempt(app, "203.0.113.9", password=PASSWORD).status_code == 303
    assert query(app, "SELECT * FROM login_failures") == []
    (account,) = query(app, "SELECT last_login_at FROM practitioners")
    assert account["last_login_at"] is not None


@pytest.mark.parametrize("typed", ["ADA@example.com", "  ada@EXAMPLE.com  "])
def test_letter_case_and_spaces_count_as_the_same_account(app: Flask, typed: str) -> None:
    create_account(app)
    for _ in range(4):
        attempt(app, "203.0.113.9")
    attempt(app, "203.0.113.9", email=typed)
    assert query(app, "SELECT email, failures FROM login_failures") == [{"email": EMAIL, "failures": 5}]
    assert attempt(app, "203.0.113.9", email=typed, password=PASSWORD).status_code == 429
    assert attempt(app, "198.51.100.7", email=typed, password=PASSWORD).status_code == 303


def test_unknown_accounts_pause_the_same_way(app: Flask) -> None:
    """The pause says nothing about which accounts exist."""
    for _ in range(5):
        attempt(app, "203.0.113.9", email="nobody@example.com")
    assert PAUSED in page_text(attempt(app, "203.0.113.9", email="nobody@example.com"))


def test_the_account_holder_is_told_once_when_sign_ins_from_an_address_pause(mail_app: Flask, mailbox: Inbox) -> None:
    create_account(mail_app)
    for _ in range(7):  # the fifth failure pauses that address; the later ones tell nobody again
        attempt(mail_app, "203.0.113.9")
    attempt(mail_app, "198.51.100.7", email="nobody@example.com")  # no account: no message to anyone
    assert "1 delivered" in send_mail(mail_app)
    (message,) = mailbox.to(EMAIL)
    assert message["Subject"] == "Failed sign-ins to your account at Example Skin Clinic"
    text = mail_text(message)
    assert "5 failed attempts" in text and "203.0.113.9" in text and "other addresses still work" in text
    assert PASSWORD not in text and "not the password" not in text
