"""The workspace's one blueprint: its URL prefix, the sign-in check, the idle
timeout and the helpers every template gets.

Every page but the login page needs a signed-in account whose role opens it
(``roles.ACCESS``); the check is a ``before_request`` on the blueprint, so a
new page cannot forget it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from ..core.conditions import describe_condition
from ..web.audit import audit
from ..web.clinic import get_clinic
from ..web.reload import load_problems
from ..web.roles import ADMIN, PUBLIC_ENDPOINTS, may_open
from .clock import local_time, machine_time
from .forms import OUTCOME_LABELS, OVERRIDE_REASONS, RULE_OUTCOME_LABELS, LogoutForm

URL_PREFIX = "/practitioner"
bp = Blueprint("practitioner", __name__, url_prefix=URL_PREFIX)


@bp.before_request
def require_login() -> ResponseReturnValue | None:
    """Send anonymous visitors to the login page, remembering where they were
    going, and refuse pages the account's role does not open (roles.ACCESS)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    if not current_user.is_authenticated:
        if g.get("session_timed_out"):
            # Clinic computers are shared: an idle session ends (checked on the server).
            session.clear()
            flash(_("You were signed out after a period without activity. Please sign in again."))
        return redirect(url_for("practitioner.login", next=target))
    if not may_open(current_user.role, request.endpoint):
        audit("access.denied", None, {"page": request.endpoint, "role": current_user.role})
        abort(403)
    from .two_factor import require_enrolment  # the page module imports this blueprint

    return require_enrolment()


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
        # Links to pages the account cannot open are not shown.
        "can_open": lambda endpoint: current_user.is_authenticated and may_open(current_user.role, endpoint),
        "timezone_name": get_clinic().timezone,
        # An edit of the rule file, clinic file or consent texts that did not load: administrators fix it.
        "file_problems": load_problems() if current_user.is_authenticated and current_user.role == ADMIN else (),
    }
