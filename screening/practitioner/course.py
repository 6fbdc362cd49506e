"""The course of sessions on a screening's page (start a course, record a
session given on this screening) and the queue's "due" view."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import storage
from ..core.course import SessionCheck, next_session_on, session_problems
from ..web.audit import audit, screening_target
from ..web.course import course_progress
from ..web.db import get_db, screening_day
from ..web.procedures import ruleset_of
from .adverse_events import planned_mark
from .blueprint import bp
from .clock import valid_until, zone
from .course_forms import CourseForm, SessionForm
from .detail import render_detail, screening_or_404
from .patch_test import first_session_patch_fluence, first_session_patch_message, patch_block, waiting_readouts
from .session_record import check_settings, prefill, session_details

# What the page says for each of ``core.course.SESSION_PROBLEMS``.
SESSION_MESSAGES = {
    "future": _l("The session date is in the future."),
    "before_start": _l("The session date is before the course began."),
    "number": _l("This session number is outside the plan or already recorded."),
    "other_patient": _l("This screening is not on the course's patient record."),
    "expired": _l("The screening has expired on the session date: the patient must be screened again."),
    "undecided": _l("The screening has no practitioner decision yet: review it first."),
    "not_cleared": _l("The decision on this screening does not clear the patient for a session."),
    "not_reconfirmed": _l("The answers were not re-confirmed on the session date: do the day-of-session check."),
}
# The problems that belong beside a field of the session form.
_FIELD_OF = {"future": "given_on", "before_start": "given_on", "number": "number"}


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def course_block(screening: storage.ScreeningRecord, forms: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """What the detail page shows of the course, with its forms (as sent back, if they had errors)."""
    progress = course_progress(get_db(), screening.get("patient_id"), screening["procedure"])
    procedure = ruleset_of(screening).procedure  # the plan of the screening's own procedure
    course_form = forms.get("course") or CourseForm(
        formdata=None,
        today=today,
        started_on=today,
        planned_sessions=procedure.planned_sessions,
        interval_weeks=procedure.interval_weeks,
    )
    session_form = forms.get("session") or SessionForm(
        formdata=None, given_on=today, number=len(progress["sessions"]) + 1, **prefill(progress["sessions"])
    )
    return {
        **progress,
        "course_form": course_form,
        "session_form": session_form,
        "patch": patch_block(screening, forms, progress, today),
    }


@bp.post("/screening/<reference>/course")
def start_course(reference: str) -> ResponseReturnValue:
    """Start a course on the screening's patient record."""
    screening = screening_or_404(reference)
    form = CourseForm(today=screening_day())
    if not form.validate() or screening.get("patient_id") is None:
        g.setdefault("patient_forms", {})["course"] = form
        return render_detail(screening, status=400)
    course_id = storage.start_course(
        get_db(),
        int(screening["patient_id"] or 0),
        current_user.id,
        form.started_on.data.isoformat(),
        int(form.planned_sessions.data),
        int(form.interval_weeks.data) * 7,
        procedure=screening["procedure"],
    )
    audit(
        "course.start",
        screening_target(screening["reference"]),
        {
            "course": course_id,
            "procedure": screening["procedure"],
            "planned_sessions": form.planned_sessions.data,
            "interval_weeks": form.interval_weeks.data,
        },
    )
    flash(_("Course started."))
    return redirect(url_for("practitioner.detail", reference=screening["reference"], _anchor="course"), 303)


@bp.post("/screening/<reference>/session")
def record_session(reference: str) -> ResponseReturnValue:
    """Record a session given on this screening, if the screening is valid on the session day."""
    screening = screening_or_404(reference)
    db = get_db()
    form = SessionForm()
    progress = course_progress(db, screening.get("patient_id"), screening["procedure"])
    course = progress["course"]
    g.setdefault("patient_forms", {})["session"] = form
    if course is None:
        form.given_on.errors = [_("Start a course first.")]
        return render_detail(screening, status=400)
    if not form.validate():
        return render_detail(screening, status=400)
    check = SessionCheck(
        created_at=screening["created_at"],
        confirmed_at=screening.get("confirmed_at"),
        reviewed=bool(screening["reviewed"]),
        decided_status=screening.get("decided_status"),
        same_patient=screening.get("patient_id") == course["patient_id"],
        started_on=dt.date.fromisoformat(course["started_on"]),
        planned_sessions=course["planned_sessions"],
        taken_numbers=frozenset(s["number"] for s in progress["sessions"]),
    )
    problems = session_problems(
        check,
        form.given_on.data,
        int(form.number.data),
        today=screening_day(),
        valid_days=int(current_app.config["VALID_DAYS"]),
        zone=zone(),
    )
    # A course's first session waits for the test patch its screening requires (web.patch_test).
    patch_missing = first_session_patch_message(db, screening, progress, form.given_on.data)
    if patch_missing is not None:
        form.given_on.errors = [*form.given_on.errors, patch_missing]
    # Session 1 above the clear test patch's fluence is outside the protocol where it says the patch caps it.
    patch_fluence = first_session_patch_fluence(db, screening, progress)
    findings = check_settings(form, screening, course, int(form.number.data), patch_fluence=patch_fluence)
    if not problems and findings is not None and patch_missing is None:
        try:
            storage.record_session(
                db,
                course["id"],
                screening["id"],
                current_user.id,
                given_on=form.given_on.data.isoformat(),
                number=int(form.number.data),
                note=(form.note.data or "").strip() or None,
                settings=None,  # the free text of sessions before m044; now each setting is typed
                details=session_details(form, findings),
            )
        except storage.DuplicateSession:
            problems = ["number"]
    if problems or findings is None or patch_missing is not None:
        for code in problems:
            field = getattr(form, _FIELD_OF.get(code, "given_on"))
            field.errors = [*field.errors, str(SESSION_MESSAGES[code])]
        return render_detail(screening, status=400)
    audit(
        "course.session",
        screening_target(screening["reference"]),
        {"course": course["id"], "number": form.number.data},
    )
    if findings:
        # The reason itself stays on the session (it may name the patient); the audit says what was overridden.
        audit(
            "course.session_override",
            screening_target(screening["reference"]),
            {"course": course["id"], "number": form.number.data, "outside_protocol": [f.code for f in findings]},
        )
    flash(_("Session %(number)s recorded.", number=form.number.data))
    return redirect(url_for("practitioner.detail", reference=screening["reference"], _anchor="course"), 303)


@bp.get("/due")
def due() -> ResponseReturnValue:
    """Courses whose next session is due within the window and whose latest screening will have expired by then."""
    today = screening_day()
    try:
        days = max(0, min(int(request.args.get("days", current_app.config["COURSE_DUE_DAYS"])), 365))
    except ValueError:
        days = int(current_app.config["COURSE_DUE_DAYS"])
    rows = []
    for course in storage.list_open_courses(get_db()):
        last = _day(course["last_given_on"])
        next_on = next_session_on(dt.date.fromisoformat(course["started_on"]), last, course["interval_days"])
        expires = valid_until(course)
        # A planned session the pre-session check deferred or sent to review is listed too, marked.
        mark = planned_mark(course["id"], course["sessions_given"] + 1)
        if next_on <= today + dt.timedelta(days=days) and (expires < next_on or mark is not None):
            rows.append(
                {
                    **course,
                    "next_on": next_on,
                    "valid_until": expires,
                    "next_number": course["sessions_given"] + 1,
                    "mark": mark,
                }
            )
    rows.sort(key=lambda r: (r["next_on"], r["id"]))
    readouts = waiting_readouts(get_db(), today)  # every test patch waiting, whatever the window
    audit("course.due", None, {"count": len(rows), "days": days, "readouts": len(readouts)})
    return render_template("practitioner/due.html", rows=rows, days=days, today=today, readouts=readouts)
