"""Plain helpers and data shared by the test modules (fixtures live in conftest.py).

Test modules import from here, never from one another nor from conftest.py.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from screening import ROOT, create_app, storage
from screening.core.engine import screen
from screening.practitioner.auth import hash_password
from screening.web.db import get_db
from screening.web.ruleset import get_ruleset

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
    "other_conditions": ["none"],
    "aspirin_or_supplements": "no",
    "topical_retinoids": "no",
}
TODAY = dt.date(2026, 11, 24)

# Cheap enough that each signed-in client costs milliseconds rather than two
# scrypt hashes; tests marked ``real_password_hash`` get the default (scrypt).
CHEAP_PASSWORD_HASH = "pbkdf2:sha256:1000"

TEST_CONFIG: dict[str, object] = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-that-is-long-enough",
    "WTF_CSRF_ENABLED": False,
    "SESSION_COOKIE_SECURE": False,
    # Limits have their own tests; elsewhere they would trip over repeated posts.
    "RATELIMIT_ENABLED": False,
    "PASSWORD_HASH_METHOD": CHEAP_PASSWORD_HASH,
    # Administrators sign in with a second factor in production; tests/test_two_factor.py
    # turns this on, elsewhere an admin fixture signs in with the password alone.
    "ADMINS_REQUIRE_2FA": False,
}


def build_app(folder: Path, **overrides: object) -> Flask:
    """The app for tests on a fresh database in ``folder``; ``overrides`` change the config."""
    limits = "sqlite:///" + str(folder / "ratelimits.sqlite")  # each test its own counts
    return create_app(
        {**TEST_CONFIG, "DATABASE": str(folder / "test.sqlite"), "RATELIMIT_STORAGE_URI": limits, **overrides}
    )


# --- The database behind the app ------------------------------------------------


def query(app: Flask, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """Rows straight from the app's database."""
    db = storage.connect(app.config["DATABASE"])
    try:
        return [dict(row) for row in db.query(sql, params)]
    finally:
        db.close()


def execute(app: Flask, sql: str, params: Any = ()) -> None:
    """Change the database behind the app's back (to age a screening, say)."""
    db = storage.connect(app.config["DATABASE"])
    try:
        db.execute(sql, params)
    finally:
        db.close()


def audit_rows(app: Flask, action: str | None = None) -> list[dict[str, Any]]:
    """Audit rows, oldest first."""
    if action is None:
        return query(app, "SELECT * FROM audit_log ORDER BY id")
    return query(app, "SELECT * FROM audit_log WHERE action = ? ORDER BY id", [action])


def add_screening(
    app: Flask, name: str = "Anna Petrova", day: dt.date | None = None, **changes: object
) -> dict[str, Any]:
    """A stored screening (answers: all clear, plus ``changes``), as stored."""
    with app.app_context():
        verdict = screen(get_ruleset(app), {**CLEAR_ANSWERS, **changes}, day or dt.date.today())
        saved = storage.save_screening(
            get_db(),
            verdict,
            storage.Patient(name=name, email="anna@example.com", phone="+7 912 345 67 89"),
            source="web",
            language="en",
            consent_version="2026-11",
        )
        screening = storage.get_screening_by_reference(get_db(), saved.reference)
    assert screening is not None
    return screening


def screening_row(app: Flask, reference: str) -> dict[str, Any]:
    """The stored screening with that reference (answers decoded)."""
    with app.app_context():
        row = storage.get_screening_by_reference(get_db(), reference)
    assert row is not None
    return row


# --- Practitioners ----------------------------------------------------------------

PASSWORD = "correct horse battery"
EMAIL = "ada@example.com"
NAME = "Dr Ada Lovelace"
ADMIN_EMAIL = "grace@example.com"
RECEPTION_EMAIL = "rita@example.com"


def create_account(
    app: Flask, email: str = EMAIL, name: str = NAME, password: str = PASSWORD, role: str = "practitioner"
) -> int:
    """An active account (a practitioner unless ``role`` says otherwise), straight into storage
    (hashed as the app's config says)."""
    with app.app_context():
        return storage.create_practitioner(get_db(), email, name, hash_password(password), role)


def sign_in(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD, **kwargs: Any) -> TestResponse:
    """POST the login form."""
    return client.post("/practitioner/login", data={"email": email, "password": password}, **kwargs)


def signed_in(app: Flask, email: str = EMAIL, name: str = NAME, role: str = "practitioner") -> FlaskClient:
    """A client signed in as a new account (a practitioner unless ``role`` says otherwise)."""
    create_account(app, email, name, role=role)
    client = app.test_client()
    assert sign_in(client, email).status_code == 303
    return client


def revision_of(client: FlaskClient, reference: str) -> str:
    """The revision the screening's page was rendered from (sent back with a decision)."""
    html = client.get(f"/practitioner/screening/{reference}").get_data(as_text=True)
    match = re.search(r'name="revision" type="hidden" value="([^"]+)"', html)
    assert match
    return match.group(1)


def decide(client: FlaskClient, reference: str, **form: str) -> TestResponse:
    """POST a review decision on the screening as its page stands now."""
    data = {"revision": revision_of(client, reference), **form}
    return client.post(f"/practitioner/screening/{reference}/review", data=data)


def reconfirm(client: FlaskClient, reference: str, **form: str) -> TestResponse:
    """POST the day-of-session check on the screening as its page stands now."""
    data = {"revision": revision_of(client, reference), **form}
    return client.post(f"/practitioner/screening/{reference}/reconfirm", data=data)


def page_text(response: TestResponse) -> str:
    """The page as a reader sees it: tags dropped, spaces collapsed."""
    text = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", text.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"'))


# --- The JSON API -----------------------------------------------------------------


def today() -> dt.date:
    """The screening day (the app counts in UTC)."""
    return dt.datetime.now(dt.UTC).date()


def months_ago(months: int) -> str:
    """An ISO date ``months`` calendar months before today (day capped at 28)."""
    day = today()
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, min(day.day, 28)).isoformat()


def body(answers: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A valid request body, with some parts replaced."""
    data: dict[str, Any] = {
        "answers": dict(CLEAR_ANSWERS if answers is None else answers),
        "patient": {"name": "Anna Example", "email": "anna@example.com"},
        "consent": True,
    }
    data.update(changes)
    return data


def make_token(app: Flask, email: str = "doc@example.com", name: str = "EHR sync") -> tuple[str, int]:
    """A practitioner with a live API token; returns (token, practitioner id)."""
    with app.app_context():
        db = get_db()
        practitioner = storage.get_practitioner_by_email(db, email)
        practitioner_id = (
            practitioner["id"] if practitioner else storage.create_practitioner(db, email, "Dr Example", "x")
        )
        return storage.create_api_token(db, practitioner_id, name), practitioner_id


def bearer(token: str) -> dict[str, str]:
    """The header that presents an API token."""
    return {"Authorization": f"Bearer {token}"}


# --- Rule files -------------------------------------------------------------------

# A small valid rule file (one language) that broken cases alter.
MINIMAL = """\
version: "1"
procedure:
  name: Laser
  description: Light pulses.
  course: 4-6 sessions.
sections:
  - id: main
    title: Main
questions:
  - id: pregnant
    section: main
    type: choice
    text: Are you pregnant?
    options: [yes, no, unsure]
  - id: stopped
    section: main
    type: choice
    text: Stopped?
    options: [never, stopped]
  - id: stopped_on
    section: main
    type: date
    text: When?
    show_if: {stopped: stopped}
rules:
  - id: pregnancy
    when: {pregnant: yes}
    outcome: deferred
    patient: Come back later.
    practitioner: Pregnant.
    source: Clinic page
  - id: unsure_answer
    when: {any_answer: unsure}
    outcome: review
    patient: We will check.
    practitioner: Unsure answers.
    source: Policy
"""
