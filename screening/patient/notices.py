"""After the verdict, for the patient: the decision as it stands, the booking
hand-off, the clinic's contact details, the e-mailed link, the re-screen
reminder and the print view."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from .. import storage
from ..core.facts import current_rescreen_after, current_status
from ..outbox import wake_sender
from ..outbox.compose import mail_enabled, queue_result_link
from ..web.clinic import clinic_time, get_clinic, weekday_names
from ..web.db import get_db
from ..web.i18n import current_language, date_locale, format_iso_date
from ..web.links import base_url
from ..web.ruleset import get_ruleset
from .forms import NoticeForm
from .linked import linked_screening

bp = Blueprint("patient_notices", __name__)


def local_date(timestamp: str | None) -> str:
    """A stored UTC timestamp as the patient reads a date (the clinic's calendar day)."""
    if not timestamp:
        return ""
    day = clinic_time(timestamp).date()
    return format_iso_date(day.isoformat())


def effective_status(screening: storage.ScreeningRecord) -> str:
    """The status the patient acts on: the practitioner's decision once there is one, else the verdict."""
    return current_status(screening)


def notice_context(screening: storage.ScreeningRecord, token: str) -> dict[str, Any]:
    """What the result page shows beyond the verdict."""
    clinic = get_clinic()
    status = effective_status(screening)
    notice = storage.get_patient_notice(get_db(), screening["id"])
    can_mail = mail_enabled() and bool(screening["contact_email"])
    return {
        "effective_status": status,
        "decided": bool(screening["reviewed"]),
        "reviewed_on": local_date(screening["reviewed_at"]),
        "screened_on": local_date(screening["created_at"]),
        "booking_link": clinic.booking_link(screening["reference"], status) if status == "eligible" else None,
        "working_days": weekday_names(clinic, date_locale()),
        "token": token,
        "notice_form": NoticeForm(formdata=None),
        "offer_link": can_mail and not (notice and notice["link_requested_at"]),
        "link_sent": bool(notice and notice["link_requested_at"]),
        "offer_reminder": can_mail
        and status == "deferred"
        and bool(current_rescreen_after(screening))
        and not (notice and notice["reminder_requested_at"]),
        "reminder_set": bool(notice and notice["reminder_requested_at"]),
    }


@bp.post("/result/<token>/notify")
def notify(token: str) -> ResponseReturnValue:
    """E-mail me my result link, or remind me on my re-screen date; back to the result (Post/Redirect/Get)."""
    form = NoticeForm()
    if not form.validate():
        abort(400)  # a missing CSRF token or an unknown request, before anything is looked up
    screening = linked_screening(token)
    email = screening["contact_email"]
    if not email or not mail_enabled():
        abort(400)
    db = get_db()
    notice = storage.get_patient_notice(db, screening["id"])
    with storage.write_transaction(db):
        if form.what.data == "link" and not (notice and notice["link_requested_at"]):
            queue_result_link(db, screening["id"], screening["reference"], token, email, current_language())
        elif form.what.data == "reminder" and effective_status(screening) == "deferred":
            storage.save_patient_notice(db, screening["id"], base_url=base_url(), reminder=True)
    wake_sender()
    return redirect(url_for("patient.result", token=token, _anchor="keep"), 303)


@bp.get("/result/<token>/print")
def print_view(token: str) -> ResponseReturnValue:
    """One page for the patient's records: name, date, reference, result and the clinic's contact details."""
    screening = linked_screening(token)
    return render_template(
        "patient/print.html",
        screening=screening,
        ruleset=get_ruleset(current_app),
        effective_status=effective_status(screening),
        screened_on=local_date(screening["created_at"]),
        reviewed_on=local_date(screening["reviewed_at"]),
        rescreen_after=format_iso_date(current_rescreen_after(screening)),
    )
