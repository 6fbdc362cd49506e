"""The patient record and course of a screening through the API (bearer):
the same person's screenings, each with how its link to the record is proven
(own, suggested: matched on typed details only, confirmed), and the course
with its sessions."""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify, url_for
from flask.typing import ResponseReturnValue

from ..storage import get_screening_by_reference, list_patient_screenings
from ..web.audit import audit, screening_target
from ..web.course import course_progress
from ..web.db import get_db
from .bearer import api_token, bearer_required
from .blueprint import bp

# A session's typed settings (m044) as the API gives them, None on sessions recorded before them.
SESSION_SETTING_KEYS = (
    "device",
    "handpiece",
    "wavelength_nm",
    "fluence_j_cm2",
    "pulse_ms",
    "spot_mm",
    "passes",
    "cooling",
    "endpoint",
    "immediate_reaction",
)


def course_json(progress: dict[str, Any]) -> dict[str, Any] | None:
    """A course with its sessions, as the ``Course`` schema says; None without a course."""
    course = progress["course"]
    if course is None:
        return None
    return {
        "started_on": course["started_on"],
        "planned_sessions": course["planned_sessions"],
        "interval_days": course["interval_days"],
        "next_session_on": progress["next_on"].isoformat() if progress["next_on"] else None,
        "sessions": [
            {
                "number": s["number"],
                "given_on": s["given_on"],
                "practitioner": s["practitioner_name"],
                "screening": s["reference"],
                "note": s["note"],
                "settings": s["settings"],
                **{key: s[key] for key in SESSION_SETTING_KEYS},
                "outside_protocol": [c for c in (s["outside_protocol"] or "").split(",") if c],
                "override_reason": s["override_reason"],
            }
            for s in progress["sessions"]
        ],
    }


@bp.get("/screenings/<reference>/patient")
@bearer_required("screenings:read")
def get_patient_record(reference: str) -> ResponseReturnValue:
    """The patient record of a screening: every screening of the same person, oldest first, and the course."""
    db = get_db()
    screening = get_screening_by_reference(db, reference)
    if screening is None:
        abort(404, description="There is no screening with this reference.")
    patient_id = screening.get("patient_id")
    screenings = list_patient_screenings(db, patient_id) if patient_id is not None else [screening]
    audit(
        "screening.view",
        screening_target(screening["reference"]),
        {"format": "patient", "references": [s["reference"] for s in screenings]},
        token=api_token(),
    )
    return jsonify(
        {
            "patient_id": patient_id,
            "patient_link": screening.get("patient_link"),
            "screenings": [
                {
                    "reference": s["reference"],
                    "created_at": s["created_at"],
                    "status": s["status"],
                    "reviewed": bool(s["reviewed"]),
                    "decided_status": s["decided_status"],
                    "patient_link": s.get("patient_link"),
                    "url": url_for("api.get_screening", reference=s["reference"], _external=True),
                }
                for s in screenings
            ],
            "course": course_json(course_progress(db, patient_id, screening["procedure"])),
        }
    )
