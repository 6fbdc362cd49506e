"""Practitioner sign-in: password hashing, Flask-Login sessions, lockout.

A session names the account and a key derived from its password hash, so
changing a password ends every session of the account; a deactivated account
is refused both at sign-in and on every later request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from functools import cache
from typing import Any

from flask import Flask, current_app, has_app_context
from flask_login import LoginManager, UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from .. import storage
from ..core.people import EMAIL_MAX, PASSWORD_MAX, PASSWORD_MIN, is_email, normalise_email
from ..web.audit import audit, practitioner_target
from ..web.db import get_db

login_manager = LoginManager()


class PasswordError(ValueError):
    """A password that may not be used."""


def check_new_password(password: str) -> None:
    """Refuse passwords too short to resist guessing (or absurdly long)."""
    if len(password) < PASSWORD_MIN:
        raise PasswordError(f"the password must have at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise PasswordError(f"the password must have at most {PASSWORD_MAX} characters")


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

    def __init__(self, row: Mapping[str, Any]):
        self.id: int = row["id"]
        self.email: str = row["email"]
        self.name: str = row["name"]
        self._session_key = _session_key(row["password_hash"])

    def get_id(self) -> str:
        """Account id plus password-derived key, as stored in the session."""
        return f"{self.id}:{self._session_key}"


def _session_key(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def load_user(user_id: str) -> Practitioner | None:
    """The session's account, if it still exists, is active and has the same password."""
    account_id, _, key = user_id.partition(":")
    if not account_id.isdigit():
        return None
    row = storage.get_practitioner(get_db(), int(account_id))
    if row is None or not row["active"] or _session_key(row["password_hash"]) != key:
        return None
    return Practitioner(row)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _typed_email(email: str) -> str:
    # Only what looks like an address goes into the audit trail: never a
    # password typed into the wrong field.
    email = normalise_email(email)[:EMAIL_MAX]
    return email if is_email(email) else "(not an email address)"


def authenticate(email: str, password: str) -> Practitioner | None:
    """The account if the email and password match an active, unlocked one.

    Every attempt is audited. Failures in a row lock the account for a while
    (``LOGIN_LOCK_AFTER`` failures, ``LOGIN_LOCK_MINUTES`` minutes).
    """
    db = get_db()
    row = storage.get_practitioner_by_email(db, email)
    actor = _typed_email(email)
    if row is None:
        check_password_hash(_dummy_hash(), password)
        audit("login.failure", None, {"reason": "unknown account"}, actor=actor)
        return None
    target = practitioner_target(row["email"])
    now = _now()
    if row["locked_until"] and dt.datetime.fromisoformat(row["locked_until"]) > now:
        check_password_hash(_dummy_hash(), password)
        audit("login.failure", target, {"reason": "locked"}, actor=actor)
        return None
    if not check_password_hash(row["password_hash"], password):
        limit = int(current_app.config["LOGIN_LOCK_AFTER"])
        minutes = int(current_app.config["LOGIN_LOCK_MINUTES"])
        until = (now + dt.timedelta(minutes=minutes)).isoformat(timespec="microseconds")
        locked = storage.record_login_failure(db, row["id"], limit=limit, lock_until=until)
        audit("login.failure", target, {"reason": "wrong password"}, actor=actor)
        if locked:
            audit("login.locked", target, {"failures": limit, "minutes": minutes}, actor=actor)
        return None
    if not row["active"]:
        audit("login.failure", target, {"reason": "deactivated"}, actor=actor)
        return None
    storage.record_login_success(db, row["id"])
    audit("login.success", target, actor=row["email"], practitioner_id=row["id"])
    return Practitioner(row)


def init_app(app: Flask) -> None:
    """Set up Flask-Login."""
    login_manager.init_app(app)
    login_manager.login_view = "practitioner.login"
    # A session copied to another browser or address is dropped.
    login_manager.session_protection = "strong"
    login_manager.user_loader(load_user)
