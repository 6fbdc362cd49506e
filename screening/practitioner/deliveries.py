"""Recent webhook deliveries to the clinic's systems, with their status, and re-sending one;
with the local mailbox (``MAIL_TRANSPORT`` "mailbox"), the e-mail it holds, each opened here.

Administrators only (web/roles.py); opening a message is audited, as messages carry
patients' addresses and result links.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from .. import storage
from ..outbox import wake_sender
from ..outbox.compose import mail_transport
from ..outbox.mailbox import NoSuchMessage, list_mailbox, message_text, read_mailbox_message
from ..web.audit import audit, screening_target
from ..web.db import get_db
from .blueprint import bp
from .forms import LogoutForm

RECENT = 50


@bp.get("/webhooks")
def deliveries() -> ResponseReturnValue:
    """The most recent webhook deliveries and local mailbox messages, newest first."""
    rows = storage.list_outbox(get_db(), "webhook", limit=RECENT)
    mailbox_on = mail_transport(current_app.config) == "mailbox"
    mail = list_mailbox(str(current_app.config["MAIL_FOLDER"]), limit=RECENT)
    # LogoutForm is the workspace's CSRF-only form: each re-send button posts its token.
    return render_template(
        "practitioner/deliveries.html",
        rows=rows,
        resend_form=LogoutForm(),
        mailbox_on=mailbox_on,
        mail=mail,
        mail_folder=current_app.config["MAIL_FOLDER"],
    )


@bp.get("/mail/<delivery_id>")
def mailbox_message(delivery_id: str) -> ResponseReturnValue:
    """One message of the local mailbox: its headers and its text (the HTML version is not shown:
    the page never carries markup read from a file)."""
    try:
        message = read_mailbox_message(str(current_app.config["MAIL_FOLDER"]), delivery_id)
    except NoSuchMessage:
        abort(404)
    db = get_db()
    queued = storage.get_outbox_message(db, delivery_id)
    screening = storage.get_screening(db, queued["screening_id"]) if queued and queued["screening_id"] else None
    audit(
        "mail.view",
        screening_target(screening["reference"]) if screening else None,
        {"delivery": delivery_id, "event": queued["event"] if queued else None},
    )
    headers = [
        (_("Sender"), str(message.get("From", ""))),
        (_("Recipient"), str(message.get("To", ""))),
        (_("Subject"), str(message.get("Subject", ""))),
        (_("Sent"), str(message.get("Date", ""))),
    ]
    return render_template(
        "practitioner/mail_message.html",
        delivery_id=delivery_id,
        headers=headers,
        subject=str(message.get("Subject", "")),
        text=message_text(message),
        has_html=message.get_body(("html",)) is not None,
    )


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
