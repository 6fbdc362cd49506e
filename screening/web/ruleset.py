"""The rule set in force, for views and commands: loaded at start-up, replaced when the
file is edited (``web.reload``)."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, has_request_context

from ..core.model import RuleBook, RuleSet

# The app's (and a request's) rule set, clinic and consent texts, swapped together by web.reload.
IN_FORCE = "files_in_force"


def in_force(name: str, app: Flask | None = None) -> Any:
    """The loaded ``name`` ("ruleset", "clinic" or "consent"): a request's is the one in force
    when it began, so an edit that lands mid-request cannot mix two versions in it."""
    if app is None and has_request_context():
        pinned = g.get(IN_FORCE)
        if pinned is not None:
            return pinned[name]
    return (app or current_app).extensions[name]


def get_ruleset(app: Flask | None = None, procedure: str | None = None) -> RuleSet:
    """The rule set in force (of ``app``, or of the current app and request) of ``procedure``
    (the default procedure's when None); raise ``core.model.UnknownProcedure``."""
    if procedure is None:
        ruleset: RuleSet = in_force("ruleset", app)
        return ruleset
    return get_rulebook(app).get(procedure)


def get_rulebook(app: Flask | None = None) -> RuleBook:
    """Every procedure of the rule file in force (of ``app``, or of the current app and request)."""
    rulebook: RuleBook = in_force("rulebook", app)
    return rulebook
