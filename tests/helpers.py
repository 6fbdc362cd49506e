"""Plain helpers and data shared by the test modules (fixtures live in conftest.py).

Test modules import from here, never from one another nor from conftest.py.
"""

from __future__ import annotations

import atexit
import datetime as dt
import email
import email.policy
import functools
import hashlib
import hmac
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import textwrap
import threading
import time
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlite_utils import Database
from werkzeug.test import TestResponse

from screening import ROOT, create_app, storage
from screening.core.clinic import load_clinic
from screening.core.engine import screen
from screening.core.loader import parse_rules
from screening.core.model import Rule, RuleFileError, RuleSet
from screening.core.placeholders import Period, period_words
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
    "lifelong_history": ["none"],
    "aspirin_or_supplements": "no",
    "topical_retinoids": "no",
}
TODAY = dt.date(2026, 11, 24)
# A session's device and settings (the session form's fields), within the shipped example protocol
# (devices.yaml) for laser rejuvenation and skin types I-III (CLEAR_ANSWERS: III).
SESSION_SETTINGS: dict[str, str] = {
    "device": "nd_yag/zoom",
    "wavelength_nm": "1064",
    "fluence_j_cm2": "12",
    "pulse_ms": "10",
    "spot_mm": "5",
    "passes": "2",
    "cooling": "contact",
    "endpoint": "Mild perifollicular erythema",
    "immediate_reaction": "Even redness, no blanching",
}

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
    database = overrides.pop("DATABASE", None) or fresh_database(folder)
    return create_app({**TEST_CONFIG, "DATABASE": database, "RATELIMIT_STORAGE_URI": limits, **overrides})


@functools.cache
def migrated_schema() -> Path:
    """An empty database migrated once in this test process, for ``fresh_database`` to copy."""
    folder = tempfile.mkdtemp(prefix="screening-schema-")
    atexit.register(shutil.rmtree, folder, True)
    template = Path(folder) / "schema.sqlite"
    db = storage.connect(str(template))
    storage.migrate(db)
    db.close()  # the last connection checkpoints the WAL into the file
    return template


def fresh_database(folder: Path) -> str:
    """An empty, migrated SQLite database in ``folder`` (kept if one is there already).

    A copy of ``migrated_schema``: running the migrations costs ~80 ms, a
    thousand tests over; the app still checks and applies any that are
    pending, so the schema is the one ``migrate`` makes.
    """
    path = folder / "test.sqlite"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(migrated_schema(), path)
        path.chmod(0o600)
    return str(path)


_CLEANERS: dict[str, storage.Database] = {}
atexit.register(lambda: [db.close() for db in _CLEANERS.values()])


# What a failover does to a database's other connections (their server processes end).
# Each backend waited for until it has gone (up to 30 s), so its client can already read
# the server's goodbye: the pool's check (``postgres.check_connection``) looks for just that.
END_OTHER_CONNECTIONS = (
    "SELECT pg_terminate_backend(pid, 30000) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def _cleaner(url: str) -> storage.Database:
    """The connection ``empty_postgres`` keeps for ``url``: a new one for each test would be a
    new server process whose first queries also fill its catalog caches (~7 ms)."""
    if url in _CLEANERS:
        try:
            _CLEANERS[url].execute("SELECT 1")
            return _CLEANERS[url]
        except sqlite3.OperationalError:  # a test ended the server processes of this database
            pass
    _CLEANERS[url] = storage.connect(url)
    return _CLEANERS[url]


def empty_postgres(url: str) -> None:
    """Empty every table of the PostgreSQL database at ``url`` (its schema stays), ids from 1 again."""
    db = _cleaner(url)
    # A test may have made the database read-only (a standby's behaviour): undo that first,
    # and end the connections opened meanwhile, which keep it (the apps' shared pool replaces them).
    read_only = db.query(
        "SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase"
        " WHERE d.datname = current_database() AND s.setrole = 0"
        " AND array_to_string(s.setconfig, ',') LIKE '%default_transaction_read_only%'"
    )
    if list(read_only):
        db.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        db.execute(f'ALTER DATABASE "{url.rpartition("/")[2]}" RESET default_transaction_read_only')
        db.execute(END_OTHER_CONNECTIONS)
    tables = [
        row["tablename"]
        for row in db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        if row["tablename"] != "_migrations"
    ]
    sequences = [row["relname"] for row in db.query("SELECT relname FROM pg_class WHERE relkind = 'S'")]
    # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE gives each of ~30
    # tables new files (~35 ms a test). As the replica role, no trigger fires: the
    # audit log's append-only guard, the counters and the foreign keys stay out of it.
    statements = [
        "SET session_replication_role = replica",
        *(f'DELETE FROM "{table}"' for table in tables),
        *(f"SELECT setval('\"{sequence}\"', 1, false)" for sequence in sequences),  # not ALTER SEQUENCE: DDL
        "SET session_replication_role = DEFAULT",
    ]
    db.execute("; ".join(statements))


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


def save_answers(
    db: Database,
    ruleset: RuleSet,
    *,
    name: str = "Anna Petrova",
    email: str | None = "anna@example.com",
    phone: str | None = "+7 912 345 67 89",
    day: dt.date | None = None,
    **changes: object,
) -> storage.SavedScreening:
    """Screen all-clear answers plus ``changes`` and store the verdict, as the form would."""
    verdict = screen(ruleset, {**CLEAR_ANSWERS, **changes}, day or dt.date.today())
    return storage.save_screening(
        db,
        verdict,
        storage.Patient(name=name, email=email, phone=phone),
        source="web",
        language="en",
        consent_version="2026-11",
        procedure=ruleset.procedure.id,
    )


def add_screening(
    app: Flask,
    name: str = "Anna Petrova",
    day: dt.date | None = None,
    *,
    email: str = "anna@example.com",
    phone: str = "+7 912 345 67 89",
    **changes: object,
) -> dict[str, Any]:
    """A stored screening (answers: all clear, plus ``changes``; contacts ``email`` and ``phone``), as stored."""
    with app.app_context():
        saved = save_answers(get_db(), get_ruleset(app), name=name, email=email, phone=phone, day=day, **changes)
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


def override_to_eligible(
    client: FlaskClient, reference: str, reason_code: str, comment: str, **form: str
) -> TestResponse:
    """POST an override of the screening's verdict to eligible (an empty ``reason_code`` sends none)."""
    reason = {"reason_code": reason_code} if reason_code else {}
    return decide(client, reference, status="eligible", comment=comment, **reason, **form)


def reconfirm(client: FlaskClient, reference: str, **form: str) -> TestResponse:
    """POST the day-of-session check on the screening as its page stands now, signed by
    add_screening's patient unless ``patient_signature`` says otherwise."""
    data = {"revision": revision_of(client, reference), "patient_signature": "Anna Petrova", **form}
    return client.post(f"/practitioner/screening/{reference}/reconfirm", data=data)


def assert_form_kept(html: str, name: str, birth_date: str) -> None:
    """The questionnaire came back with what was typed: the name, the date of birth, "no" to pregnancy."""
    assert f'value="{name}"' in html
    assert f'value="{birth_date}"' in html
    assert '<input checked id="pregnant-1" name="pregnant" type="radio" value="no">' in html


def page_text(response: TestResponse) -> str:
    """The page as a reader sees it: tags dropped, spaces collapsed."""
    text = re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))
    return re.sub(r"\s+", " ", text.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"'))


# --- The JSON API -----------------------------------------------------------------


@functools.cache
def shipped_zone() -> dt.tzinfo:
    """The shipped clinic.yaml's time zone (the app's clock in tests that use that file)."""
    return load_clinic(ROOT / "clinic.yaml", ("en", "ru")).zone


def today() -> dt.date:
    """The screening day: today in the shipped clinic's time zone, as the app counts it."""
    return dt.datetime.now(shipped_zone()).date()


def clinic_in_zone(folder: Path, zone: str) -> str:
    """A copy of the shipped clinic.yaml in ``folder`` naming the time zone ``zone``; its path."""
    text = (ROOT / "clinic.yaml").read_text(encoding="utf-8")
    assert text.count("\ntimezone: ") == 1, "the shipped clinic file names its zone once"
    path = folder / "clinic.yaml"
    path.write_text(re.sub(r"(?m)^timezone: .*$", f"timezone: {zone}", text), encoding="utf-8")
    return str(path)


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

# The question, and two rules, every small rule file of the tests has: pregnancy
# defers, an unsure answer needs review.
PREGNANT_QUESTION = """\
  - id: pregnant
    section: main
    type: choice
    text: Are you pregnant?
    options: [yes, no, unsure]
"""
PREGNANCY_RULE = """\
  - id: pregnancy
    when: {pregnant: yes}
    outcome: deferred
    patient: Come back later.
    practitioner: Pregnant.
    source: Clinic page
"""
UNSURE_RULE = """\
  - id: unsure_answer
    when: {any_answer: unsure}
    outcome: review
    patient: We will check.
    practitioner: Unsure answers.
    source: Policy
"""

# A small valid rule file (one language) that broken cases alter: one procedure, whose rules
# sit at the indentation of the shared questions (a list may start at its key's indentation).
MINIMAL = (
    """\
version: "1"
sections:
  - id: main
    title: Main
questions:
"""
    + PREGNANT_QUESTION
    + """\
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
procedures:
- id: laser
  name: Laser
  description: Light pulses.
  course: 4-6 sessions.
  rules:
"""
    + PREGNANCY_RULE
    + UNSURE_RULE
)


def problems_of(text: str) -> list[str]:
    """The problems the loader names in a rule file ``test.yaml`` of ``text`` (dedented), which it must refuse."""
    with pytest.raises(RuleFileError) as info:
        parse_rules(textwrap.dedent(text).encode(), "test.yaml")
    return info.value.problems


def assert_refused_at(text: str, old: str, new: str, message: str, line: int | None) -> None:
    """``text`` with ``old`` replaced by ``new`` is refused, ``message`` named at ``line`` (None: no line)."""
    assert old in text
    problems = problems_of(text.replace(old, new, 1))
    matching = [p for p in problems if message in p]
    assert matching, problems
    assert all(p.startswith("test.yaml:") for p in problems)
    if line is not None:
        assert matching[0].startswith(f"test.yaml:{line}: "), matching


# --- Outgoing mail and webhooks ---------------------------------------------------

WEBHOOK_SECRET = "webhook-test-secret"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Inbox:
    """An aiosmtpd handler keeping every message that arrives, parsed."""

    def __init__(self) -> None:
        self.port = 0
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message (aiosmtpd's hook)."""
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted"

    def clear(self) -> None:
        """Forget what arrived so far."""
        with self.lock:
            self.messages.clear()

    def to(self, address: str) -> list[EmailMessage]:
        """The messages addressed to ``address``."""
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]


def mail_text(message: EmailMessage) -> str:
    """The plain-text part of an e-mail."""
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def mail_html(message: EmailMessage) -> str:
    """The HTML part of an e-mail."""
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def first_link(text: str) -> str:
    """The first http(s) link in a text."""
    match = re.search(r"https?://\S+", text)
    assert match, text
    return match.group(0)


WEBHOOK_TOLERANCE = 300  # seconds: the README's receiver accepts a signature time this far from its clock


def check_webhook(
    headers: Any, body: bytes, secret: str, seen: set[str], now: float, tolerance: float = WEBHOOK_TOLERANCE
) -> str:
    """The README's receiver check: "ok" (and the id remembered), "bad_signature", "stale" or "replay"."""
    fields = dict(part.split("=", 1) for part in headers.get("X-Screening-Signature", "").split(",") if "=" in part)
    delivery = headers.get("X-Screening-Delivery", "")
    if not fields.get("t", "").isdigit() or not delivery:
        return "bad_signature"
    signed = f"{fields['t']}.{delivery}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields.get("v1", "")):
        return "bad_signature"
    if abs(now - int(fields["t"])) > tolerance:
        return "stale"
    if delivery in seen:
        return "replay"
    seen.add(delivery)
    return "ok"


class WebhookReceiver:
    """A real HTTP server on a fixed port that records every POST and checks it as the
    README's receiver does: a bad signature or a stale time gets 401, a delivery id it
    already accepted 409 (each request's ``verdict`` says which); otherwise it answers ``status``."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hooks/screening"
        self.status = 204
        self.secret = WEBHOOK_SECRET
        self.clock = time.time  # the receiver's clock: a test moves it to make a signature stale
        self.requests: list[dict[str, Any]] = []
        self.accepted: set[str] = set()  # delivery ids answered 2xx
        self.server: ThreadingHTTPServer | None = None
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    # Only a 2xx answer counts as accepted: a delivery answered 500 may come again.
                    seen = set(receiver.accepted)
                    verdict = check_webhook(self.headers, body, receiver.secret, seen, receiver.clock())
                    status = {"ok": receiver.status, "replay": 409}.get(verdict, 401)
                    if verdict == "ok" and 200 <= status < 300:
                        receiver.accepted = seen
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body, "verdict": verdict}
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.handler = Handler

    def start(self) -> None:
        """Listen (again) on the receiver's port."""
        if self.server is None:
            ThreadingHTTPServer.allow_reuse_address = True
            self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
            # A short poll: ``stop`` waits for the loop to notice (half a second by default).
            serve = functools.partial(self.server.serve_forever, poll_interval=0.05)
            threading.Thread(target=serve, daemon=True).start()

    def stop(self) -> None:
        """Stop listening: deliveries now meet a refused connection."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def clear(self) -> None:
        """Forget what arrived so far, and answer 204 again."""
        self.requests.clear()
        self.accepted.clear()
        self.clock = time.time
        self.status = 204


def outbox_config(mailbox: Inbox, webhooks: WebhookReceiver | None = None) -> dict[str, object]:
    """Settings that point the app's outbox at the test servers (no webhooks without a receiver)."""
    config: dict[str, object] = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": mailbox.port,
        "MAIL_DEFAULT_SENDER": "screening@example.com",
        "PUBLIC_URL": "http://clinic.example.com",
        "OUTBOX_RETRY_SECONDS": 0,
        "MAIL_TIMEOUT": 5,
    }
    if webhooks is not None:
        config.update(WEBHOOK_URL=webhooks.url, WEBHOOK_SECRET=WEBHOOK_SECRET)
    return config


def send_mail(app: Flask) -> str:
    """Run ``flask send-mail`` once; its output."""
    result = app.test_cli_runner().invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    return str(result.output)


def outbox_rows(app: Flask, channel: str | None = None) -> list[dict[str, Any]]:
    """The outbox, oldest first."""
    if channel is None:
        return query(app, "SELECT * FROM outbox ORDER BY id")
    return query(app, "SELECT * FROM outbox WHERE channel = ? ORDER BY id", [channel])


# --- Copies of the shipped rule file ---------------------------------------------------
# Found from the rule set's own data, so no test names an id of the shipped file.


def line_number(text: str, fragment: str) -> int:
    """The line (1-based) on which ``fragment`` first starts in ``text``."""
    return text[: text.index(fragment)].count("\n") + 1


def longest_weekly_deferral(ruleset: RuleSet) -> Rule:
    """The single-answer deferral with the longest wait in weeks from the screening day
    (in the shipped file: the recent tan, 8 weeks)."""
    candidates = [
        rule
        for rule in ruleset.rules
        if rule.outcome == "deferred"
        and rule.rescreen is not None
        and rule.rescreen.unit == "weeks"
        and rule.rescreen.after is None
        and len(rule.condition.tests) == 1
        and not rule.condition.any_of
    ]
    return max(candidates, key=lambda rule: rule.rescreen.amount if rule.rescreen else 0)


def deferral_to_review(text: str, rule: Rule, *, keep_waiting_period: bool = False) -> str:
    """``text`` with ``rule``'s outcome changed from deferred to review (and its
    waiting period dropped, unless kept: only a deferral may have one)."""
    lines = text.splitlines(keepends=True)
    # The rule's keys sit two columns right of its "- id:" (however deep its procedure nests it).
    keys = " " * (lines[rule.line - 1].index("-") + 2)
    end = rule.line
    while end < len(lines) and lines[end].startswith(keys):
        end += 1
    block = [
        line.replace("outcome: deferred", "outcome: review")
        for line in lines[rule.line - 1 : end]
        if keep_waiting_period or not line.startswith(keys + "rescreen:")
    ]
    text = "".join([*lines[: rule.line - 1], *block, *lines[end:]])
    if keep_waiting_period or rule.rescreen is None:
        return text
    return _period_spelled_out(text, rule, rule.line, rule.line + len(block) - 1)


def _period_spelled_out(text: str, rule: Rule, first: int, last: int) -> str:
    """``text`` with the placeholders naming ``rule``'s waiting period written out, as a clinic
    dropping that period would leave its texts (``{period}`` within lines first..last)."""
    assert rule.rescreen is not None
    period = Period(rule.rescreen.unit, rule.rescreen.amount)
    placeholder = re.compile(r"\{period(:[a-z0-9_]+)?(?:\|([a-z]+))?\}")
    language, result = "en", []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        key = re.match(r"^\s*(?:- )?(en|ru):", line)
        language = key.group(1) if key else language

        def spelled(match: re.Match[str], language: str = language, number: int = number) -> str:
            named = match.group(1)[1:] if match.group(1) else (rule.id if first <= number <= last else None)
            return period_words(period, language, match.group(2) or "acc") if named == rule.id else match.group(0)

        result.append(placeholder.sub(spelled, line))
    return "".join(result)


# --- The questionnaire as a patient sends it ------------------------------------------


# The patient's part of a questionnaire post, signed.
PATIENT_FORM = {
    "patient_name": "Anna Petrova",
    "email": "anna@example.com",
    "phone": "",
    "consent": "y",
    "signature": "Anna Petrova",
}


def questionnaire_form(name: str = "Anna Petrova", **changes: object) -> dict[str, object]:
    """A complete questionnaire post, signed with the patient's name; a change to None leaves that field out."""
    data = {**CLEAR_ANSWERS, "patient_name": name, "email": "anna@example.com", "consent": "y", "signature": name}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def pdf_text(data: bytes) -> str:
    """A PDF's text as pdftotext reads it in content order (``-raw``), each run of whitespace one space."""
    done = subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True)
    return " ".join(done.stdout.decode("utf-8").split())
