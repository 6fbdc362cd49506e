"""Passwords: the signed-in account changes its own, and a new or reset account
sets one through its one-time link. Either ends the account's other sessions."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.security import check_password_hash

from .. import storage
from ..web.audit import audit, practitioner_target
from ..web.db import get_db
from .account_forms import ChangePasswordForm, NewPasswordForm
from .auth import hash_password
from .blueprint import bp


@bp.route("/password", methods=["GET", "POST"])
def password() -> ResponseReturnValue:
    """Change your own password (the current one first); your other sessions end."""
    form = ChangePasswordForm(email=current_user.email)
    if form.validate_on_submit():
        row = storage.get_practitioner(get_db(), current_user.id)
        if row is not None and check_password_hash(row["password_hash"], form.current.data):
            storage.set_practitioner_password(get_db(), row["id"], hash_password(form.password.data))
            ended = storage.end_sessions(get_db(), row["id"], "password_changed", keep=current_user.session_id)
            audit("password.change", practitioner_target(row["email"]), {"other_sessions_ended": ended})
            flash(_("Your password is changed; you are signed out everywhere else."))
            return redirect(url_for("practitioner.queue"), 303)
        form.current.errors = [_("That is not your current password.")]
    status = 400 if form.errors else 200
    return render_template("practitioner/password.html", form=form), status


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str) -> ResponseReturnValue:
    """Set a password through a one-time link (a new account, or after a reset)."""
    db = get_db()
    link = storage.live_account_link(db, token)
    row = storage.get_practitioner(db, link[1]) if link else None
    if link is None or row is None or not row["active"]:
        return render_template("practitioner/link_expired.html"), 410
    form = NewPasswordForm(email=row["email"])
    if form.validate_on_submit():
        if not storage.use_account_link(db, link[0]):
            return render_template("practitioner/link_expired.html"), 410
        storage.set_practitioner_password(db, row["id"], hash_password(form.password.data))
        storage.end_sessions(db, row["id"], "password_set")
        audit("password.set", practitioner_target(row["email"]), {"link": link[2]}, actor=row["email"])
        flash(_("Your password is set. Please sign in."))
        return redirect(url_for("practitioner.login"), 303)
    status = 400 if form.errors else 200
    return render_template("practitioner/set_password.html", form=form, account=row), status
