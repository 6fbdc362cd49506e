"""Screenings through the API: submitting one (as the web form does), and
bearer-token reads for the clinic's own systems, as JSON or a FHIR Bundle.

The OpenAPI document (``openapi.py``) describes every route, body and error
here; ``tests/test_openapi.py`` checks the two against each other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from flask import Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from .. import storage
from ..core.engine import InvalidAnswers, screen
from ..core.model import OUTCOMES, RuleSet, pick_text
from ..outbox import queue_screening_created, wake_sender
from ..storage import (
    ScreeningFilter,
    ScreeningRecord,
    find_idempotency_key,
    get_screening_by_reference,
    list_screening_sessions,
    list_screenings,
    record_idempotency_key,
    save_screening,
    write_transaction,
)
from ..web.audit import audit, screening_target
from ..web.consent import signed_consent
from ..web.cursors import decode_cursor, encode_cursor
from ..web.db import get_db, screening_day
from ..web.errors import json_error
from ..web.history import flag_stored_screening
from ..web.i18n import current_language
from ..web.limits import api_rate_limit, limiter
from ..web.links import external_url
from ..web.procedures import ruleset_of
from ..web.ruleset import get_rulebook, get_ruleset
from .bearer import api_token, bearer_required
from .blueprint import bp
from .body import parse_patient, read_json_object
from .fhir_bundle import screening_bundle
from .fhir_common import fhir_json_response, fhir_urls, now_instant
from .idempotency import (
    HEADER,
    BadIdempotencyKey,
    client_scope,
    idempotency_key,
    key_hash,
    request_hash,
    result_token,
)
from .serialize import screening_json

BODY_KEYS = ("answers", "patient", "consent", "procedure")
PAGE_DEFAULT = 50
PAGE_MAX = 100

# Strict forms for query parameters: Python's own parsers accept more (other
# digits, "+12:60" offsets, spaces) than the OpenAPI document promises.
_DATE = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DATE_TIME = re.compile(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])\Z"
)
_LIMIT = re.compile(r"\A[0-9]{1,6}\Z")


# --- Submitting a screening ----------------------------------------------------------


def patient_reason(reason: Mapping[str, Any], language: str) -> dict[str, Any]:
    """A stored fired rule as a patient may read it: without the practitioner's note or the source."""
    return {
        "rule": reason["rule"],
        "outcome": reason["outcome"],
        "questions": list(reason["questions"]),
        "patient": pick_text(reason["patient"], language),
        "rescreen_after": reason["rescreen_after"],
    }


@bp.post("/screenings")
@limiter.limit(api_rate_limit, error_message="Too many screenings from this address; please try again later.")
def create_screening() -> ResponseReturnValue:
    """Validate as the web form does, store (source "api") and return the verdict."""
    body = read_json_object()
    if isinstance(body, Response):
        return body
    errors: dict[str, list[str]] = {}
    for key in body:
        if key not in BODY_KEYS:
            errors[key] = ["is not a field of this request (answers, patient, consent, procedure)"]
    ruleset = body_ruleset(body.get("procedure"), errors)

    verdict = None
    answers = body.get("answers")
    if ruleset is None:
        pass  # the procedure is named wrongly: its answers cannot be checked
    elif answers is None:
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

    patient = parse_patient(body.get("patient"), errors)
    if body.get("consent") is not True:
        errors["consent"] = ["must be true: the patient agrees that the clinic stores their answers"]

    if errors or verdict is None or patient is None or ruleset is None:
        return json_error(400, "The screening has invalid fields; see errors.", errors)

    try:
        retry_key = idempotency_key()
    except BadIdempotencyKey as error:
        return json_error(400, "The Idempotency-Key header is not valid.", {HEADER: [str(error)]})
    language = current_language()
    # The API's client shows the patient the texts and sends "consent": true; nothing is typed.
    consent = signed_consent(language, None)
    db = get_db()
    # One transaction: the screening, its staff notice and webhook commit together, and two
    # retries arriving together cannot both store.
    # Keys are the client's own: another caller's identical key and body is a new screening.
    scope = client_scope() if retry_key is not None else ""
    with write_transaction(db):
        if retry_key is not None:
            first = find_idempotency_key(db, key_hash(retry_key, scope))
            if first is not None:
                if first[0] != request_hash(body):
                    return json_error(
                        422,
                        "This Idempotency-Key was used for a different request.",
                        {HEADER: ["was already used with another body; use a new key for a new screening"]},
                    )
                stored = storage.get_screening(db, first[1])
                assert stored is not None
                return _created(stored, result_token(retry_key, scope))
        saved = save_screening(
            db,
            verdict,
            patient,
            source="api",
            language=language,
            consent_version=consent.consent.version,
            consent=consent,
            token=result_token(retry_key, scope) if retry_key is not None else None,
            procedure=ruleset.procedure.id,
            read_earlier=True,
        )
        # The caller typed the patient's details: a match on them proves nothing, so what the
        # answers contradict in that patient's screenings is for staff alone (the reply is a stranger's).
        findings = flag_stored_screening(db, ruleset, verdict, saved, screening_day())
        queue_screening_created(
            db, saved, verdict.status, patient.email, language, send_link=False, flagged=bool(findings)
        )
        if retry_key is not None:
            record_idempotency_key(db, key_hash(retry_key, scope), request_hash(body), saved.id)
    wake_sender()
    return _created(saved.columns, saved.token)


def body_ruleset(procedure: Any, errors: dict[str, list[str]]) -> RuleSet | None:
    """The rule set of the body's ``procedure`` (absent or null: the default); None, and the
    field's error in ``errors``, when it is not one of the rule file's procedure ids."""
    book = get_rulebook()
    if procedure is None:
        return get_ruleset(current_app)
    if not isinstance(procedure, str) or procedure not in book.procedures:
        errors["procedure"] = [f"must be one of the procedure ids: {', '.join(book.procedures)}"]
        return None
    return book.get(procedure)


def _created(screening: Mapping[str, Any], token: str) -> Response:
    """The 201 for a stored screening, built from its stored columns (so a retry gets the same)."""
    language = screening["language"] or current_language()
    response = jsonify(
        {
            "reference": screening["reference"],
            "procedure": screening["procedure"],
            "status": screening["status"],
            # The caller is anonymous: the patient's texts only, never the clinical notes.
            "reasons": [patient_reason(reason, language) for reason in screening["reasons"]],
            "notes": [patient_reason(note, language) for note in screening["notes"] or []],
            "rescreen_after": screening["rescreen_after"],
            "rules_version": screening["rules_version"],
            "result_url": external_url("patient.result", token=token),
        }
    )
    response.status_code = 201
    response.headers["Location"] = external_url("api.get_screening", reference=screening["reference"])
    return response


# --- Bearer-token reads ------------------------------------------------------------


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
@bearer_required("screenings:read")
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
        return json_error(400, "Some query parameters are invalid; see errors.", errors)

    rows = list_screenings(get_db(), ScreeningFilter(status=status, since=since), before=before, limit=limit + 1)
    page, more = rows[:limit], len(rows) > limit
    language = current_language()
    audit(
        "screening.list",
        "list",
        {"status": status, "since": since, "count": len(page), "references": [r["reference"] for r in page]},
        token=api_token(),
    )
    last = page[-1] if page else None
    return jsonify(
        {
            "screenings": [screening_json(row, language) for row in page],
            "next_cursor": encode_cursor(last["created_at"], last["id"]) if more and last else None,
        }
    )


def _find(reference: str) -> ScreeningRecord:
    screening = get_screening_by_reference(get_db(), reference)
    if screening is None:
        # Rendered as the JSON error shape by web.errors (an /api/ path).
        abort(404, description="There is no screening with this reference.")
    return screening


@bp.get("/screenings/<reference>")
@bearer_required("screenings:read")
def get_screening(reference: str) -> ResponseReturnValue:
    """One screening by its reference code."""
    screening = _find(reference)
    audit("screening.view", screening_target(screening["reference"]), token=api_token())
    return jsonify(screening_json(screening, current_language()))


@bp.get("/screenings/<reference>/fhir")
@bearer_required("fhir:read")
def get_screening_fhir(reference: str) -> ResponseReturnValue:
    """One screening as a FHIR R4 Bundle: QuestionnaireResponse plus a DetectedIssue per fired rule."""
    screening = _find(reference)
    audit("screening.view", screening_target(screening["reference"]), {"format": "fhir"}, token=api_token())
    sessions = list_screening_sessions(get_db(), screening["id"])
    bundle = screening_bundle(
        screening, ruleset_of(screening), current_language(), fhir_urls(), now_instant(), sessions
    )
    return fhir_json_response(bundle)
