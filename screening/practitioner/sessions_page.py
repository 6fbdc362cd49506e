"""A signed-in account's own sessions: where it is signed in, and ending the others."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from .. import storage
from ..web.audit import audit, practitioner_target
from ..web.db import get_db
from .blueprint import bp
from .forms import LogoutForm


@bp.get("/sessions")
def sessions() -> ResponseReturnValue:
    """Every open session of the signed-in account, this one marked."""
    rows = storage.list_open_sessions(get_db(), current_user.id)
    return render_template("practitioner/sessions.html", rows=rows, form=LogoutForm())


@bp.post("/sessions/<int:session_id>/end")
def end_session(session_id: int) -> ResponseReturnValue:
    """End one of the account's other sessions (a POST with the CSRF token)."""
    if not LogoutForm().validate_on_submit():
        abort(400)
    own = {row["id"] for row in storage.list_open_sessions(get_db(), current_user.id)}
    if session_id not in own or session_id == current_user.session_id:
        abort(404)
    storage.end_session(get_db(), session_id, "ended_by_owner")
    audit("session.end", practitioner_target(current_user.email), {"session": session_id})
    flash(_("That session is ended."))
    return redirect(url_for("practitioner.sessions"), 303)
