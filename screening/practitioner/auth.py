"""Practitioner sign-in: password hashing, Flask-Login sessions, lockout.

A sign-in starts a server-side session (a row in ``sessions``); the cookie
carries only its random secret. Signing out, a password change, deactivation
and a role change end the row, so a copied cookie is refused afterwards; the
idle timeout and the absolute lifetime are checked against the row, never
against what the cookie says.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cache
from typing import Any

from flask import Flask, current_app, g, has_app_context, request
from flask_login import LoginManager, UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from .. import storage
from ..core.passwords import PASSWORD_MESSAGES, password_problem
from ..core.people import EMAIL_MAX, is_email, normalise_email
from ..outbox import wake_sender
from ..outbox.account_mail import queue_failed_sign_ins_notice
from ..web.audit import audit, practitioner_target
from ..web.db import get_db

login_manager = LoginManager()


class PasswordError(ValueError):
    """A password that may not be used."""


def check_new_password(password: str, email: str = "") -> None:
    """Refuse passwords the policy refuses (``core.passwords``): short, one
    character repeated, well known, or the account's e-mail."""
    problem = password_problem(password, email)
    if problem is not None:
        raise PasswordError(PASSWORD_MESSAGES[problem])


def hash_password(password: str) -> str:
    """A salted hash (Werkzeug's format, parameters included): scrypt unless
    ``PASSWORD_HASH_METHOD`` says otherwise (tests choose a cheap one)."""
    method = current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"
    return generate_password_hash(password, method=str(method))


@cache
def _dummy_hash() -> str:
    # Checked against when there is no account, so that an unknown email
    # takes as long to refuse as a wrong password.
    return hash_password("not a real password, only for timing")


class Practitioner(UserMixin):
    """The signed-in account, as Flask-Login's ``current_user``."""

    def __init__(self, row: Mapping[str, Any], session_secret: str, session_id: int):
        self.id: int = row["id"]
        self.email: str = row["email"]
        self.name: str = row["name"]
        self.role: str = row["role"]
        # May approve a rule change another account proposed (m041).
        self.medical_director = bool(row["medical_director"])
        self.has_totp = bool(row["totp_secret"])
        self.session_id = session_id
        self._session_secret = session_secret

    def get_id(self) -> str:
        """The session's secret, as the cookie carries it (Flask-Login's user id)."""
        return self._session_secret


def _age(timestamp: str, now: dt.datetime) -> float:
    return (now - dt.datetime.fromisoformat(timestamp)).total_seconds()


def load_user(secret: str) -> Practitioner | None:
    """The account of the session this cookie names, if the session is open,
    neither idle too long nor too old, and the account is active.

    An idle or too old session is ended here; ``g.session_timed_out`` tells
    the workspace to say why the visitor must sign in again.
    """
    db = get_db()
    session_row = storage.get_session(db, secret)
    if session_row is None or session_row["ended_at"] is not None:
        return None
    now = now_utc()
    reason = None
    if _age(session_row["last_seen_at"], now) > int(current_app.config["IDLE_TIMEOUT"]):
        reason = "idle"
    elif _age(session_row["created_at"], now) > int(current_app.config["SESSION_MAX_AGE"]):
        reason = "max_age"
    if reason is not None:
        storage.end_session(db, session_row["id"], reason)
        g.session_timed_out = True
        return None
    row = storage.get_practitioner(db, session_row["practitioner_id"])
    if row is None or not row["active"]:
        storage.end_session(db, session_row["id"], "deactivated")
        return None
    storage.touch_session(db, session_row["id"])
    return Practitioner(row, secret, session_row["id"])


def start_session(row: Mapping[str, Any]) -> Practitioner:
    """A new server-side session for a signed-in account."""
    secret = storage.start_session(get_db(), row["id"], request.remote_addr, request.headers.get("User-Agent"))
    session_row = storage.get_session(get_db(), secret)
    assert session_row is not None
    return Practitioner(row, secret, session_row["id"])


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _typed_email(email: str) -> str:
    # Only what looks like an address goes into the audit trail: never a
    # password typed into the wrong field.
    email = normalise_email(email)[:EMAIL_MAX]
    return email if is_email(email) else "(not an email address)"


class SignInPaused(Exception):
    """Too many failed sign-ins to this account from this address: wait ``seconds``."""

    def __init__(self, seconds: int):
        super().__init__(f"sign-ins paused for {seconds} seconds")
        self.seconds = seconds


def authenticate(email: str, password: str) -> Practitioner | None:
    """The account (with a new session) if the email and password match an active one;
    for an account with two-factor sign-in, the account without a session yet
    (``session_id`` 0): the code comes next.

    Every attempt is audited. Failures are counted per account *and* client
    address: from the ``LOGIN_LOCK_AFTER``-th in a row, that pair waits
    ``LOGIN_DELAY_SECONDS``, doubling with each further failure up to
    ``LOGIN_LOCK_MINUTES``; the right password from another address still
    works, so nobody can lock a colleague out. Unknown accounts are counted
    the same way, so the pause says nothing about which accounts exist.
    Raises ``SignInPaused`` while the pair waits.
    """
    db = get_db()
    email = normalise_email(email)[:EMAIL_MAX]
    address = request.remote_addr or "unknown"
    actor = _typed_email(email)
    now = now_utc()
    until = storage.login_blocked_until(db, email, address, now)
    if until is not None:
        audit("login.failure", None, {"reason": "paused"}, actor=actor)
        raise SignInPaused(max(1, int((until - now).total_seconds() + 0.999)))
    row = storage.get_practitioner_by_email(db, email)
    if row is None:
        check_password_hash(_dummy_hash(), password)
        count_failure(email, address, now, None, actor, "unknown account")
        return None
    target = practitioner_target(row["email"])
    if not check_password_hash(row["password_hash"], password):
        count_failure(email, address, now, target, actor, "wrong password")
        return None
    if not row["active"]:
        audit("login.failure", target, {"reason": "deactivated"}, actor=actor)
        return None
    storage.clear_failed_logins(db, email, address)
    if row["totp_secret"]:
        # The password is right; the session starts once the second factor is (two_factor.py).
        audit("login.password_ok", target, actor=row["email"], practitioner_id=row["id"])
        return Practitioner(row, "", 0)
    return complete_sign_in(row)


def complete_sign_in(row: Mapping[str, Any], details: Mapping[str, Any] | None = None) -> Practitioner:
    """Record the sign-in and start its server-side session."""
    storage.record_login_success(get_db(), row["id"])
    audit("login.success", practitioner_target(row["email"]), details, actor=row["email"], practitioner_id=row["id"])
    return start_session(row)


def count_failure(email: str, address: str, now: dt.datetime, target: str | None, actor: str, reason: str) -> None:
    """Count a failed sign-in (password, or second factor) for the account and address, audited."""
    config = current_app.config
    failures, delay = storage.record_failed_login(
        get_db(),
        email,
        address,
        now,
        after=int(config["LOGIN_LOCK_AFTER"]),
        first_delay=int(config["LOGIN_DELAY_SECONDS"]),
        max_delay=int(config["LOGIN_LOCK_MINUTES"]) * 60,
    )
    audit("login.failure", target, {"reason": reason}, actor=actor)
    if delay:
        audit("login.locked", target, {"failures": failures, "seconds": delay}, actor=actor)
        if target is not None and failures == int(config["LOGIN_LOCK_AFTER"]):
            # The holder hears of it once per address, when sign-ins from it first pause.
            queue_failed_sign_ins_notice(
                get_db(), target.removeprefix("practitioner:"), failures, address, max(1, round(delay / 60))
            )
            wake_sender()


def init_app(app: Flask) -> None:
    """Set up Flask-Login."""
    login_manager.init_app(app)
    login_manager.login_view = "practitioner.login"
    # A session copied to another browser or address is dropped.
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)
