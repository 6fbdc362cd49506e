"""The one check on every route a result token reaches (``/result/<token>``, its PDF,
print view, notices and "answer again"): an unknown link is 404, an expired one the
410 page, and every other request is audited as a staff view of the screening is.

It runs before the view of each patient blueprint whose rule has a ``token``
argument, so a new route under ``/result/<token>/`` is covered without a line of
its own (tests/test_security_links.py walks the URL map to hold that).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from ..storage import ScreeningRecord, hash_token
from ..web.audit import audit, screening_target
from . import notices, views
from .linked import linked_screening

# The view argument that carries a patient's result token.
TOKEN_ARGUMENT = "token"  # noqa: S105 - a name, not a secret
# The blueprints whose ``token`` is a result token (practitioner set-password links have their own expiry).
RESULT_LINK_BLUEPRINTS: tuple[Blueprint, ...] = (views.bp, notices.bp)


def is_expired(screening: ScreeningRecord) -> bool:
    """Whether the screening's result link is older than ``RESULT_LINK_DAYS``."""
    created = dt.datetime.fromisoformat(screening["created_at"])
    return dt.datetime.now(dt.UTC) - created > dt.timedelta(days=int(current_app.config["RESULT_LINK_DAYS"]))


def check_result_link() -> ResponseReturnValue | None:
    """Before a view reached by a result token: 404 unknown, 410 expired, else audit the patient's view."""
    token = (request.view_args or {}).get(TOKEN_ARGUMENT)
    if token is None:
        return None
    screening = linked_screening(token)  # 404 if unknown; the view reuses it
    if is_expired(screening):
        # An old link (forwarded, left in a mailbox) no longer shows health data, nor sends mail.
        return render_template("patient/result_expired.html", reference=screening["reference"]), 410
    # The patient is the actor; the link is named by its hash, as the database stores it, never itself.
    audit(
        "screening.view",
        screening_target(screening["reference"]),
        {"via": "result link", "page": request.endpoint, "link": hash_token(token)},
        actor="patient",
    )
    return None


for _blueprint in RESULT_LINK_BLUEPRINTS:
    _blueprint.before_request(check_result_link)
