"""A session's device and settings: checked against the clinic's devices and protocol (devices.yaml)
when recorded, pre-filled from the course's last session, and shown in words on the course page
and in the chart PDF."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import storage
from ..core.session_check import Finding, SessionSettings, device_problems, protocol_findings
from ..web.protocol import get_protocol
from ..web.ruleset import get_ruleset
from .blueprint import bp
from .course_forms import SessionForm

# The settings the form asks, copied from the last session into the next one's form.
SETTING_FIELDS = ("wavelength_nm", "fluence_j_cm2", "pulse_ms", "spot_mm", "passes", "cooling")
# What each ``core.session_check`` finding is called where a saved override is shown.
OUTSIDE_LABELS = {
    "no_range": _l("no protocol range for the skin type"),
    "device": _l("device"),
    "handpiece": _l("handpiece or filter"),
    "wavelength": _l("wavelength"),
    "fluence": _l("fluence"),
    "pulse": _l("pulse duration"),
    "patch_fluence": _l("fluence above the test patch"),
}


def _finding_message(finding: Finding, skin_type: str | None) -> str:
    kind = skin_type or _("not known")
    messages: dict[str, str] = {
        "no_range": _("The protocol has no range for skin type %(type)s in this procedure.", type=kind),
        "device": _("Skin type %(type)s: the protocol allows %(limit)s.", type=kind, limit=finding.limit),
        "handpiece": _("Skin type %(type)s: the protocol allows %(limit)s.", type=kind, limit=finding.limit),
        "wavelength": _("Skin type %(type)s: the protocol allows %(limit)s nm.", type=kind, limit=finding.limit),
        "fluence": _("Above the protocol's %(limit)s J/cm² for skin type %(type)s.", type=kind, limit=finding.limit),
        "pulse": _("Outside the protocol's %(limit)s ms for skin type %(type)s.", type=kind, limit=finding.limit),
        "patch_fluence": _("Above the test patch's %(limit)s J/cm² for a first session.", limit=finding.limit),
    }
    return messages[finding.code]


def _device_message(field: str, values: str) -> str:
    messages: dict[str, str] = {
        "device": _("Choose the device and handpiece or filter from the list."),
        "wavelength_nm": _("This handpiece or filter emits %(values)s nm.", values=values),
        "spot_mm": _("This handpiece or filter offers spots of %(values)s mm.", values=values),
        "cooling": _("This device offers cooling: %(values)s.", values=values),
    }
    return messages[field]


def form_settings(form: SessionForm) -> SessionSettings:
    """The settings typed in a validated session form."""
    device, _slash, handpiece = str(form.device.data).partition("/")
    return SessionSettings(
        device=device,
        handpiece=handpiece,
        wavelength_nm=int(form.wavelength_nm.data),
        fluence_j_cm2=float(form.fluence_j_cm2.data),
        pulse_ms=float(form.pulse_ms.data),
        spot_mm=float(form.spot_mm.data),
        passes=int(form.passes.data),
        cooling=str(form.cooling.data),
    )


def course_procedure(course: Mapping[str, Any]) -> str:
    """The course's procedure id (m042); the default procedure's for a course stored without one."""
    return str(course.get("procedure") or get_ruleset(current_app).procedure.id)


def check_settings(
    form: SessionForm,
    screening: storage.ScreeningRecord,
    course: Mapping[str, Any],
    number: int,
    *,
    patch_fluence: float | None = None,
) -> list[Finding] | None:
    """Put the settings' problems beside their fields: None when the device cannot give them (an
    error), else the protocol's findings, which stand only with an override reason. ``patch_fluence``:
    the clear test patch's fluence, which caps session 1 where the protocol says so."""
    settings = form_settings(form)
    protocol = get_protocol()
    problems = device_problems(protocol, settings)
    for field, values in problems.items():
        getattr(form, field).errors = [*getattr(form, field).errors, _device_message(field, values)]
    if problems:
        return None
    skin_type = get_ruleset(current_app).role_answer("skin_type", screening["answers"])
    skin_type = str(skin_type) if skin_type else None
    findings = protocol_findings(
        protocol,
        course_procedure(course),
        skin_type,
        settings,
        first_session=number == 1,
        patch_fluence=patch_fluence,
    )
    reason = (form.override_reason.data or "").strip()
    if findings and not reason:
        for finding in findings:
            field = getattr(form, finding.field)
            field.errors = [*field.errors, _finding_message(finding, skin_type)]
        form.override_reason.errors = [
            *form.override_reason.errors,
            _("A setting is outside the clinic's protocol: give the reason, or change the setting."),
        ]
        return None
    return findings


def session_details(form: SessionForm, findings: list[Finding]) -> storage.SessionDetails:
    """What the session stores of the form: the settings, what was seen, the override (if any)."""
    settings = form_settings(form)
    reason = (form.override_reason.data or "").strip()
    return {
        "device": settings.device,
        "handpiece": settings.handpiece,
        "wavelength_nm": settings.wavelength_nm,
        "fluence_j_cm2": settings.fluence_j_cm2,
        "pulse_ms": settings.pulse_ms,
        "spot_mm": settings.spot_mm,
        "passes": settings.passes,
        "cooling": settings.cooling,
        "endpoint": (form.endpoint.data or "").strip() or None,
        "immediate_reaction": (form.immediate_reaction.data or "").strip() or None,
        # A reason given although every setting was within the protocol overrides nothing.
        "override_reason": reason if findings else None,
        "outside_protocol": ",".join(f.code for f in findings) or None,
    }


def prefill(sessions: list[storage.CourseSessionRecord]) -> dict[str, Any]:
    """The last recorded settings of the course, for the next session's form (empty before any)."""
    last = next((s for s in reversed(sessions) if s.get("device")), None)
    if last is None:
        return {}
    values: dict[str, Any] = {key: last[key] for key in SETTING_FIELDS}  # type: ignore[literal-required]
    values["device"] = f"{last['device']}/{last['handpiece']}"
    return values


@bp.app_template_global()
def session_settings(session: Mapping[str, Any]) -> dict[str, str]:
    """A recorded session's device and settings in words ("settings": "" for a session before them),
    what was outside the protocol and the reason, for the course page and the chart PDF."""
    if not session.get("device"):
        return {"settings": session.get("settings") or "", "outside": "", "reason": ""}
    device = get_protocol().device(str(session["device"]))
    piece = device.handpiece(str(session["handpiece"])) if device else None
    name = f"{device.name if device else session['device']}: {piece.name if piece else session['handpiece']}"
    settings = _(
        "%(device)s, %(wavelength)s nm, %(fluence)s J/cm², %(pulse)s ms, spot %(spot)s mm, %(passes)s pass(es),"
        " cooling: %(cooling)s",
        device=name,
        wavelength=session["wavelength_nm"],
        fluence=f"{session['fluence_j_cm2']:g}",
        pulse=f"{session['pulse_ms']:g}",
        spot=f"{session['spot_mm']:g}",
        passes=session["passes"],
        cooling=str(session["cooling"]).replace("_", " "),
    )
    codes = [c for c in str(session.get("outside_protocol") or "").split(",") if c]
    return {
        "settings": settings,
        "endpoint": session.get("endpoint") or "",
        "reaction": session.get("immediate_reaction") or "",
        "outside": ", ".join(str(OUTSIDE_LABELS.get(c, c)) for c in codes),
        "reason": session.get("override_reason") or "",
    }
