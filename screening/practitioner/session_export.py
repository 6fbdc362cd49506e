"""CSV export of the course sessions given: each session's device and settings, and any override of
the clinic's protocol. Columns follow the role table like the queue's export: what was seen on the
skin and the practitioner's reasoning only for the roles that open the answer pages."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.typing import ResponseReturnValue
from flask_login import current_user

from .. import storage
from ..web.audit import audit
from ..web.clinic import get_clinic
from ..web.db import get_db, screening_day
from ..web.roles import may_open
from .blueprint import bp
from .clock import local_time
from .export import ANSWER_PAGE, Column, csv_chunks


def _number(key: str) -> Any:
    return lambda r: "" if r[key] is None else f"{r[key]:g}"


SESSION_COLUMNS: tuple[Column, ...] = (
    ("Screening reference", lambda r: r["reference"]),
    ("Patient name", lambda r: r["patient_name"]),
    ("Procedure", lambda r: r["procedure"]),
    ("Session", lambda r: r["number"]),
    ("Planned sessions", lambda r: r["planned_sessions"]),
    ("Given on", lambda r: r["given_on"]),
    ("Given by", lambda r: r["practitioner_name"]),
    ("Recorded at ({tz})", lambda r: local_time(r["created_at"], with_zone=False)),
    ("Device", lambda r: r["device"]),
    ("Handpiece or filter", lambda r: r["handpiece"]),
    ("Wavelength (nm)", lambda r: r["wavelength_nm"]),
    ("Fluence (J/cm2)", _number("fluence_j_cm2")),
    ("Pulse duration (ms)", _number("pulse_ms")),
    ("Spot size (mm)", _number("spot_mm")),
    ("Passes", lambda r: r["passes"]),
    ("Cooling", lambda r: r["cooling"]),
    ("Settings (free text, before typed settings)", lambda r: r["settings"]),
    ("Outside the protocol", lambda r: (r["outside_protocol"] or "").replace(",", "; ")),
    ("Endpoint", lambda r: r["endpoint"]),
    ("Immediate reaction", lambda r: r["immediate_reaction"]),
    ("Override reason", lambda r: r["override_reason"]),
    ("Note", lambda r: r["note"]),
)
# What the skin showed and why the protocol was overridden: clinical, like the answer pages.
CLINICAL_SESSION_COLUMNS = frozenset({"Endpoint", "Immediate reaction", "Override reason", "Note"})


def session_columns(role: str | None) -> tuple[Column, ...]:
    """The session columns an account with ``role`` may export."""
    clinical = may_open(role, ANSWER_PAGE)
    return tuple(c for c in SESSION_COLUMNS if clinical or c[0] not in CLINICAL_SESSION_COLUMNS)


@bp.get("/export-sessions.csv")
def export_sessions_csv() -> ResponseReturnValue:
    """Every course session given, oldest first, as CSV."""
    rows = storage.list_sessions_for_export(get_db())
    audit("export.sessions_csv", None, {"count": len(rows)})

    # Written whole while the request's clinic and zone are at hand (sessions are few beside screenings).
    text = "".join(csv_chunks(rows, session_columns(current_user.role), get_clinic().timezone))
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="sessions-{screening_day().isoformat()}.csv"'},
    )
