"""Two-factor sign-in with TOTP (an authenticator app): enrolment with a QR code
drawn on the server as inline SVG, the code step after the password, and
one-time recovery codes stored hashed. Required for administrators
(``ADMINS_REQUIRE_2FA``) and for everyone when ``REQUIRE_2FA`` is true."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

import pyotp
import segno
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.security import check_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from .. import storage
from ..web.audit import audit, practitioner_target
from ..web.db import get_db
from ..web.roles import ADMIN
from .blueprint import bp

PENDING = "second_factor"  # session key: the account whose password was right, and when
PENDING_SECONDS = 300
ENROLLING = "totp_enrolling"  # session key: the secret being enrolled
RECOVERY_CODES = 10
ISSUER = "Skin clinic screening"


class CodeForm(FlaskForm):
    """Six digits from the authenticator app, or a recovery code."""

    code = StringField(
        _l("Code from your authenticator app (or a recovery code)"),
        validators=[DataRequired(_l("Enter the code.")), Length(max=32)],
    )


class EnrolForm(CodeForm):
    """The new app's code and the account's password: a session left open is not
    enough to set up (or replace) the second factor and its recovery codes."""

    password = PasswordField(
        _l("Your password"), validators=[DataRequired(_l("Enter your password.")), Length(max=1024)]
    )


def two_factor_required(role: str) -> bool:
    """Whether an account with ``role`` must sign in with a second factor."""
    config = current_app.config
    return bool(config["REQUIRE_2FA"]) or (role == ADMIN and bool(config["ADMINS_REQUIRE_2FA"]))


def start_second_factor(account_id: int) -> None:
    """Remember, for a few minutes, whose password was right: the code comes next."""
    session[PENDING] = {"id": account_id, "at": time.time()}


def pending_account() -> storage.PractitionerRecord | None:
    """The account waiting for its code, if the password was right a moment ago."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    row = storage.get_practitioner(get_db(), int(pending["id"]))
    return row if row is not None and row["active"] and row["totp_secret"] else None


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def check_code(row: Mapping[str, Any], code: str) -> str | None:
    """How the code signs in ("totp" or "recovery"), or None; each code works once."""
    code = _clean(code)
    db = get_db()
    if code.isdigit() and len(code) == 6:
        totp = pyotp.TOTP(row["totp_secret"])
        now = time.time()
        for drift in (-1, 0, 1):  # a clock half a minute off still works
            moment = now + drift * totp.interval
            if hmac.compare_digest(totp.at(moment), code):
                return "totp" if storage.accept_totp_step(db, row["id"], totp.timecode(moment)) else None
        return None
    return "recovery" if storage.use_recovery_code(db, row["id"], code) else None


def new_recovery_codes() -> list[str]:
    """Ten codes of ten letters and digits, each good for one sign-in."""
    return [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]


def qr_svg(uri: str) -> Markup:
    """The provisioning URI as an inline SVG QR code (made here: no third-party request)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff", omitsize=False)
    return Markup(svg)  # noqa: S704 - segno's own SVG of a URI we built


@bp.route("/two-factor", methods=["GET", "POST"])
def two_factor() -> ResponseReturnValue:
    """Enrol an authenticator app: scan the code, type one code to prove it works."""
    secret = session.get(ENROLLING) or pyotp.random_base32()
    session[ENROLLING] = secret
    form = EnrolForm()
    if form.validate_on_submit():
        totp = pyotp.TOTP(secret)
        row = storage.get_practitioner(get_db(), current_user.id)
        if not (row is not None and check_password_hash(row["password_hash"], form.password.data or "")):
            # A stolen session must not be enough to tie the account to someone else's phone.
            form.password.errors = [_("That is not your current password.")]
        elif totp.verify(_clean(form.code.data), valid_window=1):
            codes = new_recovery_codes()
            storage.enable_totp(get_db(), current_user.id, secret, codes)
            storage.accept_totp_step(get_db(), current_user.id, totp.timecode(time.time()))
            session.pop(ENROLLING, None)
            audit("two_factor.enable", practitioner_target(current_user.email))
            return render_template("practitioner/recovery_codes.html", codes=codes)
        else:
            form.code.errors = [_("That code does not match. Check the app's clock and try the newest code.")]
    uri = pyotp.TOTP(secret).provisioning_uri(name=current_user.email, issuer_name=ISSUER)
    status = 400 if form.errors else 200
    page = render_template(
        "practitioner/two_factor.html",
        form=form,
        qr=qr_svg(uri),
        secret=secret,
        enrolled=current_user.has_totp,
        required=two_factor_required(current_user.role),
    )
    return page, status


def require_enrolment() -> ResponseReturnValue | None:
    """Send an account that must use two-factor sign-in, but has not enrolled, to the enrolment page."""
    if current_user.has_totp or not two_factor_required(current_user.role):
        return None
    if request.endpoint in ("practitioner.two_factor", "practitioner.logout"):
        return None
    flash(_("Your account must use two-factor sign-in. Please set it up now."), "warning")
    return redirect(url_for("practitioner.two_factor"))
