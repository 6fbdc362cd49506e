"""The test patch on a screening's page: record a patch fired and its read-out, what a course's
first session still lacks of it (``web.patch_test``), and the patches waiting for a read-out
on the due view."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import flash, g, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .. import storage
from ..storage import Database
from ..web.audit import audit, screening_target
from ..web.db import get_db, screening_day
from ..web.i18n import format_iso_date
from ..web.patch_test import (
    PatchProblem,
    PatchStep,
    patch_problem,
    patch_step,
    readout_due_on,
    screening_patch_requirement,
)
from ..web.procedures import ruleset_of
from .blueprint import bp
from .detail import render_detail, screening_or_404
from .patch_forms import PatchReadoutForm, PatchTestForm


def _date(day: dt.date | None) -> str:
    return format_iso_date(day.isoformat()) if day else ""


# What the page says for each of ``web.patch_test.PATCH_PROBLEMS``, with the latest patch's days.
PATCH_MESSAGES = {
    "none": _l("No test patch recorded."),
    "waiting": _l("The read-out of the test patch of %(tested)s is due on %(due)s."),
    "reaction": _l(
        "The test patch of %(tested)s showed a reaction on %(read)s: no session until a new test patch reads clear."
    ),
    "early": _l(
        "The read-out of the test patch of %(tested)s was recorded on %(read)s, before it was due on %(due)s:"
        " fire a new test patch."
    ),
    "after_session": _l("The clear read-out of %(read)s is after the session date."),
    "expired": _l("The clear read-out of %(read)s expired on %(expired)s."),
}


def patch_message(problem: PatchProblem) -> str:
    """What a first session lacks of the test patch, in words, with the days that matter."""
    days = {
        "tested": _date(problem.tested_on),
        "read": _date(problem.read_on),
        "due": _date(problem.due_on),
        "expired": _date(problem.expired_on),
    }
    return str(PATCH_MESSAGES[problem.code]) % days


def first_session_patch_message(
    db: Database, screening: storage.ScreeningRecord, progress: dict[str, Any], session_on: dt.date
) -> str | None:
    """Why the course's first session cannot go ahead on ``session_on`` for want of a test patch, or None
    (a later session, no patch required, or a clear read-out that counts on that day)."""
    if progress["sessions"]:
        return None
    step = patch_step(db, ruleset_of(screening), screening)
    problem = patch_problem(step.requirement, step.tests, session_on)
    return None if problem is None else patch_message(problem)


def first_session_patch_fluence(
    db: Database, screening: storage.ScreeningRecord, progress: dict[str, Any]
) -> float | None:
    """The fluence of the test patch behind a course's first session: the latest patch of the patient
    and procedure, if its read-out is clear (None for a later session, or without one). Whether it caps
    the session is the protocol's say (``core.session_check.protocol_findings``)."""
    if progress["sessions"] or screening.get("patient_id") is None:
        return None
    tests = storage.list_patch_tests(db, int(screening["patient_id"] or 0), screening["procedure"])
    return float(tests[0]["fluence_j_cm2"]) if tests and tests[0]["result"] == "clear" else None


def patch_block(
    screening: storage.ScreeningRecord, forms: dict[str, Any], progress: dict[str, Any], today: dt.date
) -> dict[str, Any]:
    """What the detail page shows of the test patch: the requirement, the patches, what a first
    session today would lack, and the forms (as sent back, if they had errors)."""
    step = patch_step(get_db(), ruleset_of(screening), screening)
    waiting = step.waiting
    tested_on = dt.date.fromisoformat(waiting["tested_on"]) if waiting else None
    problem = patch_problem(step.requirement, step.tests, today) if not progress["sessions"] else None
    return {
        "step": step,
        "tests": [{**test, "due_on": step.due_on(test)} for test in step.tests],
        "waiting": waiting,
        "missing": None if problem is None else patch_message(problem),
        "patch_form": forms.get("patch") or PatchTestForm(formdata=None, today=today, tested_on=today),
        "readout_form": forms.get("readout")
        or PatchReadoutForm(
            formdata=None, today=today, tested_on=tested_on, read_on=today, patch=waiting["id"] if waiting else ""
        ),
    }


def _to_patch(reference: str) -> ResponseReturnValue:
    return redirect(url_for("practitioner.detail", reference=reference, _anchor="patch-test"), 303)


@bp.post("/screening/<reference>/patch")
def record_patch_test(reference: str) -> ResponseReturnValue:
    """Record a test patch fired on the screening's patient for its procedure, by the signed-in practitioner."""
    screening = screening_or_404(reference)
    form = PatchTestForm(today=screening_day())
    if not form.validate() or screening.get("patient_id") is None:
        g.setdefault("patient_forms", {})["patch"] = form
        return render_detail(screening, status=400)
    patch_id = storage.record_patch_test(
        get_db(),
        int(screening["patient_id"] or 0),
        screening["procedure"],
        tested_on=form.tested_on.data.isoformat(),
        site=form.site.data,
        device=form.device.data,
        settings=form.settings.data,
        fluence_j_cm2=float(form.fluence_j_cm2.data),
        performed_by=current_user.id,
    )
    audit(
        "patch.record",
        screening_target(screening["reference"]),
        {"patch": patch_id, "procedure": screening["procedure"], "tested_on": form.tested_on.data.isoformat()},
    )
    flash(_("Test patch recorded."))
    return _to_patch(screening["reference"])


def _waiting_patch(step: PatchStep, given: str | None) -> storage.PatchTestRecord | None:
    """The waiting patch the form names, if it is the patient's waiting one for this procedure."""
    waiting = step.waiting
    return waiting if waiting is not None and given == str(waiting["id"]) else None


@bp.post("/screening/<reference>/patch/readout")
def record_patch_readout(reference: str) -> ResponseReturnValue:
    """Record the read-out of the waiting test patch: clear, or a reaction with a note."""
    screening = screening_or_404(reference)
    db = get_db()
    step = patch_step(db, ruleset_of(screening), screening)
    form = PatchReadoutForm(today=screening_day())
    waiting = _waiting_patch(step, form.patch.data)
    if waiting is not None:
        form.tested_on = dt.date.fromisoformat(waiting["tested_on"])
    g.setdefault("patient_forms", {})["readout"] = form
    valid = form.validate()
    if waiting is None:
        # Read meanwhile by a colleague, or never fired: the page has no read-out form to put this beside.
        flash(_("No test patch waits for a read-out: record the patch first."))
        return render_detail(screening, status=400)
    if not valid:
        return render_detail(screening, status=400)
    try:
        storage.record_patch_readout(
            db,
            int(waiting["id"]),
            read_on=form.read_on.data.isoformat(),
            result=form.result.data,
            note=form.note.data or None,
            read_by=current_user.id,
        )
    except storage.PatchAlreadyRead:
        flash(_("This test patch has its read-out already."))
        return render_detail(screening, status=400)
    audit(
        "patch.readout",
        screening_target(screening["reference"]),
        {"patch": waiting["id"], "result": form.result.data, "read_on": form.read_on.data.isoformat()},
    )
    flash(_("Read-out recorded."))
    return _to_patch(screening["reference"])


def waiting_readouts(db: Database, today: dt.date) -> list[dict[str, Any]]:
    """The patches waiting for a read-out, each with the day it is due, soonest first (the due view)."""
    rows = []
    for row in storage.list_waiting_patch_tests(db):
        # The read-out delay the patient's latest screening of the procedure gives.
        requirement = screening_patch_requirement(ruleset_of(row), row)
        due_on = readout_due_on(dt.date.fromisoformat(row["tested_on"]), requirement)
        rows.append({**row, "due_on": due_on, "overdue": due_on < today})
    rows.sort(key=lambda r: (r["due_on"], r["id"]))
    return rows
