"""The OpenAPI 3.1 description of the API, served at ``/api/v1/openapi.json``.

Built from the loaded rule set, so the request schema lists the real question
ids and answer values. The schema states what the server checks on the shape
of a request: anything it forbids is refused with 400, never accepted. The
server checks more than a schema can say (a follow-up's answer is needed only
when it is shown, dates cannot be in the future, e-mail and phone formats),
and reports those as 400 too. ``tests/test_openapi.py`` runs Schemathesis
against the app with this document.
"""

from __future__ import annotations

import copy
from typing import Any

from ..core.model import Question, RuleBook, RuleSet, pick_text
from .openapi_paths import paths
from .openapi_schemas import SCHEMAS, ref

_cache: dict[tuple[int, str], dict[str, Any]] = {}


def _answer_schema(question: Question, language: str) -> dict[str, Any]:
    if question.show_if is not None:
        # The engine drops a hidden follow-up's answer unread, whatever it is,
        # so the schema cannot constrain it; the expected form is described.
        expected = {
            "date": "a date YYYY-MM-DD",
            "multi": "a list of option values",
            "choice": "one of: " + ", ".join(o.value for o in question.options),
        }[question.type]
        return {
            "description": (
                f"{pick_text(question.text, language)} A follow-up: answer with {expected} when its show_if "
                "condition holds (then it is checked like any answer); otherwise it is dropped unread."
            )
        }
    values = [option.value for option in question.options]
    schema: dict[str, Any]
    if question.type == "date":
        schema = {"type": "string", "format": "date"}
    elif question.type == "multi":
        array: dict[str, Any] = {"type": "array", "items": {"type": "string", "enum": values}}
        if question.required:
            array["minItems"] = 1
        schema = {"anyOf": [array, {"type": "string", "enum": values}]}
    else:
        schema = {"type": "string", "enum": values}
    if not question.required:
        # Optional questions may be left out or sent blank.
        schema = {"anyOf": [schema, ref("NoAnswer")]}
    schema["description"] = pick_text(question.text, language)
    return schema


def answers_schema(ruleset: RuleSet, language: str = "en", required: set[str] | None = None) -> dict[str, Any]:
    """The ``answers`` object: one property per question, unknown ones refused; ``required``: the
    questions every procedure requires (of several), else every required one that is always shown."""
    return {
        "type": "object",
        "description": (
            "Answers keyed by question id, as GET /api/v1/questionnaire lists them. Choice answers are option "
            "values, multi answers a list of values (a single value is also accepted), dates YYYY-MM-DD "
            "(not in the future, not before 1900). A follow-up is needed, and checked, only when its show_if "
            "condition holds; answers to follow-ups that are not shown are dropped unread."
        ),
        "properties": {q.id: _answer_schema(q, language) for q in ruleset.questions},
        "required": [
            q.id
            for q in ruleset.questions
            if q.required and q.show_if is None and (required is None or q.id in required)
        ],
        "additionalProperties": False,
    }


def _error_doc(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ref(schema)}}}


RESPONSES: dict[str, Any] = {
    "BadRequest": _error_doc("Invalid input: errors names every bad field.", "ValidationError"),
    "Unauthorized": {
        "description": "No API token, or one that is not valid, has expired or has been revoked.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
        "content": {"application/json": {"schema": ref("Error")}},
    },
    "Forbidden": {
        "description": "The API token does not carry the scope this needs (screenings:read or fhir:read),"
        " or its owner's role (as it is now) may not use that scope.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
        "content": {"application/json": {"schema": ref("Error")}},
    },
    "NotFound": _error_doc("There is no screening with this reference."),
    "KeyReused": _error_doc("The Idempotency-Key was used before with a different body.", "ValidationError"),
    "PayloadTooLarge": _error_doc("The body is larger than the server accepts (64 KiB by default)."),
    "UnsupportedMediaType": _error_doc("The body is not sent as application/json."),
    "TooManyRequests": {
        "description": "Too many requests from this client address; wait Retry-After seconds.",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": ref("Error")}},
    },
}


def _name_birth_date(schemas: dict[str, Any], ruleset: RuleSet) -> None:
    """The screening's patient block names the date of birth after its question (the API's contract)."""
    key = ruleset.role_question("birth_date") or "birth_date"
    patient = schemas["Screening"]["properties"]["patient"]
    patient["properties"][key] = patient["properties"].pop("birth_date")
    patient["required"] = [key if name == "birth_date" else name for name in patient["required"]]


def _build(book: RuleBook) -> dict[str, Any]:
    # The answers of every procedure: a question asked by one procedure alone is an answer of its
    # requests, required only where every procedure requires it.
    ruleset = book.combined(tuple(book.procedures))
    everywhere = set.intersection(*({q.id for q in part.questions} for part in book.procedures.values()))
    schemas = copy.deepcopy(SCHEMAS)
    _name_birth_date(schemas, ruleset)
    schemas["Answers"] = answers_schema(ruleset, required=everywhere)
    schemas["ScreeningRequest"] = {
        "type": "object",
        "properties": {
            "procedure": {
                "enum": [*book.procedures, None],
                "description": (
                    "The procedure to screen for, one id of GET /api/v1/questionnaire's procedure.id "
                    f"({', '.join(book.procedures)}); absent or null: the default, {book.default}. "
                    "The answers are those of that procedure's questionnaire (GET /api/v1/questionnaire?procedure=ID). "
                    "One procedure per request: to screen several from one set of answers, send one request each."
                ),
            },
            "answers": ref("Answers"),
            "patient": ref("Patient"),
            "consent": {
                "const": True,
                "description": (
                    "The patient read and agrees to the consent and privacy texts in the request's language"
                    " (GET /consent and /privacy with Accept-Language); must be true. The screening stores"
                    " their version and SHA-256; the API takes no typed signature."
                ),
            },
        },
        "required": ["answers", "patient", "consent"],
        "additionalProperties": False,
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Screening API",
            "version": "1.0.0",
            "description": (
                "Pre-screening for "
                + " and ".join(pick_text(part.procedure.name, "en").lower() for part in book.procedures.values())
                + ": the questionnaire, "
                "submitting a screening, and reading screenings with an API token "
                "(flask create-api-token EMAIL --name NAME). A pre-screening aid only: the practitioner decides. "
                f"Rules version {ruleset.full_version}."
            ),
        },
        "paths": paths(book.get(), tuple(book.procedures)),
        "components": {
            "schemas": schemas,
            "responses": RESPONSES,
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token from flask create-api-token EMAIL --name NAME.",
                }
            },
        },
    }


def openapi_document(book: RuleBook) -> dict[str, Any]:
    """The OpenAPI document for the rule file ``book`` (built once per rule file)."""
    key = (id(book), book.digest)
    if key not in _cache:
        _cache[key] = _build(book)
    return _cache[key]
