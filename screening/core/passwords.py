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


# Plain-English messages (the CLI); the web forms show translated ones for the same codes.
PASSWORD_MESSAGES = {
    "too_short": f"the password must have at least {PASSWORD_MIN} characters",
    "too_long": f"the password must have at most {PASSWORD_MAX} characters",
    "repeated": "the password must not be one character repeated (or only spaces)",
    "common": "the password is on a list of well-known passwords; choose another",
    "email": "the password must not be the e-mail address",
}


def password_problem(password: str, email: str = "") -> str | None:
    """The code (a key of ``PASSWORD_MESSAGES``) of why ``password`` may not be used, or None if it may."""
    if len(password) < PASSWORD_MIN:
        return "too_short"
    if len(password) > PASSWORD_MAX:
        return "too_long"
    compact = _comparable(password)
    if len(set(compact)) <= 1:
        return "repeated"
    if compact in common_passwords():
        return "common"
    address = normalise_email(email)
    if address and compact in (_comparable(address), _comparable(address.partition("@")[0])):
        return "email"
    return None
