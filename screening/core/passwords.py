"""The staff password policy: long enough, not one character over and over,
not a well-known password, not the account's own e-mail address."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from .people import PASSWORD_MAX, PASSWORD_MIN, normalise_email

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of well-known passwords, compared without case or spaces."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(_comparable(line) for line in lines if line.strip() and not line.startswith("#"))


def _comparable(text: str) -> str:
    return "".join(text.split()).casefold()


def password_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` may not be used (plain English), or None if it may."""
    if len(password) < PASSWORD_MIN:
        return f"the password must have at least {PASSWORD_MIN} characters"
    if len(password) > PASSWORD_MAX:
        return f"the password must have at most {PASSWORD_MAX} characters"
    compact = _comparable(password)
    if len(set(compact)) <= 1:
        return "the password must not be one character repeated (or only spaces)"
    if compact in common_passwords():
        return "the password is on a list of well-known passwords; choose another"
    address = normalise_email(email)
    if address and (compact == _comparable(address) or compact == _comparable(address.partition("@")[0])):
        return "the password must not be the e-mail address"
    return None
