"""Recording the audit trail from a request: who, from where, did what to what.

Rows name screenings by their reference code and carry small details such
as a status or a reason code; never patient answers, names or contacts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import has_request_context, request
from flask_login import current_user

from ..core.people import normalise_email
from ..storage import ApiTokenRecord, record_audit
from .db import get_db

# Every action the app records, for the audit page's filter.
ACTIONS = (
    "login.success",
    "login.failure",
    "login.locked",
    "logout",
    "session.end",
    "access.denied",
    "screening.view",
    "screening.list",
    "review.confirm",
    "review.override",
    "screening.reconfirm",
    "export.csv",
    "practitioner.create",
    "practitioner.deactivate",
    "api_token.create",
    "api_token.revoke",
    "screening.erase",
    "data.purge",
    "data.backup",
)


def screening_target(reference: str) -> str:
    """How audit rows name a screening."""
    return f"screening:{reference}"


def practitioner_target(email: str) -> str:
    """How audit rows name an account."""
    return f"practitioner:{normalise_email(email)}"


def audit(
    action: str,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    *,
    actor: str | None = None,
    practitioner_id: int | None = None,
    token: ApiTokenRecord | None = None,
) -> None:
    """Append an audit row for the signed-in practitioner (or the given actor or API token).

    Outside a request (the CLI) the actor defaults to "cli" and there is no
    client address. With ``token`` (an API read) the token is the actor, on
    behalf of its practitioner, and the details say so.
    """
    if token is not None:
        # The token's name tells which of the clinic's systems read; its id
        # survives a rename or a second token with the same name.
        actor = f"api-token:{token['name']}"
        practitioner_id = token["practitioner_id"]
        details = {"via": "api", "token_id": token["id"], **(details or {})}
    if has_request_context():
        client_address = request.remote_addr
        if practitioner_id is None and current_user.is_authenticated:
            practitioner_id = current_user.id
            actor = actor or current_user.email
    else:
        client_address = None
        actor = actor or "cli"
    record_audit(
        get_db(),
        action,
        actor=actor,
        practitioner_id=practitioner_id,
        target=target,
        client_address=client_address,
        details=details,
    )
