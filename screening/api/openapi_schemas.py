"""The OpenAPI document's fixed component schemas: everything that does not
depend on the rule file. ``openapi.py`` adds the rule file's own (the
answers a request may hold) and the paths (``openapi_paths.py``)."""

from __future__ import annotations

from typing import Any

from ..core.decisions import DECIDED_STATUSES
from ..core.model import OUTCOMES, RULE_OUTCOMES
from ..core.people import EMAIL_MAX, NAME_MAX, PHONE_MAX
from ..storage import PATIENT_LINKS


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def response_ref(name: str) -> dict[str, str]:
    """A reference to a component response."""
    return {"$ref": f"#/components/responses/{name}"}


def object_schema(properties: dict[str, Any]) -> dict[str, Any]:
    """An object that has every one of ``properties``."""
    return {"type": "object", "properties": properties, "required": list(properties)}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` or null."""
    return {"anyOf": [schema, {"type": "null"}]}


# How a screening's link to its patient record is proven (storage.patients).
_PATIENT_LINK: dict[str, Any] = {
    "type": ["string", "null"],
    "enum": [*PATIENT_LINKS, None],
    "description": (
        "own: the screening began the record; suggested: it matched on typed e-mail or phone and date of birth "
        "only, unconfirmed; confirmed: the patient (own result link, e-mailed link) or a practitioner confirmed it; "
        "null: no record."
    ),
}

# What a patient may read of a fired rule; the practitioner's reason adds the
# clinical note and its source. Each schema requires every property it lists.
_PATIENT_REASON_PROPERTIES: dict[str, Any] = {
    "rule": {"type": "string"},
    "outcome": {"type": "string", "enum": list(RULE_OUTCOMES)},
    "questions": {"type": "array", "items": {"type": "string"}, "description": "The answers that fired it."},
    "patient": {"type": "string", "description": "The explanation for the patient."},
    "rescreen_after": {"type": ["string", "null"], "format": "date"},
}
_REASON_PROPERTIES: dict[str, Any] = {
    **_PATIENT_REASON_PROPERTIES,
    "practitioner": {"type": "string", "description": "The clinical note for the practitioner."},
    "source": {"type": "string"},
}


def _verdict_properties(reason: str) -> dict[str, Any]:
    """The verdict's fields, its reasons and notes as ``reason`` schemas."""
    return {
        "status": {"type": "string", "enum": list(OUTCOMES), "description": "The rules' verdict."},
        "reasons": {"type": "array", "items": ref(reason)},
        "notes": {
            "type": "array",
            "items": ref(reason),
            "description": "Notes for the session: they never change the verdict.",
        },
        "rescreen_after": {"type": ["string", "null"], "format": "date"},
        "rules_version": {"type": "string"},
    }


# Every field of a stored screening, all required.
_SCREENING_PROPERTIES: dict[str, Any] = {
    "reference": {"type": "string"},
    "procedure": {"type": "string", "description": "The id of the procedure the screening is for."},
    "created_at": {"type": "string", "format": "date-time"},
    "source": {"type": ["string", "null"], "description": "web, api, ..."},
    "language": {"type": ["string", "null"]},
    **_verdict_properties("Reason"),
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
    "decided_status": {
        "type": ["string", "null"],
        "enum": [*DECIDED_STATUSES, None],
        "description": "The practitioner's current decision (never review: review asks for a decision).",
    },
    "decided_defer_until": {
        "type": ["string", "null"],
        "format": "date",
        "description": "For a decision deferred: the date from which the patient may be treated or screened again.",
    },
    "reviewed_at": {"type": ["string", "null"]},
    "current_status": {
        "type": "string",
        "enum": list(OUTCOMES),
        "description": "The status that counts: the decision once there is one, else the rules' verdict.",
    },
    "current_rescreen_after": {
        "type": ["string", "null"],
        "format": "date",
        "description": "When a deferral that counts ends: the decision's date once there is one, else the rules'.",
    },
    "needs_decision": {
        "type": "boolean",
        "description": (
            "Whether it waits for a practitioner's decision: an undecided review, or an undecided screening "
            "whose answers contradict the same patient's recent ones (see findings)."
        ),
    },
    "findings": {
        "type": "array",
        "items": ref("Finding"),
        "description": "What its answers contradict in the same patient's earlier screenings (staff only).",
    },
    "url": {"type": "string", "format": "uri"},
    "fhir_url": {"type": "string", "format": "uri"},
}

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
            ref("Error"),
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
        "properties": {"all": {"type": "array", "items": ref("Clause")}},
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
                "properties": {"any": {"type": "array", "items": ref("Condition")}},
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
            "options": {"type": "array", "items": ref("Option"), "description": "Empty for date questions."},
            "show_if": nullable(ref("Condition")),
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
                    "id": {"type": "string", "description": "The procedure's id (``procedure`` of a screening)."},
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "course": {"type": "string"},
                    "preparation": {"type": "array", "items": {"type": "string"}},
                    "aftercare": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["id", "name", "description", "course", "preparation", "aftercare"],
            },
            "sections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "title": {"type": "string"}},
                    "required": ["id", "title"],
                },
            },
            "questions": {"type": "array", "items": ref("Question")},
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
        "description": "A rule that fired (in ``notes``: a note for the session, outcome ``note``).",
        "properties": _REASON_PROPERTIES,
        "required": list(_REASON_PROPERTIES),
    },
    "PatientReason": {
        "type": "object",
        "description": "A rule that fired, as the patient (and an anonymous caller) may read it: no clinical note.",
        "properties": _PATIENT_REASON_PROPERTIES,
        "required": list(_PATIENT_REASON_PROPERTIES),
        "additionalProperties": False,
    },
    "ScreeningCreated": {
        "type": "object",
        "properties": {
            "reference": {"type": "string", "description": "The code the patient quotes at the clinic."},
            "procedure": {"type": "string", "description": "The id of the procedure the verdict is for."},
            **_verdict_properties("PatientReason"),
            "result_url": {
                "type": "string",
                "format": "uri",
                "description": "The patient's own result page (a secret link: give it only to the patient).",
            },
        },
        "required": [
            "reference",
            "procedure",
            "status",
            "reasons",
            "notes",
            "rescreen_after",
            "rules_version",
            "result_url",
        ],
    },
    "Finding": object_schema(
        {
            "kind": {
                "type": "string",
                "enum": ["changed_answer", "before_deferral"],
                "description": (
                    "changed_answer: an answer contradicts one the same patient gave within the question's "
                    "recheck window; before_deferral: screened again before an earlier deferral's date."
                ),
            },
            "question": {"type": ["string", "null"], "description": "The question's id (changed_answer)."},
            "text": {"type": ["string", "null"], "description": "The question's text (changed_answer)."},
            "earlier": {"description": "The earlier answer (changed_answer), as stored."},
            "now": {"description": "This screening's answer (changed_answer), as stored."},
            "reference": {"type": "string", "description": "The earlier screening's reference."},
            "answered_on": {"type": "string", "format": "date", "description": "When it was answered."},
            "rescreen_after": {
                "type": ["string", "null"],
                "format": "date",
                "description": "The earlier deferral's date (before_deferral).",
            },
        }
    ),
    "Screening": {
        "type": "object",
        "properties": _SCREENING_PROPERTIES,
        "required": list(_SCREENING_PROPERTIES),
    },
    "ScreeningList": {
        "type": "object",
        "properties": {
            "screenings": {"type": "array", "items": ref("Screening")},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as cursor for the next page; null on the last page.",
            },
        },
        "required": ["screenings", "next_cursor"],
    },
    "PatientRecord": {
        "type": "object",
        "description": (
            "Every screening of the same person (matched on e-mail or phone plus date of birth, or linked by a "
            "practitioner), oldest first, and the patient's current course."
        ),
        "properties": {
            "patient_id": {"type": ["integer", "null"]},
            "patient_link": _PATIENT_LINK,
            "screenings": {
                "type": "array",
                "items": object_schema(
                    {
                        "reference": {"type": "string"},
                        "created_at": {"type": "string", "format": "date-time"},
                        "status": {"type": "string", "enum": list(OUTCOMES)},
                        "reviewed": {"type": "boolean"},
                        "decided_status": {"type": ["string", "null"]},
                        "patient_link": _PATIENT_LINK,
                        "url": {"type": "string", "format": "uri"},
                    }
                ),
            },
            "course": nullable(ref("Course")),
        },
        "required": ["patient_id", "patient_link", "screenings", "course"],
    },
    "Course": {
        "type": "object",
        "properties": {
            "started_on": {"type": "string", "format": "date"},
            "planned_sessions": {"type": "integer"},
            "interval_days": {"type": "integer"},
            "next_session_on": {"type": ["string", "null"], "format": "date"},
            "sessions": {
                "type": "array",
                "items": object_schema(
                    {
                        "number": {"type": "integer"},
                        "given_on": {"type": "string", "format": "date"},
                        "practitioner": {"type": "string"},
                        "screening": {
                            "type": "string",
                            "description": "The reference of the screening it was given on.",
                        },
                        "note": {"type": ["string", "null"]},
                        "settings": {
                            "type": ["string", "null"],
                            "description": "Free text, on sessions recorded before the typed settings below.",
                        },
                        "device": {"type": ["string", "null"], "description": "Its id in devices.yaml."},
                        "handpiece": {"type": ["string", "null"], "description": "Handpiece or filter id."},
                        "wavelength_nm": {"type": ["integer", "null"]},
                        "fluence_j_cm2": {"type": ["number", "null"]},
                        "pulse_ms": {"type": ["number", "null"]},
                        "spot_mm": {"type": ["number", "null"]},
                        "passes": {"type": ["integer", "null"]},
                        "cooling": {"type": ["string", "null"]},
                        "endpoint": {"type": ["string", "null"]},
                        "immediate_reaction": {"type": ["string", "null"]},
                        "outside_protocol": {
                            "type": "array",
                            "items": {
                                "type": "string",
                                "enum": [
                                    "no_range",
                                    "device",
                                    "handpiece",
                                    "wavelength",
                                    "fluence",
                                    "pulse",
                                    "patch_fluence",
                                ],
                            },
                            "description": "The settings outside the clinic's protocol for the patient's skin type.",
                        },
                        "override_reason": {
                            "type": ["string", "null"],
                            "description": "The practitioner's reason for the settings outside the protocol.",
                        },
                    }
                ),
            },
        },
        "required": ["started_on", "planned_sessions", "interval_days", "next_session_on", "sessions"],
    },
    "FhirResource": {
        "type": "object",
        "properties": {"resourceType": {"type": "string"}},
        "required": ["resourceType"],
    },
}
