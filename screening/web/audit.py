"""Recording the audit trail from a request: who, from where, did what to what.

Rows name screenings by their reference code and carry small details such
as a status or a reason code; never patient answers, names or contacts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import has_request_context, request
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..core.people import normalise_email
from ..storage import ApiTokenRecord, record_audit
from .db import get_db

# Every action the app records, in words, for the audit page (and its filter).
ACTION_LABELS: Mapping[str, LazyString] = {
    "login.success": _l("Signed in"),
    "login.failure": _l("Sign-in refused"),
    "login.password_ok": _l("Password accepted; waiting for the second factor"),
    "two_factor.enable": _l("Set up two-factor sign-in"),
    "login.locked": _l("Sign-ins paused after repeated failures"),
    "logout": _l("Signed out"),
    "session.end": _l("Ended a session"),
    "access.denied": _l("Refused access"),
    "screening.view": _l("Viewed a screening"),
    "screening.list": _l("Viewed a list of screenings"),
    "review.confirm": _l("Confirmed a verdict"),
    "review.override": _l("Overrode a verdict"),
    "review.reopen": _l("Reopened a decision recorded as “review” (migration m037)"),
    "screening.reconfirm": _l("Re-confirmed answers on the day"),
    "export.csv": _l("Exported screenings as CSV"),
    "export.sessions_csv": _l("Exported course sessions as CSV"),
    "practitioner.create": _l("Created an account"),
    "practitioner.deactivate": _l("Deactivated an account"),
    "practitioner.reactivate": _l("Reactivated an account"),
    "practitioner.role": _l("Changed an account's role"),
    "practitioner.reset": _l("Reset an account's password"),
    "password.change": _l("Changed their password"),
    "password.set": _l("Set a password through a link"),
    "api_token.create": _l("Issued an API token"),
    "api_token.revoke": _l("Revoked an API token"),
    "screening.erase": _l("Erased a screening"),
    "data.purge": _l("Purged old screenings"),
    "data.backup": _l("Backed up the database"),
    "data.restore": _l("Restored the database from a backup"),
    "data.copy": _l("Copied the database to another database"),
    "document.patient_pdf": _l("Downloaded a patient's PDF"),
    "document.chart_pdf": _l("Downloaded a chart PDF"),
    "webhook.resend": _l("Re-sent a webhook"),
    "mail.view": _l("Read a message in the local mailbox"),
    "patient.link": _l("Linked a screening to a patient record"),
    "patient.unlink": _l("Unlinked a screening from a patient record"),
    "patient.confirm": _l("Confirmed a screening's link to a patient record"),
    "course.start": _l("Started a course"),
    "course.session": _l("Recorded a session"),
    "course.session_override": _l("Recorded a session outside the protocol"),
    "course.due": _l("Viewed the sessions due"),
    "patch.record": _l("Recorded a test patch"),
    "patch.readout": _l("Recorded a test patch read-out"),
    "check.pre_session": _l("Answered the check before a session"),
    "check.check_in": _l("Answered the check-in after a session"),
    "course.adverse_event": _l("Recorded an adverse event"),
    "safety.report": _l("Viewed the safety report"),
    "rules.replay": _l("Replayed screenings under candidate rules"),
    "rules.propose": _l("Proposed a rule file"),
    "rules.approve": _l("Approved a rule file: in force on every server"),
    "rules.reject": _l("Rejected a proposed rule file"),
    "rules.withdraw": _l("Withdrew a proposed rule file"),
    "rules.restore": _l("Proposed to restore an earlier rule file"),
    "rules.refused": _l("Refused a decision on a rule file (not a medical director, or their own proposal)"),
    "practitioner.medical_director": _l("Changed whether an account is a medical director"),
    "device.register": _l("Registered a reception tablet as a kiosk"),
    "device.revoke": _l("Revoked a reception tablet"),
}
ACTIONS = tuple(ACTION_LABELS)


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
