"""Who may reach what: one table, checked before every request.

``ACCESS`` names, for every endpoint of the workspace, the roles that may
reach it. An endpoint missing from the table is refused to everyone, so a
new page is closed until someone decides who needs it; a test walks the URL
map and checks every route against the table.

``SCOPE_ACCESS`` does the same for the API: an API token reaches what its
scopes name *and* its owner's role allows, at the time of each request
(``api.bearer``). The table lives in ``web`` so that both the workspace and
the API can read it; the CSV export's columns follow it too.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

ADMIN, PRACTITIONER, RECEPTION = "admin", "practitioner", "reception"
ROLES = (ADMIN, PRACTITIONER, RECEPTION)
ROLE_LABELS = {
    ADMIN: _l("Administrator: accounts, audit log, exports"),
    PRACTITIONER: _l("Practitioner: answers, decisions, re-confirmation"),
    RECEPTION: _l("Reception: queue, contact details and status"),
}

STAFF = frozenset(ROLES)
CLINICAL = frozenset({PRACTITIONER})
ADMINS = frozenset({ADMIN})

# Reachable without signing in.
PUBLIC_ENDPOINTS = frozenset(
    {"practitioner.login", "practitioner.login_code", "practitioner.set_password", "practitioner.static"}
)

ACCESS: Mapping[str, frozenset[str]] = {
    # Everyone on the staff: the queue with names and status, a patient's
    # contact details, the rules in words, their own account and sessions.
    "practitioner.queue": STAFF,
    "practitioner.contact": STAFF,
    "practitioner.rules": STAFF,
    "practitioner.logout": STAFF,
    "practitioner.sessions": STAFF,
    "practitioner.end_session": STAFF,
    "practitioner.password": STAFF,
    "practitioner.two_factor": STAFF,
    # Consent texts hold no patient data; the due list is reception's call list.
    "practitioner.consent_text": STAFF,
    "practitioner.due": STAFF,
    # Answers and decisions: practitioners only.
    "practitioner.detail": CLINICAL,
    "practitioner.review": CLINICAL,
    "practitioner.reconfirm": CLINICAL,
    "practitioner.answers": CLINICAL,
    "practitioner.chart_pdf": CLINICAL,
    "practitioner.link_patient": CLINICAL,
    "practitioner.unlink_patient": CLINICAL,
    "practitioner.confirm_patient_link": CLINICAL,
    "practitioner.start_course": CLINICAL,
    "practitioner.record_session": CLINICAL,
    "practitioner.record_patch_test": CLINICAL,
    "practitioner.record_patch_readout": CLINICAL,
    "practitioner.record_adverse_event": CLINICAL,
    # Colleagues' activity and bulk patient data: administrators only.
    "practitioner.audit_log": ADMINS,
    "practitioner.export_csv": ADMINS,
    # The sessions given with their settings: administrators (no clinical columns) and practitioners.
    "practitioner.export_sessions_csv": ADMINS | CLINICAL,
    "practitioner.accounts": ADMINS,
    "practitioner.invite": ADMINS,
    "practitioner.deactivate": ADMINS,
    "practitioner.reactivate": ADMINS,
    "practitioner.change_role": ADMINS,
    "practitioner.reset_password": ADMINS,
    # The clinic's systems and what the rules decide: administrators only.
    "practitioner.deliveries": ADMINS,
    "practitioner.resend_delivery": ADMINS,
    "practitioner.mailbox_message": ADMINS,
    "practitioner.candidate_rules": ADMINS,
    # A rule change: administrators propose, withdraw and restore; the clinicians read the
    # proposals, and a medical director (a flag on the account, checked in the view) other
    # than the proposer approves or rejects.
    "practitioner.propose_rules": ADMINS,
    "practitioner.withdraw_rules": ADMINS,
    "practitioner.restore_rules": ADMINS,
    "practitioner.rule_changes": ADMINS | CLINICAL,
    "practitioner.rule_change": ADMINS | CLINICAL,
    "practitioner.approve_rules": ADMINS | CLINICAL,
    "practitioner.reject_rules": ADMINS | CLINICAL,
    "practitioner.set_medical_director": ADMINS,
    # Adverse events with the answers and rules behind them, across patients.
    "practitioner.safety_report_page": ADMINS,
    # Reception tablets registered as kiosks: administrators only.
    "practitioner.devices": ADMINS,
    "practitioner.register_device": ADMINS,
    "practitioner.revoke_device": ADMINS,
}


def may_open(role: str | None, endpoint: str | None) -> bool:
    """Whether an account with ``role`` may open ``endpoint`` (unknown endpoints: nobody)."""
    return role is not None and endpoint is not None and role in ACCESS.get(endpoint, frozenset())


# What each API scope reads, and whose tokens may use it. Both carry a screening's
# answers, reasons and decision (the FHIR Bundle in its own shape), which only the
# roles that open the answer pages see. A scope missing here is refused to everyone.
SCOPE_ACCESS: Mapping[str, frozenset[str]] = {
    "screenings:read": CLINICAL,
    "fhir:read": CLINICAL,
}


def may_use_scope(role: str | None, scope: str) -> bool:
    """Whether a token of an account with ``role`` may use ``scope`` (unknown scopes: nobody)."""
    return role is not None and role in SCOPE_ACCESS.get(scope, frozenset())
