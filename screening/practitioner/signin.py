"""The login and logout pages."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from .. import storage
from ..web.audit import audit, practitioner_target
from ..web.db import get_db
from ..web.limits import limiter, login_account_key, login_account_rate_limit, login_rate_limit
from ..web.redirects import has_control_characters, local_path
from . import auth
from .blueprint import URL_PREFIX, bp
from .forms import LoginForm, LogoutForm
from .two_factor import CodeForm, check_code, pending_account, start_second_factor


def safe_next(target: str | None) -> str:
    """Only a path inside the workspace: the login page is no open redirect."""
    return local_path(target, URL_PREFIX + "/") or url_for("practitioner.queue")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
@limiter.limit(login_account_rate_limit, key_func=login_account_key, methods=["POST"])
def login() -> ResponseReturnValue:
    """Email and password; one message for every kind of failure."""
    if has_control_characters(request.args.get("next")):
        abort(400)  # a forged link: nobody is signed in through it
    if current_user.is_authenticated:
        return redirect(url_for("practitioner.queue"))
    form = LoginForm()
    failed = False
    paused = 0
    if form.validate_on_submit():
        try:
            user = auth.authenticate(form.email.data, form.password.data)
        except auth.SignInPaused as error:
            user, paused = None, error.seconds
        if user is not None:
            # A new session: nothing from before sign-in carries over.
            session.clear()
            if not user.session_id:
                start_second_factor(user.id)
                return redirect(url_for("practitioner.login_code", next=request.args.get("next")), 303)
            login_user(user)
            return redirect(safe_next(request.args.get("next")), 303)
        failed = True
    status = 429 if paused else 400 if request.method == "POST" and not failed else 200
    return render_template("practitioner/login.html", form=form, failed=failed, paused=paused), status


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login_code() -> ResponseReturnValue:
    """The second step of a two-factor sign-in: a code from the app, or a recovery code."""
    row = pending_account()
    if row is None:
        flash(_("Please sign in again."))
        return redirect(url_for("practitioner.login", next=request.args.get("next")), 303)
    form = CodeForm()
    if form.validate_on_submit():
        email, address, now = row["email"], request.remote_addr or "unknown", auth.now_utc()
        db = get_db()
        if storage.login_blocked_until(db, "code:" + email, address, now):
            form.code.errors = [_("Too many wrong codes. Please wait a few minutes and try again.")]
        else:
            method = check_code(row, form.code.data)
            if method is not None:
                storage.clear_failed_logins(db, "code:" + email, address)
                session.clear()
                login_user(auth.complete_sign_in(row, {"second_factor": method}))
                return redirect(safe_next(request.args.get("next")), 303)
            auth.count_failure("code:" + email, address, now, practitioner_target(email), email, "wrong code")
            form.code.errors = [_("That code is not right, or it was used already.")]
    status = 400 if form.errors else 200
    return render_template("practitioner/login_code.html", form=form), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out (a POST with the CSRF token)."""
    if not LogoutForm().validate_on_submit():
        abort(400)
    audit("logout", practitioner_target(current_user.email))
    storage.end_session(get_db(), current_user.session_id, "signed_out")
    logout_user()
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("practitioner.login"), 303)
