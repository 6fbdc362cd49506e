"""flaskr-style fixtures: an app on a fresh database, its client and CLI runner."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from screening import ROOT, create_app
from screening.core.loader import load_rules
from screening.core.model import RuleSet

RULES_FILE = ROOT / "rules.yaml"

# Every answer "no" (or its equivalent): the clearest possible patient.
CLEAR_ANSWERS: dict[str, object] = {
    "date_of_birth": "1990-05-31",
    "pregnant": "no",
    "breastfeeding": "no",
    "herpes_active": "no",
    "herpes_history": "no",
    "skin_inflammation": "no",
    "cancer": "none",
    "chronic_flare": "no",
    "isotretinoin": "never",
    "photosensitizing_meds": "no",
    "recent_tan": "no",
    "recent_injectables": "no",
    "recent_peel": "no",
    "keloids": "no",
    "anticoagulants": "no",
    "autoimmune": "no",
    "epilepsy": "no",
    "implants": "no",
    "changing_mole": "no",
    "skin_type": "III",
}
TODAY = dt.date(2026, 11, 24)


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    """The default rule set."""
    return load_rules(RULES_FILE)


TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-that-is-long-enough",
    "WTF_CSRF_ENABLED": False,
    "SESSION_COOKIE_SECURE": False,
    # Limits have their own tests; elsewhere they would trip over repeated posts.
    "RATELIMIT_ENABLED": False,
}


def build_app(folder: Path, **overrides: object) -> Flask:
    """The app for tests on a fresh database in ``folder``; ``overrides`` change the config."""
    return create_app({**TEST_CONFIG, "DATABASE": str(folder / "test.sqlite"), **overrides})


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The app on an empty database in a temporary folder."""
    yield build_app(tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A runner for the app's CLI commands."""
    return app.test_cli_runner()
