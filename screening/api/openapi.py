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

from ..core.model import OUTCOMES, Question, RuleSet, pick_text
from ..core.people import EMAIL_MAX, NAME_MAX, PHONE_MAX

PAGE_MAX = 100
PAGE_DEFAULT = 50

_cache: dict[tuple[int, str], dict[str, Any]] = {}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _response_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


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
        schema = {"anyOf": [schema, _ref("NoAnswer")]}
    schema["description"] = pick_text(question.text, language)
    return schema


def answers_schema(ruleset: RuleSet, language: str = "en") -> dict[str, Any]:
    """The ``answers`` object: one property per question, unknown ones refused."""
    return {
        "type": "object",
        "description": (
            "Answers keyed by question id, as GET /api/v1/questionnaire lists them. Choice answers are option "
            "values, multi answers a list of values (a single value is also accepted), dates YYYY-MM-DD "
            "(not in the future, not before 1900). A follow-up is needed, and checked, only when its show_if "
            "condition holds; answers to follow-ups that are not shown are dropped unread."
        ),
        "properties": {q.id: _answer_schema(q, language) for q in ruleset.questions},
        "required": [q.id for q in ruleset.questions if q.required and q.show_if is None],
        "additionalProperties": False,
    }


def _example_answers(ruleset: RuleSet) -> dict[str, Any]:
    """A complete, valid answer set for the request example: every question
    answered with its first option that is not "yes" (or left out when that
    is not possible), dates a long time ago."""
    answers: dict[str, Any] = {}
    for question in ruleset.questions:
        if question.show_if is not None:
            continue
        if question.type == "date":
            answers[question.id] = "1990-05-31"
        elif question.type == "multi":
            if question.options:
                answers[question.id] = [question.options[0].value]
        else:
            safe = [o.value for o in question.options if o.value not in ("yes", "unsure")]
            answers[question.id] = safe[0] if safe else question.options[0].value
    return answers


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error response has this shape.",
        "properties": {
            "error": {"type": "string", "description": "The HTTP status name, e.g. Not Found."},
            "message": {"type": "string", "description": "What went wrong, in English."},
        },
        "required": ["error", "message"],
    },
    "ValidationError": {
        "allOf": [
            _ref("Error"),
            {
                "type": "object",
                "properties": {
                    "errors": {
                        "type": "object",
                        "description": (
                            "Every bad field at once, with its messages: answers by question id (unknown keys as "
                            "answers.<key>), patient fields as patient.name, patient.email, patient.phone, then "
                            "consent; body for a body that is not a JSON object; query parameters by name."
                        ),
                        "additionalProperties": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    }
                },
                "required": ["errors"],
            },
        ]
    },
    "NoAnswer": {
        "description": "No answer: null, an empty string or an empty list.",
        "anyOf": [{"type": "null"}, {"type": "string", "maxLength": 0}, {"type": "array", "maxItems": 0}],
    },
    "Condition": {
        "type": "object",
        "description": (
            "When a follow-up is shown: every clause in all holds. A follow-up is also hidden whenever a question "
            "its condition reads is itself hidden."
        ),
        "properties": {"all": {"type": "array", "items": _ref("Clause")}},
        "required": ["all"],
    },
    "Clause": {
        "oneOf": [
            {
                "type": "object",
                "description": "The answer (for a multi question, one of the answers) is one of the values.",
                "properties": {
                    "question": {"type": "string"},
                    "in": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["question", "in"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "description": "The date answer (a date of birth) is less than this many years ago.",
                "properties": {"question": {"type": "string"}, "age_under": {"type": "integer"}},
                "required": ["question", "age_under"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "description": "The date answer is less than amount units ago.",
                "properties": {
                    "question": {"type": "string"},
                    "within": {
                        "type": "object",
                        "properties": {
                            "unit": {"type": "string", "enum": ["days", "weeks", "months"]},
                            "amount": {"type": "integer"},
                        },
                        "required": ["unit", "amount"],
                    },
                },
                "required": ["question", "within"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "description": "At least one of the conditions holds.",
                "properties": {"any": {"type": "array", "items": _ref("Condition")}},
                "required": ["any"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "description": "Some answer equals this value.",
                "properties": {"any_answer": {"type": "string"}},
                "required": ["any_answer"],
                "additionalProperties": False,
            },
        ]
    },
    "Option": {
        "type": "object",
        "properties": {"value": {"type": "string"}, "label": {"type": "string"}},
        "required": ["value", "label"],
    },
    "Question": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
            "section": {"type": "string"},
            "type": {"type": "string", "enum": ["choice", "multi", "date"]},
            "text": {"type": "string"},
            "help": {"type": ["string", "null"]},
            "required": {"type": "boolean", "description": "Needs an answer whenever it is shown."},
            "options": {"type": "array", "items": _ref("Option"), "description": "Empty for date questions."},
            "show_if": _nullable(_ref("Condition")),
        },
        "required": ["id", "section", "type", "text", "help", "required", "options", "show_if"],
    },
    "Questionnaire": {
        "type": "object",
        "properties": {
            "language": {"type": "string", "description": "The language of the texts."},
            "languages": {"type": "array", "items": {"type": "string"}},
            "rules_version": {"type": "string"},
            "procedure": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "course": {"type": "string"},
                    "preparation": {"type": "array", "items": {"type": "string"}},
                    "aftercare": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["name", "description", "course", "preparation", "aftercare"],
            },
            "sections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "title": {"type": "string"}},
                    "required": ["id", "title"],
                },
            },
            "questions": {"type": "array", "items": _ref("Question")},
        },
        "required": ["language", "languages", "rules_version", "procedure", "sections", "questions"],
    },
    "Patient": {
        "type": "object",
        "description": (
            "As on the web form: a name, and an email address or a phone number (or both). Texts are trimmed; "
            "email must look like name@example.com, phone use digits, spaces, brackets and dashes "
            "(at least 6), optionally after a +."
        ),
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
            "email": {"type": ["string", "null"], "maxLength": EMAIL_MAX},
            "phone": {"type": ["string", "null"], "maxLength": PHONE_MAX},
        },
        "required": ["name"],
        "anyOf": [{"required": ["email"]}, {"required": ["phone"]}],
        "additionalProperties": False,
    },
    "Reason": {
        "type": "object",
        "description": "A rule that fired.",
        "properties": {
            "rule": {"type": "string"},
            "outcome": {"type": "string", "enum": list(OUTCOMES)},
            "questions": {"type": "array", "items": {"type": "string"}, "description": "The answers that fired it."},
            "patient": {"type": "string", "description": "The explanation for the patient."},
            "practitioner": {"type": "string", "description": "The clinical note for the practitioner."},
            "source": {"type": "string"},
            "rescreen_after": {"type": ["string", "null"], "format": "date"},
        },
        "required": ["rule", "outcome", "questions", "patient", "practitioner", "source", "rescreen_after"],
    },
    "ScreeningCreated": {
        "type": "object",
        "properties": {
            "reference": {"type": "string", "description": "The code the patient quotes at the clinic."},
            "status": {"type": "string", "enum": list(OUTCOMES)},
            "reasons": {"type": "array", "items": _ref("Reason")},
            "rescreen_after": {"type": ["string", "null"], "format": "date"},
            "rules_version": {"type": "string"},
            "result_url": {
                "type": "string",
                "format": "uri",
                "description": "The patient's own result page (a secret link: give it only to the patient).",
            },
        },
        "required": ["reference", "status", "reasons", "rescreen_after", "rules_version", "result_url"],
    },
    "Screening": {
        "type": "object",
        "properties": {
            "reference": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "source": {"type": ["string", "null"], "description": "web, api, ..."},
            "language": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": list(OUTCOMES), "description": "The rules' verdict."},
            "reasons": {"type": "array", "items": _ref("Reason")},
            "rescreen_after": {"type": ["string", "null"], "format": "date"},
            "rules_version": {"type": "string"},
            "consent_version": {"type": ["string", "null"]},
            "answers": {"type": "object", "description": "Stored answers (follow-ups not shown are left out)."},
            "patient": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "email": {"type": ["string", "null"]},
                    "phone": {"type": ["string", "null"]},
                    # Renamed to the birth-date question's id by _build.
                    "birth_date": {"type": ["string", "null"]},
                },
                "required": ["name", "email", "phone", "birth_date"],
            },
            "reviewed": {"type": "boolean", "description": "Whether a practitioner has decided."},
            "decided_status": {"type": ["string", "null"], "description": "The practitioner's current decision."},
            "reviewed_at": {"type": ["string", "null"]},
            "url": {"type": "string", "format": "uri"},
            "fhir_url": {"type": "string", "format": "uri"},
        },
        "required": [
            "reference",
            "created_at",
            "source",
            "language",
            "status",
            "reasons",
            "rescreen_after",
            "rules_version",
            "consent_version",
            "answers",
            "patient",
            "reviewed",
            "decided_status",
            "reviewed_at",
            "url",
            "fhir_url",
        ],
    },
    "ScreeningList": {
        "type": "object",
        "properties": {
            "screenings": {"type": "array", "items": _ref("Screening")},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as cursor for the next page; null on the last page.",
            },
        },
        "required": ["screenings", "next_cursor"],
    },
    "FhirResource": {
        "type": "object",
        "properties": {"resourceType": {"type": "string"}},
        "required": ["resourceType"],
    },
}


def _error_response(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


RESPONSES: dict[str, Any] = {
    "BadRequest": _error_response("Invalid input: errors names every bad field.", "ValidationError"),
    "Unauthorized": {
        "description": "No API token, or one that is not valid or has been revoked.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
        "content": {"application/json": {"schema": _ref("Error")}},
    },
    "NotFound": _error_response("There is no screening with this reference."),
    "PayloadTooLarge": _error_response("The body is larger than the server accepts (64 KiB by default)."),
    "UnsupportedMediaType": _error_response("The body is not sent as application/json."),
    "TooManyRequests": {
        "description": "Too many requests from this client address; wait Retry-After seconds.",
        "headers": {"Retry-After": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": _ref("Error")}},
    },
}

ACCEPT_LANGUAGE = {
    "name": "Accept-Language",
    "in": "header",
    "required": False,
    "description": "The language of texts (one of the rule file's languages; else the first).",
    "schema": {"type": "string"},
}
REFERENCE = {
    "name": "reference",
    "in": "path",
    "required": True,
    "description": "The screening's reference code (case-insensitive).",
    "schema": {"type": "string"},
}
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _name_birth_date(schemas: dict[str, Any], ruleset: RuleSet) -> None:
    """The screening's patient block names the date of birth after its question (the API's contract)."""
    key = ruleset.role_question("birth_date") or "birth_date"
    patient = schemas["Screening"]["properties"]["patient"]
    patient["properties"][key] = patient["properties"].pop("birth_date")
    patient["required"] = [key if name == "birth_date" else name for name in patient["required"]]


def _build(ruleset: RuleSet) -> dict[str, Any]:
    schemas = copy.deepcopy(SCHEMAS)
    _name_birth_date(schemas, ruleset)
    schemas["Answers"] = answers_schema(ruleset)
    schemas["ScreeningRequest"] = {
        "type": "object",
        "properties": {
            "answers": _ref("Answers"),
            "patient": _ref("Patient"),
            "consent": {
                "const": True,
                "description": "The patient agrees that the clinic stores their answers; must be true.",
            },
        },
        "required": ["answers", "patient", "consent"],
        "additionalProperties": False,
    }
    fhir_response = {
        "description": "A FHIR R4 resource.",
        "content": {"application/fhir+json": {"schema": _ref("FhirResource")}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Screening API",
            "version": "1.0.0",
            "description": (
                f"Pre-screening for {pick_text(ruleset.procedure.name, 'en').lower()}: the questionnaire, "
                "submitting a screening, and reading screenings with an API token "
                "(flask create-api-token EMAIL --name NAME). A pre-screening aid only: the practitioner decides. "
                f"Rules version {ruleset.full_version}."
            ),
        },
        "paths": {
            "/api/v1/questionnaire": {
                "get": {
                    "operationId": "getQuestionnaire",
                    "summary": "The questionnaire, to render the same form elsewhere",
                    "parameters": [ACCEPT_LANGUAGE],
                    "responses": {
                        "200": {
                            "description": "The questions, sections, procedure and rules version.",
                            "content": {"application/json": {"schema": _ref("Questionnaire")}},
                        }
                    },
                }
            },
            "/api/v1/screenings": {
                "post": {
                    "operationId": "createScreening",
                    "summary": "Submit a screening; get the verdict",
                    "description": (
                        "Validated exactly as the web form, stored with source api. No CSRF token; "
                        "limited per client address (30 per minute by default)."
                    ),
                    "parameters": [ACCEPT_LANGUAGE],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": _ref("ScreeningRequest"),
                                "example": {
                                    "answers": _example_answers(ruleset),
                                    "patient": {"name": "Anna Example", "email": "anna@example.com"},
                                    "consent": True,
                                },
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Stored; the verdict.",
                            "headers": {
                                "Location": {
                                    "description": "The screening for bearer-token reads.",
                                    "schema": {"type": "string"},
                                    "required": True,
                                }
                            },
                            "content": {"application/json": {"schema": _ref("ScreeningCreated")}},
                        },
                        "400": _response_ref("BadRequest"),
                        "413": _response_ref("PayloadTooLarge"),
                        "415": _response_ref("UnsupportedMediaType"),
                        "429": _response_ref("TooManyRequests"),
                    },
                },
                "get": {
                    "operationId": "listScreenings",
                    "summary": "Screenings, newest first, a page at a time",
                    "security": BEARER,
                    "parameters": [
                        {
                            "name": "status",
                            "in": "query",
                            "description": "Only screenings with this verdict.",
                            "schema": {"type": "string", "enum": list(OUTCOMES)},
                        },
                        {
                            "name": "since",
                            "in": "query",
                            "description": "Only screenings created at or after this date or time (UTC for dates).",
                            "schema": {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]},
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "description": "next_cursor from the previous page.",
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "description": "Screenings per page.",
                            "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_MAX, "default": PAGE_DEFAULT},
                        },
                        ACCEPT_LANGUAGE,
                    ],
                    "responses": {
                        "200": {
                            "description": "One page.",
                            "content": {"application/json": {"schema": _ref("ScreeningList")}},
                        },
                        "400": _response_ref("BadRequest"),
                        "401": _response_ref("Unauthorized"),
                    },
                },
            },
            "/api/v1/screenings/{reference}": {
                "get": {
                    "operationId": "getScreening",
                    "summary": "One screening",
                    "security": BEARER,
                    "parameters": [REFERENCE, ACCEPT_LANGUAGE],
                    "responses": {
                        "200": {
                            "description": "The screening.",
                            "content": {"application/json": {"schema": _ref("Screening")}},
                        },
                        "401": _response_ref("Unauthorized"),
                        "404": _response_ref("NotFound"),
                    },
                }
            },
            "/api/v1/screenings/{reference}/fhir": {
                "get": {
                    "operationId": "getScreeningFhir",
                    "summary": "One screening as a FHIR R4 Bundle",
                    "description": (
                        "A Bundle of type collection: the Patient, the QuestionnaireResponse and one DetectedIssue "
                        "per fired rule (severity high for ineligible, moderate for deferred, low for review)."
                    ),
                    "security": BEARER,
                    "parameters": [REFERENCE, ACCEPT_LANGUAGE],
                    "responses": {
                        "200": fhir_response,
                        "401": _response_ref("Unauthorized"),
                        "404": _response_ref("NotFound"),
                    },
                }
            },
            "/fhir/Questionnaire": {
                "get": {
                    "operationId": "getFhirQuestionnaire",
                    "summary": "The questionnaire as a FHIR R4 Questionnaire",
                    "parameters": [ACCEPT_LANGUAGE],
                    "responses": {"200": fhir_response},
                }
            },
        },
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


def openapi_document(ruleset: RuleSet) -> dict[str, Any]:
    """The OpenAPI document for ``ruleset`` (built once per rule set)."""
    key = (id(ruleset), ruleset.digest)
    if key not in _cache:
        _cache[key] = _build(ruleset)
    return _cache[key]
