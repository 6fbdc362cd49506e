"""The rule set the app loaded at start-up, for views and commands."""

from __future__ import annotations

from flask import Flask, current_app

from ..core.model import RuleSet


def get_ruleset(app: Flask | None = None) -> RuleSet:
    """The rule set loaded at start-up (of ``app``, or of the current app)."""
    ruleset: RuleSet = (app or current_app).extensions["ruleset"]
    return ruleset
