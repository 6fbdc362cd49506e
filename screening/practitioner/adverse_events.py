"""Around each session on the course page: the pre-session checks (a planned session a
check deferred or sent to review is marked), the check-in answers (a sign of a
complication highlighted), and the adverse events staff record on a session given,
from a check-in, a call or a visit (audited)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, flash, g, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, Field, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from ..core import check_in as core_check_in
from ..storage import session_checks as checks
from ..web.audit import audit, screening_target
from ..web.db import get_db, screening_day
from ..web.validators import PlainText
from .blueprint import bp
from .detail import render_detail, screening_or_404

EVENT_KIND_LABELS = {
    "blistering": _l("Blistering"),
    "burn": _l("Burn"),
    "crusting": _l("Crusting"),
    "hyperpigmentation": _l("Darker patches (hyperpigmentation)"),
    "hypopigmentation": _l("Lighter patches (hypopigmentation)"),
    "prolonged_redness": _l("Redness lasting longer than expected"),
    "swelling": _l("Swelling"),
    "infection": _l("Infection"),
    "cold_sore": _l("Cold sore outbreak"),
    "scarring": _l("Scarring"),
    "eye_injury": _l("Eye injury"),
    "other": _l("Other"),
}
EVENT_GRADE_LABELS = {"mild": _l("Mild"), "moderate": _l("Moderate"), "severe": _l("Severe")}
EVENT_OUTCOME_LABELS = {
    "ongoing": _l("Ongoing"),
    "resolved": _l("Resolved"),
    "resolved_with_marks": _l("Resolved with lasting marks"),
}
EVENT_SOURCE_LABELS = {"check_in": _l("From a check-in"), "call": _l("From a call"), "visit": _l("At a visit")}
CHECK_IN_LABELS = {
    "redness": _l("Still red"),
    "swelling": _l("Swollen"),
    "blisters": _l("Blisters"),
    "crusting": _l("Crusts"),
    "darker_patches": _l("Darker patches"),
    "lighter_patches": _l("Lighter patches"),
    "pain": _l("Pain"),
    "other": _l("Something else"),
}
PAIN_LABELS = {"none": _l("none"), "mild": _l("mild"), "moderate": _l("moderate"), "severe": _l("severe")}
FOLLOW_UP_MAX = 1000


def _choices(labels: dict[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


class AdverseEventForm(FlaskForm):
    """An adverse event on a session given."""

    def __init__(self, *args: Any, given_on: dt.date, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.given_on_day, self.today = given_on, today

    def validate_onset_on(self, field: Field) -> None:
        """On or after the session day, and not in the future."""
        if field.data and not self.given_on_day <= field.data <= self.today:
            raise ValidationError(_l("Enter a date from the session day to today."))

    kind = SelectField(_l("What happened"), choices=_choices(EVENT_KIND_LABELS), validators=[InputRequired()])
    grade = SelectField(_l("Grade"), choices=_choices(EVENT_GRADE_LABELS), validators=[InputRequired()])
    onset_on = DateField(_l("Began on"), validators=[InputRequired(_l("Enter a date."))])
    outcome = SelectField(_l("Outcome"), choices=_choices(EVENT_OUTCOME_LABELS), validators=[InputRequired()])
    source = SelectField(
        _l("How the clinic heard"), choices=_choices(EVENT_SOURCE_LABELS), validators=[InputRequired()]
    )
    follow_up = TextAreaField(
        _l("Follow-up (optional)"), validators=[Optional(), Length(max=FOLLOW_UP_MAX), PlainText(multiline=True)]
    )


def _form_key(session_id: int) -> str:
    """The form's key in ``g.patient_forms`` and its field prefix: a page shows one form per session."""
    return f"ae{session_id}"


@bp.app_template_global()
def session_safety(course: dict[str, Any] | None, sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """What the course page shows around its sessions: the pre-session checks by number, and per
    session given its check-in, its adverse events and the form to record one."""
    if course is None:
        return {"checks": {}, "check_ins": {}, "events": {}, "forms": {}}
    db, today = get_db(), screening_day()
    forms: dict[str, Any] = g.get("patient_forms", {})
    check_ins = {row["session_id"]: row for row in checks.list_course_check_ins(db, course["id"])}
    events: dict[int, list[dict[str, Any]]] = {}
    for event in checks.list_course_adverse_events(db, course["id"]):
        events.setdefault(event["session_id"], []).append(event)
    return {
        "checks": {row["number"]: row for row in checks.list_course_checks(db, course["id"])},
        "check_ins": check_ins,
        "events": events,
        "forms": {
            s["id"]: forms.get(_form_key(s["id"]))
            or AdverseEventForm(
                formdata=None,
                prefix=_form_key(s["id"]),
                given_on=dt.date.fromisoformat(s["given_on"]),
                today=today,
                onset_on=today,
                source="check_in" if s["id"] in check_ins else "call",
            )
            for s in sessions
        },
        "kind_labels": EVENT_KIND_LABELS,
        "grade_labels": EVENT_GRADE_LABELS,
        "outcome_labels": EVENT_OUTCOME_LABELS,
        "source_labels": EVENT_SOURCE_LABELS,
        "check_in_labels": CHECK_IN_LABELS,
        "pain_labels": PAIN_LABELS,
        "check_in_fields": (*core_check_in.SYMPTOMS[:-1], "pain", "other"),
    }


@bp.post("/screening/<reference>/session/<int:session_id>/adverse-event")
def record_adverse_event(reference: str, session_id: int) -> ResponseReturnValue:
    """Record an adverse event on a session given in the course of this screening's patient."""
    screening = screening_or_404(reference)
    db = get_db()
    session = checks.get_course_session(db, session_id)
    today = screening_day()
    given_on = dt.date.fromisoformat(session["given_on"]) if session else today
    form = AdverseEventForm(prefix=_form_key(session_id), given_on=given_on, today=today)
    valid = form.validate()
    if "csrf_token" in form and form["csrf_token"].errors:
        abort(400)  # a missing or stale CSRF token: nothing is read further
    course = checks.get_course(db, session["course_id"]) if session else None
    if session is None or course is None or course["patient_id"] != screening.get("patient_id"):
        abort(404)
    if not valid:
        g.setdefault("patient_forms", {})[_form_key(session_id)] = form
        return render_detail(screening, status=400)
    event_id = checks.record_adverse_event(
        db,
        session,
        current_user.id,
        kind=form.kind.data,
        grade=form.grade.data,
        onset_on=form.onset_on.data.isoformat(),
        outcome=form.outcome.data,
        source=form.source.data,
        follow_up=(form.follow_up.data or "").strip() or None,
    )
    audit(
        "course.adverse_event",
        screening_target(session["reference"]),
        {"session": session_id, "event": event_id, "kind": form.kind.data, "grade": form.grade.data},
    )
    flash(_("Adverse event recorded on session %(number)s.", number=session["number"]))
    return redirect(
        url_for("practitioner.detail", reference=screening["reference"], _anchor=f"session-{session_id}"), 303
    )


def planned_mark(course_id: int, number: int) -> dict[str, Any] | None:
    """The pre-session check of a planned session, if it was answered with anything but "eligible"."""
    for row in checks.list_course_checks(get_db(), course_id):
        if row["number"] == number and row["outcome"] and row["outcome"] != "eligible":
            return row
    return None
