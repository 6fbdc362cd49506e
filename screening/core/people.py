"""Who a screening is for and who works on it: the details people type, and
the one set of checks on them that the web form, the API and the CLI share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from email_validator import EmailNotValidError, validate_email

from .text import InvalidText, clean_text
from .text import has_hidden_characters as has_hidden_characters  # the CLI and account forms check names here

NAME_MAX = 200
EMAIL_MAX = 254
PHONE_MAX = 32
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
COMMENT_MAX = 2000
PHONE_PATTERN = re.compile(r"^\+?[0-9 ()\-]{6,}$")
PATIENT_DETAILS = ("name", "email", "phone")

# Plain-English messages (the API and the CLI); the web form shows its own
# translated text for the same codes.
DETAIL_MESSAGES = {
    "required": "is required",
    "too_long": "must be at most {max} characters",
    "invalid_email": "must be one email address like name@example.com",
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
    """Whether ``value`` (already trimmed) is one e-mail address: no list, no display name.

    Checked by the maintained ``email-validator`` (internationalised addresses
    included), its syntax only: nothing here may reach the network.
    """
    if len(value) > EMAIL_MAX:
        return False
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def check_patient(name: str, email: str = "", phone: str = "") -> Patient:
    """The patient's details, trimmed, or ``InvalidPatient`` naming every bad field.

    Lengths count as typed (a field cannot grow past its limit by spaces), formats
    once trimmed; the clinic needs at least one way to reach the patient.
    """
    problems: list[DetailError] = []
    typed = {"name": name, "email": email, "phone": phone}
    cleaned: dict[str, str] = {}
    for field, value in typed.items():
        if len(value) > DETAIL_LIMITS[field]:
            problems.append(DetailError(field, "too_long"))
            cleaned[field] = value.strip()
            continue
        try:
            # core.text's one rule: a name of only invisible characters is no name.
            cleaned[field] = clean_text(value)
        except InvalidText as error:
            problems.append(DetailError(field, error.code))
            cleaned[field] = value.strip()
    patient = Patient(name=cleaned["name"], email=cleaned["email"], phone=cleaned["phone"])
    bad = {problem.field for problem in problems}
    if not patient.name and "name" not in bad:
        problems.append(DetailError("name", "required"))
    if patient.email and "email" not in bad and not is_email(patient.email):
        problems.append(DetailError("email", "invalid_email"))
    if patient.phone and "phone" not in bad and not PHONE_PATTERN.match(patient.phone):
        problems.append(DetailError("phone", "invalid_phone"))
    if not patient.email and not patient.phone and not bad & {"email", "phone"}:
        problems.append(DetailError("email", "no_contact"))
    if problems:
        raise InvalidPatient(problems)
    return patient
