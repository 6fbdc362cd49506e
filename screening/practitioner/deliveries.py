"""Recent webhook deliveries to the clinic's systems, with their status, and re-sending one.

Behind the workspace's sign-in like every page here; it is meant for the
clinic's administrators and becomes admin-only once accounts have roles.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from .. import storage
from ..outbox import wake_sender
from ..web.audit import audit
from ..web.db import get_db
from .blueprint import bp
from .forms import LogoutForm

RECENT = 50


@bp.get("/webhooks")
def deliveries() -> ResponseReturnValue:
    """The most recent webhook deliveries, newest first."""
    rows = storage.list_outbox(get_db(), "webhook", limit=RECENT)
    # LogoutForm is the workspace's CSRF-only form: each re-send button posts its token.
    return render_template("practitioner/deliveries.html", rows=rows, resend_form=LogoutForm())


@bp.post("/webhooks/<delivery_id>/resend")
def resend_delivery(delivery_id: str) -> ResponseReturnValue:
    """Queue a copy of a delivery with a new delivery id."""
    if not LogoutForm().validate():
        abort(400)
    db = get_db()
    original = storage.get_outbox_message(db, delivery_id)
    if original is None or original["channel"] != "webhook":
        abort(404)
    new_id = storage.resend_message(db, original["id"])
    audit("webhook.resend", None, {"delivery": original["delivery_id"], "event": original["event"], "id": new_id})
    wake_sender()
    flash(_("The delivery is queued again."))
    return redirect(url_for("practitioner.deliveries"), 303)
