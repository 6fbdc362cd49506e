"""The practitioners' workspace: sign-in, queue, detail and review, rules,
audit log and export, all on one blueprint (``practitioner.<view>``)."""

from __future__ import annotations

from flask import Flask

# Importing the page modules adds their routes to the blueprint, so each one
# must be imported here, before the blueprint is first registered.
from . import (  # noqa: F401
    accounts,
    adverse_events,
    audit_log,
    auth,
    contact,
    course,
    deliveries,
    detail,
    devices,
    documents,
    export,
    findings,
    password,
    patch_test,
    patients,
    queue,
    rule_changes,
    rules_page,
    safety_report,
    session_export,
    sessions_page,
    signin,
    two_factor,
    words,
)
from .blueprint import bp

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    """Sign-in (Flask-Login) and the workspace's pages."""
    auth.init_app(app)
    app.register_blueprint(bp)
