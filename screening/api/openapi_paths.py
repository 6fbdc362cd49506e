"""The OpenAPI document's paths: every route of the API, its parameters,
bodies and responses, with a request example built from the rule file."""

from __future__ import annotations

from typing import Any

from ..core.model import OUTCOMES, RuleSet
from .fhir_common import questionnaire_id
from .openapi_schemas import ref, response_ref
from .screenings import PAGE_DEFAULT, PAGE_MAX


def string_parameter(name: str, where: str, description: str, *, required: bool = False) -> dict[str, Any]:
    """An OpenAPI parameter whose value is a string."""
    return {"name": name, "in": where, "required": required, "description": description, "schema": {"type": "string"}}


ACCEPT_LANGUAGE = string_parameter(
    "Accept-Language", "header", "The language of texts (one of the rule file's languages; else the first)."
)
REFERENCE = string_parameter("reference", "path", "The screening's reference code (case-insensitive).", required=True)
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


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


def paths(ruleset: RuleSet, procedures: tuple[str, ...]) -> dict[str, Any]:
    """Every path of the API, keyed as OpenAPI wants them; the request example is the default
    procedure's (``ruleset``), ``procedures`` every procedure id."""
    procedure = {
        "name": "procedure",
        "in": "query",
        "required": False,
        "description": f"The procedure's id ({', '.join(procedures)}); absent: the default, {ruleset.procedure.id}.",
        "schema": {"type": "string", "enum": list(procedures)},
    }
    # Each procedure's Questionnaire answers to its FHIR id and to the procedure's id.
    questionnaire_ids = list(
        dict.fromkeys(name for pid in procedures for name in (questionnaire_id(pid, ruleset.procedure.id), pid))
    )
    fhir_response = {
        "description": "A FHIR R4 resource.",
        "content": {"application/fhir+json": {"schema": ref("FhirResource")}},
    }
    return {
        "/api/v1/questionnaire": {
            "get": {
                "operationId": "getQuestionnaire",
                "summary": "The questionnaire of a procedure, to render the same form elsewhere",
                "parameters": [ACCEPT_LANGUAGE, procedure],
                "responses": {
                    "200": {
                        "description": "The questions, sections, procedure and rules version.",
                        "content": {"application/json": {"schema": ref("Questionnaire")}},
                    },
                    "400": response_ref("BadRequest"),
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
                "parameters": [
                    ACCEPT_LANGUAGE,
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "description": (
                            "Any unique value (a UUID): a retry with the same key and body gets the first "
                            "response back instead of storing the screening twice. Keys are the client's own "
                            "(its API token if it sends one, else its address): the same key from another "
                            "client is a new screening, never the first one's result_url."
                        ),
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": ref("ScreeningRequest"),
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
                        "content": {"application/json": {"schema": ref("ScreeningCreated")}},
                    },
                    "400": response_ref("BadRequest"),
                    "422": response_ref("KeyReused"),
                    "413": response_ref("PayloadTooLarge"),
                    "415": response_ref("UnsupportedMediaType"),
                    "429": response_ref("TooManyRequests"),
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
                        "content": {"application/json": {"schema": ref("ScreeningList")}},
                    },
                    "400": response_ref("BadRequest"),
                    "401": response_ref("Unauthorized"),
                    "403": response_ref("Forbidden"),
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
                        "content": {"application/json": {"schema": ref("Screening")}},
                    },
                    "401": response_ref("Unauthorized"),
                    "403": response_ref("Forbidden"),
                    "404": response_ref("NotFound"),
                },
            }
        },
        "/api/v1/screenings/{reference}/fhir": {
            "get": {
                "operationId": "getScreeningFhir",
                "summary": "One screening as a FHIR R4 Bundle",
                "description": (
                    "A Bundle of type collection: the Patient (one per patient record), the QuestionnaireResponse, "
                    "one DetectedIssue per fired rule (severity high for ineligible, moderate for deferred, low for "
                    "review), the verdict Observation and a Procedure per course session given on the screening."
                ),
                "security": BEARER,
                "parameters": [REFERENCE, ACCEPT_LANGUAGE],
                "responses": {
                    "200": fhir_response,
                    "401": response_ref("Unauthorized"),
                    "403": response_ref("Forbidden"),
                    "404": response_ref("NotFound"),
                },
            }
        },
        "/api/v1/screenings/{reference}/patient": {
            "get": {
                "operationId": "getPatientRecord",
                "summary": "The screening's patient record and course",
                "security": BEARER,
                "parameters": [REFERENCE, ACCEPT_LANGUAGE],
                "responses": {
                    "200": {
                        "description": "The patient's screenings and course.",
                        "content": {"application/json": {"schema": ref("PatientRecord")}},
                    },
                    "401": response_ref("Unauthorized"),
                    "404": response_ref("NotFound"),
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
        "/fhir/Questionnaire/{id}": {
            "get": {
                "operationId": "getFhirQuestionnaireById",
                "summary": "A procedure's questionnaire as a FHIR R4 Questionnaire, at its canonical URL",
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "description": "The Questionnaire's FHIR id, or the procedure's id in the rule file.",
                        "schema": {"type": "string", "enum": questionnaire_ids},
                    },
                    ACCEPT_LANGUAGE,
                ],
                "responses": {"200": fhir_response, "404": response_ref("NotFound")},
            }
        },
    }
