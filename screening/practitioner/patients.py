"""The patient record on a screening's page: the same person's other
screenings, what changed since the last one, and linking or unlinking by hand.
A link made on typed e-mail or phone and date of birth alone is a suggestion,
marked unconfirmed, until a practitioner (or the patient) confirms it.

The detail page includes ``_history.html``, which asks ``patient_record`` for
what it shows, so the page's own view needs no change. Forms sent back with
errors are kept in ``g`` and shown again by the same template.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, g, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from .. import storage
from ..core.model import OUTCOMES
from ..web.audit import audit, screening_target
from ..web.db import get_db, screening_day
from ..web.i18n import current_language
from ..web.ruleset import get_ruleset
from .answer_rows import answer_changes
from .blueprint import bp
from .course import course_block
from .course_forms import ConfirmLinkForm, LinkForm, UnlinkForm
from .detail import render_detail, screening_or_404


def _forms() -> dict[str, Any]:
    forms: dict[str, Any] = g.setdefault("patient_forms", {})
    return forms


@bp.app_template_global()
def patient_record(screening: storage.ScreeningRecord) -> dict[str, Any]:
    """What the detail page shows of the screening's patient record."""
    db = get_db()
    ruleset = get_ruleset(current_app)
    patient_id = screening.get("patient_id")
    screenings = storage.list_patient_screenings(db, patient_id) if patient_id else [screening]
    position = next((i for i, s in enumerate(screenings) if s["id"] == screening["id"]), 0)
    previous = screenings[position - 1] if position > 0 else None
    changes = answer_changes(previous["answers"], screening["answers"], ruleset, current_language()) if previous else []
    forms = _forms()
    return {
        "patient_id": patient_id,
        "others": [s for s in reversed(screenings) if s["id"] != screening["id"]],
        "previous": previous,
        "changes": changes,
        "link_form": forms.get("link") or LinkForm(formdata=None),
        "unlink_form": UnlinkForm(formdata=None),
        "confirm_form": ConfirmLinkForm(formdata=None),
        "suggested": screening.get("patient_link") == storage.SUGGESTED_LINK,
        "outcomes": OUTCOMES,
        **course_block(screening, forms, screening_day()),
    }


def _to_detail(reference: str) -> ResponseReturnValue:
    return redirect(url_for("practitioner.detail", reference=reference, _anchor="patient-record"), 303)


@bp.post("/screening/<reference>/link")
def link_patient(reference: str) -> ResponseReturnValue:
    """Put this screening on the patient record of another; dates of birth that differ need a confirmation."""
    screening = screening_or_404(reference)
    form = LinkForm()
    other = storage.get_screening_by_reference(get_db(), form.other.data or "") if form.validate() else None
    if form.other.data and not form.other.errors and other is None:
        form.other.errors = [_("No screening has this reference code.")]
    elif other is not None and other["id"] == screening["id"]:
        form.other.errors, other = [_("Enter the code of another screening.")], None
    differ = other is not None and other.get("birth_date") != screening.get("birth_date")
    if differ and not form.confirm_birth_date.data:
        form.confirm_birth_date.errors = [
            _(
                "The dates of birth differ (%(this)s here, %(other)s there). Tick the box to link them anyway.",
                this=screening.get("birth_date") or "—",
                other=other.get("birth_date") if other and other.get("birth_date") else "—",
            )
        ]
        other = None
    if other is None or other.get("patient_id") is None:
        _forms()["link"] = form
        return render_detail(screening, status=400)
    patient_id = storage.move_screening(get_db(), screening["id"], other["patient_id"])
    audit(
        "patient.link",
        screening_target(screening["reference"]),
        {
            "with": other["reference"],
            "patient": patient_id,
            "from_patient": screening.get("patient_id"),
            "birth_dates_differ": differ,
        },
    )
    flash(_("Linked to the patient record of %(reference)s.", reference=other["reference"]))
    return _to_detail(screening["reference"])


@bp.post("/screening/<reference>/unlink")
def unlink_patient(reference: str) -> ResponseReturnValue:
    """Give this screening a patient record of its own."""
    screening = screening_or_404(reference)
    if not UnlinkForm().validate():
        flash(_("This form expired. Please try again."))
        return render_detail(screening, status=400)
    patient_id = storage.move_screening(get_db(), screening["id"], None)
    audit(
        "patient.unlink",
        screening_target(screening["reference"]),
        {"patient": patient_id, "from_patient": screening.get("patient_id")},
    )
    flash(_("This screening now has a patient record of its own."))
    return _to_detail(screening["reference"])


@bp.post("/screening/<reference>/confirm-link")
def confirm_patient_link(reference: str) -> ResponseReturnValue:
    """Confirm that a screening suggested for its patient record (a match on typed details) belongs there."""
    screening = screening_or_404(reference)
    if not ConfirmLinkForm().validate():
        flash(_("This form expired. Please try again."))
        return render_detail(screening, status=400)
    patient_id = screening.get("patient_id")
    if patient_id is None or not storage.confirm_patient_link(get_db(), screening["id"], patient_id):
        flash(_("This screening's link to its patient record is not a suggestion (any more): nothing to confirm."))
        return _to_detail(screening["reference"])
    audit("patient.confirm", screening_target(screening["reference"]), {"by": "practitioner", "patient": patient_id})
    flash(_("Link to the patient record confirmed."))
    return _to_detail(screening["reference"])
