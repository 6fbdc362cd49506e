"""Account management for administrators: invite (the new user sets their own
password through a one-time link, e-mailed when mail is on), change a role,
deactivate, reactivate and reset a password (a new link, likewise). Every action
is audited; a deactivation, a role change and a reset end the account's open
sessions at once."""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from .. import storage
from ..core.people import normalise_email
from ..outbox import wake_sender
from ..outbox.account_mail import queue_account_link
from ..web.audit import audit, practitioner_target
from ..web.db import get_db
from ..web.links import external_url
from ..web.roles import ADMIN, PRACTITIONER, ROLE_LABELS
from .account_forms import InviteForm, RoleForm
from .auth import hash_password
from .blueprint import bp
from .forms import LogoutForm
from .rule_change_forms import MedicalDirectorForm

# The roles whose accounts may be medical directors: clinicians and administrators, not reception.
DIRECTOR_ROLES = (PRACTITIONER, ADMIN)


def _account_or_404(account_id: int) -> storage.PractitionerRecord:
    row = storage.get_practitioner(get_db(), account_id)
    if row is None:
        abort(404)
    return row


def _posted_account(account_id: int) -> storage.PractitionerRecord:
    """The account a button on the accounts page posted about: 404 if none, 400 without the form's CSRF token."""
    row = _account_or_404(account_id)
    if not LogoutForm().validate_on_submit():
        abort(400)
    return row


def _back_to_accounts() -> ResponseReturnValue:
    """After an action on an account: the accounts page, with the action's message flashed."""
    return redirect(url_for("practitioner.accounts"), 303)


def _not_yourself(row: storage.PractitionerRecord) -> bool:
    """An administrator cannot lock themselves out (another administrator can)."""
    if row["id"] == current_user.id:
        flash(_("You cannot do that to your own account; ask another administrator."), "error")
        return False
    return True


def _unusable_password_hash() -> str:
    # Until the link is used nobody knows a password that opens the account.
    return hash_password(secrets.token_urlsafe(32))


def _link_page(row: storage.PractitionerRecord, purpose: str) -> ResponseReturnValue:
    """A new one-time set-password link: e-mailed to the account when mail is on, and shown once."""
    hours = int(current_app.config["ACCOUNT_LINK_HOURS"])
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat(timespec="microseconds")
    db = get_db()
    # The link and its e-mail together: no message for a link that was not stored.
    with storage.write_transaction(db):
        token = storage.create_account_link(db, row["id"], purpose, expires)
        link = external_url("practitioner.set_password", token=token)
        mailed = queue_account_link(db, row["email"], link, purpose, hours) is not None
    if mailed:
        wake_sender()
    return render_template(
        "practitioner/account_link.html", account=row, link=link, hours=hours, purpose=purpose, mailed=mailed
    )


def render_accounts(form: InviteForm | None = None, status: int = 200) -> ResponseReturnValue:
    """The accounts page with the invitation form."""
    return (
        render_template(
            "practitioner/accounts.html",
            accounts=storage.list_practitioners(get_db()),
            form=form or InviteForm(formdata=None),
            action_form=LogoutForm(),
            role_labels=ROLE_LABELS,
            director_roles=DIRECTOR_ROLES,
        ),
        status,
    )


@bp.get("/accounts")
def accounts() -> ResponseReturnValue:
    """Every account with its role, status and last sign-in."""
    return render_accounts()


@bp.post("/accounts")
def invite() -> ResponseReturnValue:
    """Create an account and show its one-time set-password link."""
    form = InviteForm()
    if not form.validate():
        return render_accounts(form, 400)
    email = normalise_email(form.email.data)
    existing = storage.get_practitioner_by_email(get_db(), email)
    if existing is not None:
        message = (
            _("This account exists but is deactivated: reactivate it below.")
            if not existing["active"]
            else _("An account with this email exists already.")
        )
        form.email.errors = [message]
        return render_accounts(form, 400)
    try:
        account_id = storage.create_practitioner(
            get_db(), email, form.name.data, _unusable_password_hash(), form.role.data
        )
    except sqlite3.IntegrityError:
        form.email.errors = [_("An account with this email exists already.")]
        return render_accounts(form, 400)
    audit("practitioner.create", practitioner_target(email), {"role": form.role.data})
    return _link_page(_account_or_404(account_id), "invite")


@bp.post("/accounts/<int:account_id>/deactivate")
def deactivate(account_id: int) -> ResponseReturnValue:
    """Deactivate an account: it cannot sign in, and its open sessions end now."""
    row = _posted_account(account_id)
    if _not_yourself(row):
        storage.set_practitioner_active(get_db(), row["email"], False)
        storage.end_sessions(get_db(), row["id"], "deactivated")
        audit("practitioner.deactivate", practitioner_target(row["email"]))
        flash(_("%(name)s can no longer sign in.", name=row["name"]))
    return _back_to_accounts()


@bp.post("/accounts/<int:account_id>/reactivate")
def reactivate(account_id: int) -> ResponseReturnValue:
    """Let a deactivated account sign in again (with its old password, or after a reset)."""
    row = _posted_account(account_id)
    storage.set_practitioner_active(get_db(), row["email"], True)
    audit("practitioner.reactivate", practitioner_target(row["email"]))
    flash(_("%(name)s can sign in again.", name=row["name"]))
    return _back_to_accounts()


@bp.post("/accounts/<int:account_id>/role")
def change_role(account_id: int) -> ResponseReturnValue:
    """Give an account another role; its sessions end, so the new role applies at once."""
    row = _account_or_404(account_id)
    form = RoleForm()
    if not form.validate():
        abort(400)
    if _not_yourself(row) and form.role.data != row["role"]:
        storage.set_practitioner_role(get_db(), row["id"], form.role.data)
        storage.end_sessions(get_db(), row["id"], "role_changed")
        audit("practitioner.role", practitioner_target(row["email"]), {"from": row["role"], "to": form.role.data})
        flash(_("%(name)s now has the role %(role)s.", name=row["name"], role=ROLE_LABELS[form.role.data]))
    return _back_to_accounts()


@bp.post("/accounts/<int:account_id>/reset")
def reset_password(account_id: int) -> ResponseReturnValue:
    """The old password stops working and its sessions end; show a one-time link to set a new one."""
    row = _posted_account(account_id)
    storage.set_practitioner_password(get_db(), row["id"], _unusable_password_hash())
    storage.end_sessions(get_db(), row["id"], "password_reset")
    audit("practitioner.reset", practitioner_target(row["email"]))
    return _link_page(row, "reset")


@bp.post("/accounts/<int:account_id>/medical-director")
def set_medical_director(account_id: int) -> ResponseReturnValue:
    """Mark a practitioner's or administrator's account as a medical director (who may approve
    a rule change someone else proposed), or no longer; from the account's next request on."""
    form = MedicalDirectorForm()
    if not form.validate():
        abort(400)
    row = _account_or_404(account_id)
    director = form.medical_director.data == "1"
    if director and row["role"] not in DIRECTOR_ROLES:
        flash(_("Only a practitioner or an administrator can be a medical director."), "error")
    elif _not_yourself(row) and director != bool(row["medical_director"]):
        storage.set_medical_director(get_db(), row["id"], director)
        audit("practitioner.medical_director", practitioner_target(row["email"]), {"medical_director": director})
        if director:
            flash(_("%(name)s is now a medical director: they may approve rule changes.", name=row["name"]))
        else:
            flash(_("%(name)s is no longer a medical director.", name=row["name"]))
    return _back_to_accounts()
