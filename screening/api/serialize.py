"""Stored screenings as the API's JSON (the ``Screening`` and ``Reason`` schemas
of ``openapi_schemas.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.facts import current_rescreen_after, current_status, needs_review
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


def finding_json(finding: Mapping[str, Any], language: str) -> dict[str, Any]:
    """A stored finding (``core.history``) with the question's text in ``language``."""
    return {
        "kind": finding["kind"],
        "question": finding.get("question"),
        "text": pick_text(finding.get("text"), language) or None,
        "earlier": finding.get("earlier"),
        "now": finding.get("now"),
        "reference": finding["reference"],
        "answered_on": finding["answered_on"],
        "rescreen_after": finding.get("rescreen_after"),
    }


def screening_json(row: Mapping[str, Any], language: str) -> dict[str, Any]:
    """A stored screening for the clinic's systems, with the current review decision: ``status`` is
    the rules' verdict, ``current_status`` what counts (the decision once there is one)."""
    birth_key = get_ruleset().role_question("birth_date") or "birth_date"
    return {
        "reference": row["reference"],
        "procedure": row["procedure"],
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
        "decided_defer_until": row.get("decided_defer_until"),
        "reviewed_at": row.get("reviewed_at"),
        "current_status": current_status(row),
        "current_rescreen_after": current_rescreen_after(row),
        "needs_decision": needs_review(row["status"], bool(row.get("reviewed")), bool(row.get("flagged"))),
        "findings": [finding_json(f, language) for f in row.get("findings") or []],
        "url": external_url("api.get_screening", reference=row["reference"]),
        "fhir_url": external_url("api.get_screening_fhir", reference=row["reference"]),
    }
