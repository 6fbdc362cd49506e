"""Stored screenings as the API's JSON (the ``Screening`` and ``Reason`` schemas
of ``openapi_schemas.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.model import pick_text
from ..web.links import external_url
from ..web.ruleset import get_ruleset


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
        "notes": [reason_json(n, language) for n in row.get("notes") or []],
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
        "url": external_url("api.get_screening", reference=row["reference"]),
        "fhir_url": external_url("api.get_screening_fhir", reference=row["reference"]),
    }
