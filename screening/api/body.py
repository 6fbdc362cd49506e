"""Reading a request body: the JSON object itself, and the patient's details
in it. The shape of the JSON is checked here; what the details must say is
``core.people``'s, shared with the web form and the CLI."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Response, request

from ..core.people import PATIENT_DETAILS, DetailError, InvalidPatient, Patient, check_patient
from ..web.errors import json_error

# The API names the other contact field, since its errors are keyed by field
# and this one is reported under patient.email only.
_MESSAGES = {"no_contact": "an email address or a phone number (patient.phone) is required"}

# A \u escape of a UTF-16 surrogate (D800 to DFFF), the only way JSON text can hold one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
# Bodies with at most this many brackets are too shallow to exceed the encoder's recursion limit.
_SHALLOW = 200


def read_json_object() -> dict[str, Any] | Response:
    """The request body as a JSON object, or the error response to send."""
    if not request.is_json:
        return json_error(415, "Send the body as JSON with Content-Type: application/json.")
    # get_data raises 413 (a JSON error, see errors.py) past MAX_CONTENT_LENGTH.
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return json_error(400, "The body is not valid JSON.", {"body": ["is not valid JSON"]})
    try:
        # Lone surrogates ("\ud800") parse but cannot be stored as UTF-8. In UTF-8 a surrogate only
        # comes from a \u escape (the decoder refuses encoded ones), and a body nested deep enough
        # to fail encoding has many brackets: only such bodies, and UTF-16 or UTF-32 ones (json
        # reads those too; a NUL byte is never in UTF-8 JSON), are encoded again to check.
        if b"\x00" in raw or _SURROGATE_ESCAPE.search(raw) or raw.count(b"[") + raw.count(b"{") > _SHALLOW:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return json_error(400, "The body is not valid JSON.", {"body": ["holds text that is not valid Unicode"]})
    if not isinstance(data, dict):
        return json_error(
            400, "The body must be a JSON object.", {"body": ["must be an object with answers, patient and consent"]}
        )
    return data


def _message(problem: DetailError) -> str:
    return _MESSAGES.get(problem.code) or problem.message


def parse_patient(raw: Any, errors: dict[str, list[str]]) -> Patient | None:
    """The patient's details checked as the web form checks them; None (and ``errors``) if invalid."""
    if raw is None:
        errors["patient"] = ["is required: an object with name, and email or phone"]
        return None
    if not isinstance(raw, dict):
        errors["patient"] = ["must be an object with name, and email or phone"]
        return None
    before = len(errors)
    for key in raw:
        if key not in PATIENT_DETAILS:
            errors[f"patient.{key}"] = ["is not a field of patient (name, email, phone)"]
    typed: dict[str, str] = {}
    for field in PATIENT_DETAILS:
        value = raw.get(field)
        if value is None or isinstance(value, str):
            typed[field] = value or ""
        else:
            errors[f"patient.{field}"] = ["must be a string"]
    try:
        patient = check_patient(typed.get("name", ""), typed.get("email", ""), typed.get("phone", ""))
    except InvalidPatient as error:
        # A name of only spaces is missing, however long: "required" goes first.
        for problem in sorted(error.problems, key=lambda p: p.code != "required"):
            if problem.field not in typed:
                continue  # not a string: already reported, and checked as blank
            if problem.code == "no_contact" and ("patient.email" in errors or "patient.phone" in errors):
                continue  # contact details were given, wrongly: that is the error to fix
            # One message per field, the first: a text too long is not also checked for format.
            errors.setdefault(f"patient.{problem.field}", [_message(problem)])
        return None
    return patient if len(errors) == before else None
