"""The "Is this you?" page: the owner of a patient record confirms, through the one-time link
e-mailed to the record's address, that a screening suggested for it is theirs.

The link's GET only shows the question and a button: mail scanners fetch links
before anyone reads them, so nothing changes until the button is pressed (a POST
with its CSRF token). The link works once and until it expires; only its hash
is stored (``storage.patients``).
"""

from __future__ import annotations

import datetime as dt

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from .. import storage
from ..web.audit import audit, screening_target
from ..web.db import get_db
from ..web.limits import form_rate_limit, limiter
from .notices import local_date
from .views import bp


class RecordLinkForm(FlaskForm):
    """The confirm button: nothing but its CSRF token."""


def _state(link: storage.RecordLinkRequestRecord) -> str:
    """live, used or expired."""
    if link["used_at"]:
        return "used"
    if dt.datetime.fromisoformat(link["expires_at"]) <= dt.datetime.now(dt.UTC):
        return "expired"
    return "live"


@bp.route("/record-link/<link_token>", methods=["GET", "POST"])
@limiter.limit(form_rate_limit, methods=["POST"])
def confirm_record_link(link_token: str) -> ResponseReturnValue:
    """Ask whether the new screening is the record owner's; on the button, link it (Post/Redirect/Get)."""
    db = get_db()
    link = storage.get_record_link_request(db, link_token)
    if link is None:
        abort(404)
    form = RecordLinkForm()
    if request.method == "POST" and _state(link) == "live":
        if not form.validate():
            abort(400)  # a missing or stale CSRF token: nothing changes
        if storage.use_record_link_request(db, link):
            audit(
                "patient.confirm",
                screening_target(link["reference"]),
                {"by": "e-mail link", "patient": link["patient_id"], "link": storage.hash_token(link_token)},
                actor="patient",
            )
        return redirect(url_for("patient.confirm_record_link", link_token=link_token), 303)
    state = _state(link)
    screening = storage.get_screening(db, link["screening_id"])
    linked = (
        screening is not None
        and screening["patient_id"] == link["patient_id"]
        and screening["patient_link"] == storage.CONFIRMED_LINK
    )
    return render_template(
        "patient/record_link.html",
        state=state,
        linked=linked,
        form=form,
        link_token=link_token,
        screened_on=local_date(link["screened_at"]),
    ), (410 if state == "expired" else 200)
