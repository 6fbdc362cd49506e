"""Contraindication screening for laser facial rejuvenation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from flask_compress import Compress

from .rules import RuleSet, load_rules

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure the app (flaskr's application factory)."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    app.config.from_mapping(
        # Only for development and tests; production sets SCREENING_SECRET_KEY.
        SECRET_KEY="dev",  # noqa: S106
        DATABASE=os.path.join(app.instance_path, "screening.sqlite"),
        RULES_FILE=str(ROOT / "rules.yaml"),
        # FULL: every acknowledged screening survives a power cut (see storage.connect).
        SQLITE_SYNCHRONOUS="FULL",
        # The screening day (ages, re-screen dates) is the clinic's calendar day.
        TIMEZONE="UTC",
        CONSENT_VERSION="2026-11",
        VALID_DAYS=30,
        # How many reverse proxies sit in front of the app (0: none; see README "Production").
        PROXY_COUNT=0,
        MAX_CONTENT_LENGTH=64 * 1024,
        # A patient may take their time over the questionnaire: the CSRF token
        # lives as long as the session rather than one hour.
        WTF_CSRF_TIME_LIMIT=None,
        SESSION_COOKIE_HTTPONLY=True,
        # Seconds without a request after which a practitioner is signed out.
        IDLE_TIMEOUT=30 * 60,
        SESSION_COOKIE_SAMESITE="Lax",
        # Cookies only over HTTPS; `make run` (plain HTTP on 127.0.0.1) turns this off.
        SESSION_COOKIE_SECURE=True,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
    )
    if test_config is None:
        app.config.from_prefixed_env("SCREENING")
    else:
        app.config.from_mapping(test_config)

    # Templates are indented for people; the pages need not carry that indentation.
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    os.makedirs(app.instance_path, exist_ok=True)
    app.extensions["ruleset"] = load_rules(app.config["RULES_FILE"])

    # Imported here: they need the package's names, and the app is built only on request.
    from . import api, cli, db, errors, fhir, i18n, limits, patient, practitioner, security

    # Patients are on phones: compress pages, styles and scripts (gzip, brotli or zstd).
    Compress(app)
    db.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    limits.init_app(app)
    app.register_blueprint(patient.bp)
    practitioner.init_app(app)  # sign-in (Flask-Login) and the /practitioner pages
    app.register_blueprint(api.bp)
    app.register_blueprint(fhir.bp)
    cli.init_app(app)
    return app


def get_ruleset(app: Flask) -> RuleSet:
    """The rule set loaded at start-up."""
    ruleset: RuleSet = app.extensions["ruleset"]
    return ruleset
