"""Contraindication screening for laser facial rejuvenation."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_compress import Compress

from . import api, cli, outbox, patient, practitioner
from .core.loader import load_rulebook
from .settings import ROOT, default_settings
from .web import clinic, consent, db, errors, health, i18n, limits, protocol, reload, security, sessions

__all__ = ["ROOT", "create_app"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the app (flaskr's application factory)."""
    app = Flask(__name__, instance_relative_config=True, template_folder=str(ROOT / "templates"))
    app.config.from_mapping(default_settings(app.instance_path))
    if test_config is None:
        app.config.from_prefixed_env("SCREENING")
    else:
        app.config.from_mapping(test_config)

    # Templates are indented for people; the pages need not carry that indentation.
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    os.makedirs(app.instance_path, exist_ok=True)
    # Every procedure of the rule file; "ruleset" is the default one (what most pages serve).
    app.extensions["rulebook"] = load_rulebook(app.config["RULES_FILE"])
    app.extensions["ruleset"] = app.extensions["rulebook"].get()
    clinic.init_app(app)  # refuses a broken clinic.yaml (ClinicFileError)
    consent.init_app(app)  # the consent texts in every language of the rule file
    protocol.init_app(app)  # refuses a broken devices.yaml (DevicesFileError), checked against the rules
    reload.init_app(app)  # the three re-read when edited on disk (the first request hook: pins them per request)

    # Patients are on phones: compress pages, styles and scripts (gzip, brotli or zstd).
    Compress(app)
    db.init_app(app)
    reload.load_approved_at_start(app)  # a rule file approved in the app wins over the disk file it replaced
    health.init_app(app)  # /healthz, /metrics (each request counted, timed from here), the version
    i18n.init_app(app)
    security.init_app(app)
    sessions.init_app(app)  # no signing and no Vary: Cookie for an API request without a session cookie
    errors.init_app(app)
    limits.init_app(app)
    patient.init_app(app)
    practitioner.init_app(app)  # sign-in (Flask-Login) and the /practitioner pages
    api.init_app(app)  # the JSON API and FHIR
    cli.init_app(app)
    outbox.init_app(app)  # e-mail and webhooks: send-mail, send-reminders, the background sender
    return app
