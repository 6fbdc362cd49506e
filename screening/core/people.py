"""Who a screening is for and who works on it: the details people type, and
the one set of checks on them that the web form, the API and the CLI share."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

NAME_MAX = 200
EMAIL_MAX = 254
PHONE_MAX = 32
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
COMMENT_MAX = 2000
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_PATTERN = re.compile(r"^\+?[0-9 ()\-]{6,}$")
PATIENT_DETAILS = ("name", "email", "phone")

# Plain-English messages (the API and the CLI); the web form shows its own
# translated text for the same codes.
DETAIL_MESSAGES = {
    "required": "is required",
    "too_long": "must be at most {max} characters",
    "invalid_email": "must be an email address like name@example.com",
    "invalid_phone": "must be a phone number of digits, spaces, brackets and dashes, optionally starting with +",
    "no_contact": "an email address or a phone number is required",
    "invalid_characters": "must not contain control characters or text-direction overrides",
}
DETAIL_LIMITS = {"name": NAME_MAX, "email": EMAIL_MAX, "phone": PHONE_MAX}


@dataclass(frozen=True)
class Patient:
    """Who the screening is for, as typed by the patient."""

    name: str
    email: str = ""
    phone: str = ""


class DetailError(NamedTuple):
    """One problem with one of the patient's details."""

    field: str  # one of PATIENT_DETAILS
    code: str  # a key of DETAIL_MESSAGES

    @property
    def message(self) -> str:
        """The problem in plain English."""
        return DETAIL_MESSAGES[self.code].format(max=DETAIL_LIMITS.get(self.field, 0))


class InvalidPatient(Exception):
    """The patient's details cannot be stored; ``problems`` names each field."""

    def __init__(self, problems: list[DetailError]):
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


def normalise_email(email: str) -> str:
    """An e-mail address as stored and compared: trimmed, lower case."""
    return email.strip().lower()


def is_email(value: str) -> bool:
    """Whether ``value`` (already trimmed) looks like an e-mail address."""
    return len(value) <= EMAIL_MAX and EMAIL_PATTERN.match(value) is not None


# Characters that hide or reorder what staff read: controls (NUL, tabs,
# newlines) and the bidirectional embeddings, overrides and isolates.
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")


def has_hidden_characters(text: str) -> bool:
    """Whether ``text`` holds control characters or text-direction controls."""
    return any(unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS for ch in text)


def check_patient(name: str, email: str = "", phone: str = "") -> Patient:
    """The patient's details, trimmed, or ``InvalidPatient`` naming every bad field.

    Lengths count as typed (a field cannot grow past its limit by spaces), formats
    once trimmed; the clinic needs at least one way to reach the patient.
    """
    problems: list[DetailError] = []
    typed = {"name": name, "email": email, "phone": phone}
    for field, value in typed.items():
        if len(value) > DETAIL_LIMITS[field]:
            problems.append(DetailError(field, "too_long"))
        elif has_hidden_characters(value.strip()):
            problems.append(DetailError(field, "invalid_characters"))
    patient = Patient(name=name.strip(), email=email.strip(), phone=phone.strip())
    if not patient.name:
        problems.append(DetailError("name", "required"))
    if patient.email and not EMAIL_PATTERN.match(patient.email):
        problems.append(DetailError("email", "invalid_email"))
    if patient.phone and not PHONE_PATTERN.match(patient.phone):
        problems.append(DetailError("phone", "invalid_phone"))
    if not patient.email and not patient.phone:
        problems.append(DetailError("email", "no_contact"))
    if problems:
        raise InvalidPatient(problems)
    return patient
