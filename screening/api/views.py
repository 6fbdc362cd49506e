"""The JSON API under /api/v1: the questionnaire, submitting a screening, and
bearer-token reads for the clinic's own systems (with a FHIR R4 export).

The OpenAPI 3.1 description (``/api/v1/openapi.json``, built in ``openapi.py``)
documents every route, body and error here; ``tests/test_openapi.py`` checks
the two against each other with Schemathesis.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.http import HTTP_STATUS_CODES

from ..core.engine import InvalidAnswers, screen
from ..core.model import OUTCOMES, Condition, RuleSet, pick_text
from ..core.people import EMAIL_MAX, EMAIL_PATTERN, NAME_MAX, PHONE_MAX, PHONE_PATTERN, Patient
from ..storage import (
    MAX_ROW_ID,
    ScreeningFilter,
    get_api_token,
    get_screening_by_reference,
    list_screenings,
    record_audit,
    save_screening,
    touch_api_token,
)
from ..web.audit import screening_target
from ..web.db import get_db, screening_day
from ..web.i18n import current_language
from ..web.limits import api_rate_limit, limiter
from ..web.ruleset import get_ruleset
from . import fhir
from .openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")

P = ParamSpec("P")
R = TypeVar("R")

BODY_KEYS = ("answers", "patient", "consent")
PATIENT_KEYS = ("name", "email", "phone")
PAGE_DEFAULT = 50
PAGE_MAX = 100
FHIR_JSON = "application/fhir+json; charset=utf-8"

# Strict forms for query parameters: Python's own parsers accept more (other
# digits, "+12:60" offsets, spaces) than the OpenAPI document promises.
_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DATE_TIME = re.compile(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
)
_LIMIT = re.compile(r"\A[0-9]{1,6}\Z")


# --- Responses ---------------------------------------------------------------


def error_response(
    status: int, message: str, errors: Mapping[str, list[str]] | None = None, headers: dict[str, str] | None = None
) -> Response:
    """A JSON error in the shape errors.py uses, plus ``errors`` by field when given."""
    body: dict[str, Any] = {"error": HTTP_STATUS_CODES.get(status, "Error"), "message": message}
    if errors is not None:
        body["errors"] = dict(errors)
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _read_json_object() -> dict[str, Any] | Response:
    """The request body as a JSON object, or the error response to send."""
    if not request.is_json:
        return error_response(415, "Send the body as JSON with Content-Type: application/json.")
    # get_data raises 413 (a JSON error, see errors.py) past MAX_CONTENT_LENGTH.
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return error_response(400, "The body is not valid JSON.", {"body": ["is not valid JSON"]})
    try:
        # Lone surrogates ("\ud800") parse but cannot be stored as UTF-8.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return error_response(400, "The body is not valid JSON.", {"body": ["holds text that is not valid Unicode"]})
    if not isinstance(data, dict):
        return error_response(
            400, "The body must be a JSON object.", {"body": ["must be an object with answers, patient and consent"]}
        )
    return data


# --- Questionnaire -------------------------------------------------------------


def condition_json(condition: Condition) -> dict[str, Any]:
    """A show_if condition as JSON: every clause in ``all`` must hold.

    Clauses: ``{"question", "in": [values]}`` (the answer, or for a multi
    question one of the answers, is one of the values); ``{"question",
    "age_under": years}``; ``{"question", "within": {"unit", "amount"}}`` (the
    date answer is less than amount units ago); ``{"any": [conditions]}``; and
    ``{"any_answer": value}`` (some answer equals value).
    """
    clauses: list[dict[str, Any]] = []
    for test in condition.tests:
        if test.date_test == "age_under":
            clauses.append({"question": test.question, "age_under": test.amount})
        elif test.date_test:
            unit = test.date_test.removeprefix("within_")
            clauses.append({"question": test.question, "within": {"unit": unit, "amount": test.amount}})
        else:
            clauses.append({"question": test.question, "in": sorted(test.values)})
    for group in condition.any_of:
        clauses.append({"any": [condition_json(sub) for sub in group]})
    if condition.any_answer is not None:
        clauses.append({"any_answer": condition.any_answer})
    return {"all": clauses}


def questionnaire_json(ruleset: RuleSet, language: str) -> dict[str, Any]:
    """Everything another front end needs to render the same form."""
    procedure = ruleset.procedure
    return {
        "language": language,
        "languages": list(ruleset.languages),
        "rules_version": ruleset.full_version,
        "procedure": {
            "name": pick_text(procedure.name, language),
            "description": pick_text(procedure.description, language),
            "course": pick_text(procedure.course, language),
            "preparation": [pick_text(text, language) for text in procedure.preparation],
            "aftercare": [pick_text(text, language) for text in procedure.aftercare],
        },
        "sections": [{"id": s.id, "title": pick_text(s.title, language)} for s in ruleset.sections],
        "questions": [
            {
                "id": q.id,
                "section": q.section,
                "type": q.type,
                "text": pick_text(q.text, language),
                "help": pick_text(q.help, language) if q.help else None,
                "required": q.required,
                "options": [{"value": o.value, "label": pick_text(o.label, language)} for o in q.options],
                "show_if": condition_json(q.show_if) if q.show_if else None,
            }
            for q in ruleset.questions
        ],
    }


@bp.get("/questionnaire")
def questionnaire() -> ResponseReturnValue:
    """The questions, the procedure and the rules version, in the Accept-Language language."""
    response = jsonify(questionnaire_json(get_ruleset(current_app), current_language()))
    response.vary.add("Accept-Language")
    return response


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(get_ruleset(current_app)))


# --- Submitting a screening ----------------------------------------------------------


def _text_field(
    value: Any, field: str, max_length: int, errors: dict[str, list[str]], pattern: re.Pattern[str] | None = None
) -> str:
    """A patient text as the web form checks it: length as typed, format once trimmed."""
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.setdefault(field, []).append("must be a string")
        return ""
    if len(value) > max_length:
        errors.setdefault(field, []).append(f"must be at most {max_length} characters")
        return ""
    text = value.strip()
    if text and pattern is not None and not pattern.match(text):
        errors.setdefault(field, []).append(
            "must be an email address like name@example.com"
            if field.endswith("email")
            else "must be a phone number of digits, spaces, brackets and dashes, optionally starting with +"
        )
    return text


def _patient(raw: Any, errors: dict[str, list[str]]) -> Patient | None:
    """The patient's details, with the web form's rules (forms.py); None if invalid."""
    if raw is None:
        errors["patient"] = ["is required: an object with name, and email or phone"]
        return None
    if not isinstance(raw, dict):
        errors["patient"] = ["must be an object with name, and email or phone"]
        return None
    before = len(errors)
    for key in raw:
        if key not in PATIENT_KEYS:
            errors[f"patient.{key}"] = ["is not a field of patient (name, email, phone)"]
    name_value = raw.get("name")
    if name_value is None or (isinstance(name_value, str) and not name_value.strip()):
        errors["patient.name"] = ["is required"]
        name = ""
    else:
        name = _text_field(name_value, "patient.name", NAME_MAX, errors)
    email = _text_field(raw.get("email"), "patient.email", EMAIL_MAX, errors, EMAIL_PATTERN)
    phone = _text_field(raw.get("phone"), "patient.phone", PHONE_MAX, errors, PHONE_PATTERN)
    if not email and not phone and "patient.email" not in errors and "patient.phone" not in errors:
        errors["patient.email"] = ["an email address or a phone number (patient.phone) is required"]
    if len(errors) > before:
        return None
    return Patient(name=name, email=email, phone=phone)


@bp.post("/screenings")
@limiter.limit(api_rate_limit, error_message="Too many screenings from this address; please try again later.")
def create_screening() -> ResponseReturnValue:
    """Validate as the web form does, store (source "api") and return the verdict."""
    body = _read_json_object()
    if isinstance(body, Response):
        return body
    ruleset = get_ruleset(current_app)
    errors: dict[str, list[str]] = {}
    for key in body:
        if key not in BODY_KEYS:
            errors[key] = ["is not a field of this request (answers, patient, consent)"]

    verdict = None
    answers = body.get("answers")
    if answers is None:
        errors["answers"] = ["is required: an object of answers keyed by question id"]
    elif not isinstance(answers, dict):
        errors["answers"] = ["must be an object of answers keyed by question id"]
    else:
        try:
            verdict = screen(ruleset, answers, screening_day())
        except InvalidAnswers as error:
            for problem in error.problems:
                # Question ids never contain a dot, so "answers.<key>" cannot
                # clash with them or with the patient fields.
                field = problem.field if problem.code != "unknown_question" else f"answers.{problem.field}"
                errors.setdefault(field, []).append(problem.message)

    patient = _patient(body.get("patient"), errors)
    if body.get("consent") is not True:
        errors["consent"] = ["must be true: the patient agrees that the clinic stores their answers"]

    if errors or verdict is None or patient is None:
        return error_response(400, "The screening has invalid fields; see errors.", errors)

    language = current_language()
    saved = save_screening(
        get_db(),
        verdict,
        patient,
        source="api",
        language=language,
        consent_version=current_app.config["CONSENT_VERSION"],
    )
    result = verdict.as_dict(language)
    response = jsonify(
        {
            "reference": saved.reference,
            "status": result["status"],
            "reasons": result["reasons"],
            "rescreen_after": result["rescreen_after"],
            "rules_version": result["rules_version"],
            "result_url": url_for("patient.result", token=saved.token, _external=True),
        }
    )
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_screening", reference=saved.reference, _external=True)
    return response


# --- Bearer-token reads ------------------------------------------------------------


def _unauthorized(message: str, token_given: bool) -> Response:
    challenge = 'Bearer realm="screening"'
    if token_given:
        challenge += ', error="invalid_token"'
    return error_response(401, message, headers={"WWW-Authenticate": challenge})


def bearer_required(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
    """Let the request through only with a live token (``g.api_token``)."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _unauthorized("This needs an API token: send Authorization: Bearer <token>.", bool(header))
        db = get_db()
        row = get_api_token(db, token)
        if row is None:
            return _unauthorized("The API token is not valid or has been revoked.", True)
        touch_api_token(db, row["id"])
        g.api_token = row
        return view(*args, **kwargs)

    return wrapped


def _audit(action: str, target: str, details: Mapping[str, Any] | None = None) -> None:
    """Record a read as the practitioner pages do (audit.py's actions and
    targets), with the token as the actor; never patient data."""
    token = g.api_token
    record_audit(
        get_db(),
        action,
        actor=f"api-token:{token['name']}",
        practitioner_id=token["practitioner_id"],
        target=target,
        client_address=request.remote_addr,
        details={"via": "api", "token_id": token["id"], **(details or {})},
    )


def reason_json(reason: Mapping[str, Any], language: str) -> dict[str, Any]:
    """A stored reason with its texts in ``language``."""
    return {
        "rule": reason.get("rule"),
        "outcome": reason.get("outcome"),
        "questions": list(reason.get("questions") or []),
        "patient": pick_text(reason.get("patient"), language),
        "practitioner": pick_text(reason.get("practitioner"), language),
        "source": reason.get("source") or "",
        "rescreen_after": reason.get("rescreen_after"),
    }


def screening_json(row: Mapping[str, Any], language: str) -> dict[str, Any]:
    """A stored screening for the clinic's systems, with the current review decision."""
    birth_key = get_ruleset().role_question("birth_date") or "birth_date"
    return {
        "reference": row["reference"],
        "created_at": row["created_at"],
        "source": row.get("source"),
        "language": row.get("language"),
        "status": row["status"],
        "reasons": [reason_json(r, language) for r in row.get("reasons") or []],
        "rescreen_after": row.get("rescreen_after"),
        "rules_version": row["rules_version"],
        "consent_version": row.get("consent_version"),
        "answers": row.get("answers") or {},
        "patient": {
            "name": row.get("patient_name") or "",
            "email": row.get("contact_email"),
            "phone": row.get("contact_phone"),
            # Named after the birth-date question, as API clients have always read it.
            birth_key: row.get("birth_date"),
        },
        "reviewed": bool(row.get("reviewed")),
        "decided_status": row.get("decided_status"),
        "reviewed_at": row.get("reviewed_at"),
        "url": url_for("api.get_screening", reference=row["reference"], _external=True),
        "fhir_url": url_for("api.get_screening_fhir", reference=row["reference"], _external=True),
    }


def encode_cursor(created_at: str, row_id: int) -> str:
    """An opaque page cursor: the (created_at, id) of the last row sent."""
    raw = json.dumps([created_at, row_id], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int] | None:
    """The (created_at, id) a cursor stands for, or None if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (ValueError, UnicodeError, binascii.Error):
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
        and not isinstance(value[1], bool)
        and 0 <= value[1] <= MAX_ROW_ID
    ):
        return value[0], value[1]
    return None


def parse_since(value: str) -> str | None:
    """A date or an RFC 3339 timestamp as the UTC text ``created_at`` compares with."""
    if _DATE.match(value):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            return None
    text = value.upper()
    if _DATE_TIME.match(text):
        try:
            return dt.datetime.fromisoformat(text).astimezone(dt.UTC).isoformat(timespec="microseconds")
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted past the calendar
            return None
    return None


@bp.get("/screenings")
@bearer_required
def list_screenings_view() -> ResponseReturnValue:
    """Screenings newest first, a page at a time (keyset: pass next_cursor back as cursor)."""
    errors: dict[str, list[str]] = {}
    args = request.args
    # A parameter that is present must be valid, even when empty.
    status = args.get("status")
    if status is not None and status not in OUTCOMES:
        errors["status"] = [f"must be one of: {', '.join(OUTCOMES)}"]
    since = None
    if "since" in args:
        since = parse_since(args["since"])
        if since is None:
            errors["since"] = ["must be a date (2026-11-24) or an RFC 3339 time (2026-11-24T09:30:00Z)"]
    before = None
    if args.get("cursor"):
        before = decode_cursor(args["cursor"])
        if before is None:
            errors["cursor"] = ["is not a cursor this API gave out (use next_cursor from the previous page)"]
    limit = PAGE_DEFAULT
    if "limit" in args:
        text = args["limit"]
        if not _LIMIT.match(text) or not 1 <= int(text) <= PAGE_MAX:
            errors["limit"] = [f"must be a whole number from 1 to {PAGE_MAX}"]
        else:
            limit = int(text)
    if errors:
        return error_response(400, "Some query parameters are invalid; see errors.", errors)

    db = get_db()
    rows = list_screenings(db, ScreeningFilter(status=status, since=since), before=before, limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    language = current_language()
    _audit(
        "screening.list",
        "list",
        {"status": status, "since": since, "count": len(page), "references": [r["reference"] for r in page]},
    )
    last = page[-1] if page else None
    return jsonify(
        {
            "screenings": [screening_json(row, language) for row in page],
            "next_cursor": encode_cursor(last["created_at"], last["id"]) if more and last else None,
        }
    )


def _find(reference: str) -> dict[str, Any] | Response:
    screening = get_screening_by_reference(get_db(), reference)
    if screening is None:
        return error_response(404, "There is no screening with this reference.")
    return screening


@bp.get("/screenings/<reference>")
@bearer_required
def get_screening(reference: str) -> ResponseReturnValue:
    """One screening by its reference code."""
    screening = _find(reference)
    if isinstance(screening, Response):
        return screening
    _audit("screening.view", screening_target(screening["reference"]))
    return jsonify(screening_json(screening, current_language()))


@bp.get("/screenings/<reference>/fhir")
@bearer_required
def get_screening_fhir(reference: str) -> ResponseReturnValue:
    """One screening as a FHIR R4 Bundle: QuestionnaireResponse plus a DetectedIssue per fired rule."""
    screening = _find(reference)
    if isinstance(screening, Response):
        return screening
    _audit("screening.view", screening_target(screening["reference"]), {"format": "fhir"})
    bundle = fhir.screening_bundle(
        screening, get_ruleset(current_app), current_language(), fhir.fhir_urls(), fhir.now_instant()
    )
    return Response(json.dumps(bundle, ensure_ascii=False), status=200, content_type=FHIR_JSON)
