"""The workspace's one blueprint: its URL prefix, the sign-in check, the idle
timeout and the helpers every template gets.

Every page but the login page needs a signed-in practitioner; the check is a
``before_request`` on the blueprint, so a new page cannot forget it.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from ..core.conditions import describe_condition
from .clock import local_time, machine_time
from .forms import OUTCOME_LABELS, OVERRIDE_REASONS, RULE_OUTCOME_LABELS, LogoutForm

URL_PREFIX = "/practitioner"
bp = Blueprint("practitioner", __name__, url_prefix=URL_PREFIX)

# Endpoints an anonymous visitor may reach.
PUBLIC_ENDPOINTS = frozenset({"practitioner.login"})
# Session key: when the signed-in practitioner last made a request (epoch seconds).
LAST_SEEN = "last_seen"


@bp.before_request
def require_login() -> ResponseReturnValue | None:
    """Send anonymous visitors to the login page, remembering where they were going."""
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    if current_user.is_authenticated:
        now = time.time()
        # Clinic computers are shared: an idle session ends (checked here, on the server).
        if now - session.get(LAST_SEEN, now) > int(current_app.config["IDLE_TIMEOUT"]):
            logout_user()
            session.clear()
            flash(_("You were signed out after a period without activity. Please sign in again."))
            return redirect(url_for("practitioner.login", next=target))
        session[LAST_SEEN] = now
        return None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    return redirect(url_for("practitioner.login", next=target))


@bp.context_processor
def template_helpers() -> dict[str, Any]:
    """Helpers for the workspace's templates."""
    return {
        "local_time": local_time,
        "describe_condition": describe_condition,
        "machine_time": machine_time,
        "outcome_labels": OUTCOME_LABELS,
        "rule_outcome_labels": RULE_OUTCOME_LABELS,
        "override_reasons": OVERRIDE_REASONS,
        "logout_form": LogoutForm() if current_user.is_authenticated else None,
        "timezone_name": current_app.config["TIMEZONE"],
    }
