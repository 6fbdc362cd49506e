"""Security controls, checked across the whole app: every route, every form, every log line."""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import storage
from screening.practitioner.auth import hash_password
from screening.web.security import ConfigError, check_production_config
from tests.helpers import CLEAR_ANSWERS, build_app

EMAIL, PASSWORD = "doctor@example.com", "correct horse battery"
ADMIN = "boss@example.com"  # the audit log and exports are an administrator's
HOSTILE_NAME = "<script>alert('x')</script> Robert'); DROP TABLE screenings;--"
HOSTILE_NOTE = '=HYPERLINK("http://evil.example","click") <img src=x onerror=alert(1)>'


def make_app(tmp_path: Path, csrf: bool) -> Flask:
    app = build_app(tmp_path, WTF_CSRF_ENABLED=csrf)
    with app.app_context():  # hashed with the app's (cheap) PASSWORD_HASH_METHOD
        password_hash = hash_password(PASSWORD)
    db = storage.connect(app.config["DATABASE"])
    storage.create_practitioner(db, EMAIL, "Dr Test", password_hash)
    storage.create_practitioner(db, ADMIN, "Boss", password_hash, "admin")
    db.close()
    return app


def csrf_token(client: FlaskClient, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def log_in(client: FlaskClient, email: str = EMAIL) -> None:
    token = csrf_token(client, "/practitioner/login")
    response = client.post("/practitioner/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303


def submit_screening(client: FlaskClient, **changes: str) -> str:
    """Post the questionnaire as a patient; return the result path."""
    token = csrf_token(client, "/screening")
    data = {
        **CLEAR_ANSWERS,
        "patient_name": "Zebediah Quux",
        "email": "zeb@example.com",
        "consent": "y",
        "csrf_token": token,
        **changes,
    }
    data.setdefault("signature", data["patient_name"])
    response = client.post("/screening", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def reference_of(app: Flask) -> str:
    conn = sqlite3.connect(app.config["DATABASE"])
    try:
        return conn.execute("SELECT reference FROM screenings ORDER BY id DESC LIMIT 1").fetchone()[0]
    finally:
        conn.close()


def fill(rule: str, reference: str, token: str = "x") -> str:
    """A concrete URL for a URL rule: the test screening's reference (and result token), "1" for ids, "x" elsewhere."""
    values = {"reference": reference, "token": token}
    return re.sub(
        r"<(?:[^:>]+:)?([^>]+)>",
        lambda m: values.get(m.group(1), "1" if m.group(1).endswith("_id") else "x"),
        rule,
    )


def rules_of(app: Flask, prefix: str, method: str) -> Iterator[str]:
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix) and method in (rule.methods or ()):
            yield rule.rule


@pytest.fixture
def secure_app(tmp_path: Path) -> Flask:
    return make_app(tmp_path, csrf=True)


def test_every_post_form_refuses_a_missing_csrf_token(secure_app: Flask) -> None:
    client = secure_app.test_client()
    token = submit_screening(client).rsplit("/", 1)[1]
    reference = reference_of(secure_app)
    log_in(client)
    admin = secure_app.test_client()
    log_in(admin, ADMIN)
    # A set-password link that does not exist is refused (410), a record link that does not exist
    # is 404 (tests/test_patient_link.py posts a real one without its token: 400), and the code step
    # without a password first sends back to the login (303), before any of these forms is read.
    # The pre-session check's and the check-in's links likewise (tests/test_session_checks.py).
    skipped = (
        "/api/",
        "/practitioner/set-password/",
        "/practitioner/login/code",
        "/record-link/",
        "/check/",
        "/check-in/",
    )
    posts = [r for r in rules_of(secure_app, "/", "POST") if not r.startswith(skipped)]
    assert len(posts) >= 6  # questionnaire, login, logout, review, re-confirm, answers, rules try-it
    # Signing in is tried anonymously; signing out last, so the session lasts the loop.
    posts.sort(key=lambda rule: rule.endswith("/logout"))
    before = sqlite3.connect(secure_app.config["DATABASE"]).execute("SELECT count(*) FROM reviews").fetchone()[0]
    anonymous = secure_app.test_client()
    for rule in posts:
        caller = (
            anonymous
            if rule.endswith("/login")
            else admin
            if rule.startswith(
                (
                    "/practitioner/accounts",
                    "/practitioner/webhooks",
                    "/practitioner/rules/candidate",
                    "/practitioner/rules/changes",
                    "/practitioner/devices",
                )
            )
            else client
        )
        response = caller.post(fill(rule, reference, token), data={"status": "eligible", "unchanged": "y"})
        assert response.status_code == 400, rule
        html = response.get_data(as_text=True)
        assert "<html" in html and "Traceback" not in html, rule
    assert client.get("/practitioner/").status_code == 200  # the refused logout left the session alone
    after = sqlite3.connect(secure_app.config["DATABASE"]).execute("SELECT count(*) FROM reviews").fetchone()[0]
    assert after == before


def test_every_practitioner_page_sends_anonymous_visitors_to_login(secure_app: Flask) -> None:
    client = secure_app.test_client()
    # The login, a link's own page, and the code step (which without a password first sends you to the login).
    public = ("/practitioner/login", "/practitioner/set-password/<token>", "/practitioner/login/code")
    pages = [r for r in rules_of(secure_app, "/practitioner", "GET") if r not in public]
    assert len(pages) >= 5
    for rule in pages:
        response = client.get(fill(rule, "ACDEFGHJ"))
        assert response.status_code == 302, rule
        assert response.headers["Location"].startswith("/practitioner/login"), rule


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer wrong-token", "Basic dXNlcjpwYXNz", "bearer  "])
def test_every_bearer_route_refuses_callers_without_a_valid_token(secure_app: Flask, header: str | None) -> None:
    client = secure_app.test_client()
    protected = [r for r in rules_of(secure_app, "/api/v1/screenings", "GET")]
    assert len(protected) == 4  # the list, one screening, its FHIR Bundle, its patient record
    for rule in protected:
        response = client.get(fill(rule, "ACDEFGHJ"), headers={"Authorization": header} if header else {})
        assert response.status_code == 401, rule
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.is_json


def test_result_tokens_cannot_be_derived_from_references(secure_app: Flask) -> None:
    client = secure_app.test_client()
    paths = [submit_screening(client) for _ in range(3)]
    conn = sqlite3.connect(secure_app.config["DATABASE"])
    references = [r for (r,) in conn.execute("SELECT reference FROM screenings")]
    conn.close()
    tokens = [p.rsplit("/", 1)[1] for p in paths]
    assert len(set(tokens)) == 3 and all(len(t) >= 43 for t in tokens)
    for reference in references:
        assert all(reference not in t for t in tokens)
        for guess in (reference, reference.lower(), storage.hash_token(reference)):
            assert client.get(f"/result/{guess}").status_code == 404


def test_password_hashes_never_appear_in_any_response(secure_app: Flask) -> None:
    client = secure_app.test_client()
    submit_screening(client)
    reference = reference_of(secure_app)
    log_in(client)
    conn = sqlite3.connect(secure_app.config["DATABASE"])
    (password_hash,) = conn.execute("SELECT password_hash FROM practitioners").fetchone()
    conn.close()
    for rule in rules_of(secure_app, "/", "GET"):
        if "<" in rule and "reference" not in rule:
            continue
        body = client.get(fill(rule, reference)).get_data()  # bytes: the PDFs are binary
        assert password_hash.encode() not in body and b"scrypt:" not in body, rule


def test_hostile_content_is_stored_as_typed_and_shown_escaped(secure_app: Flask) -> None:
    client = secure_app.test_client()
    submit_screening(client, patient_name=HOSTILE_NAME)
    reference = reference_of(secure_app)
    conn = sqlite3.connect(secure_app.config["DATABASE"])
    assert conn.execute("SELECT patient_name FROM screenings").fetchone()[0] == HOSTILE_NAME
    conn.close()
    log_in(client)
    for url in ["/practitioner/", f"/practitioner/screening/{reference}", f"/practitioner/?q={reference}"]:
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html, url
        assert "&lt;script&gt;alert(" in html, url
    detail = client.get(f"/practitioner/screening/{reference}").get_data(as_text=True)
    revision = re.search(r'name="revision" type="hidden" value="([^"]+)"', detail).group(1)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', detail).group(1)
    response = client.post(
        f"/practitioner/screening/{reference}/review",
        data={
            "status": "eligible",
            "reason_code": "other",
            "notes": HOSTILE_NOTE,
            "revision": revision,
            "csrf_token": token,
        },
    )
    assert response.status_code == 303
    html = client.get(f"/practitioner/screening/{reference}").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    admin = secure_app.test_client()
    log_in(admin, ADMIN)
    csv = admin.get("/practitioner/export.csv").get_data(as_text=True)
    assert HOSTILE_NAME in csv  # a CSV holds text, stored as typed


def test_formula_in_a_name_is_neutralised_in_csv(secure_app: Flask) -> None:
    client = secure_app.test_client()
    submit_screening(client, patient_name="=cmd|' /C calc'!A0")
    log_in(client, ADMIN)
    csv = client.get("/practitioner/export.csv").get_data(as_text=True)
    assert ",'=cmd|' /C calc'!A0," in csv
    assert ",=cmd" not in csv


def test_logs_hold_no_names_answers_or_result_tokens(secure_app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = secure_app.test_client()
    path = submit_screening(client, pregnant="yes")
    client.get(path)
    reference = reference_of(secure_app)
    log_in(client)
    client.get(f"/practitioner/screening/{reference}")
    client.post("/api/v1/screenings", json={"answers": {"pregnant": "maybe"}, "patient": {"name": "Zebediah Quux"}})
    client.get("/result/" + "x" * 43)
    text = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    for secret in ("Zebediah", "zeb@example.com", path.rsplit("/", 1)[1], "1990-05-31"):
        assert secret not in text


def test_result_token_is_redacted_from_access_log_lines() -> None:
    from screening.web.security import RedactResultTokens

    record = logging.LogRecord(
        "werkzeug", logging.INFO, "", 0, '"GET /result/%s HTTP/1.1" 200 -', ("abc-DEF_123",), None
    )
    RedactResultTokens().filter(record)
    assert record.getMessage() == '"GET /result/<redacted> HTTP/1.1" 200 -'


@pytest.mark.parametrize("key", [None, "", "dev", "short"])
def test_served_app_refuses_a_weak_secret_key(tmp_path: Path, key: str | None) -> None:
    app = Flask("probe")
    app.config.update(SECRET_KEY=key, TESTING=False, DEBUG=False)
    with pytest.raises(ConfigError, match="SCREENING_SECRET_KEY"):
        check_production_config(app)


def test_a_strong_secret_key_is_accepted() -> None:
    app = Flask("probe")
    app.config.update(SECRET_KEY="x" * 64, TESTING=False)
    check_production_config(app)


def test_session_cookie_flags(secure_app: Flask) -> None:
    secure_app.config["SESSION_COOKIE_SECURE"] = True
    client = secure_app.test_client()
    response = client.get("/practitioner/login")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_oversized_body_is_refused_clearly(secure_app: Flask) -> None:
    client = secure_app.test_client()
    response = client.post("/screening", data={"patient_name": "x" * 200_000})
    assert response.status_code == 413
    assert "Too much data" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/practitioner/?q=%22",
        "/practitioner/?q=%22%22",
        "/practitioner/?q=ab%00cd",
        "/practitioner/export.csv?q=%22",
        "/practitioner/?until=9999-12-31",
        "/practitioner/?since=0001-01-01",
        "/practitioner/audit?until=9999-12-31",
        "/practitioner/export.csv?until=9999-12-31",
        "/practitioner/?after=" + "MjAyNi0xMS0yNFQxMDowMDowMHwxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA",
        "/practitioner/audit?after=" + "MjAyNi0xMS0yNFQxMDowMDowMHwxMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA",
    ],
)
def test_odd_practitioner_queries_never_crash(secure_app: Flask, url: str) -> None:
    client = secure_app.test_client()
    log_in(client, ADMIN)
    response = client.get(url)
    assert response.status_code in (200, 400), url
    if url.startswith("/practitioner/export.csv") and response.status_code == 200:
        assert response.get_data(as_text=True).count("\n") == 1  # the header row, nothing matched


def test_rules_try_it_with_a_far_future_day_is_a_field_error(secure_app: Flask) -> None:
    client = secure_app.test_client()
    log_in(client)
    secure_app.config["WTF_CSRF_ENABLED"] = False  # the try-it form posted bare
    data = {
        **CLEAR_ANSWERS,
        "isotretinoin": "stopped",
        "isotretinoin_stopped_on": "9999-12-30",
        "screening_day": "9999-12-31",
    }
    response = client.post("/practitioner/rules", data=data)
    assert response.status_code == 400
    assert "Enter a date between 1900 and 2999." in response.get_data(as_text=True)


# Each a query string a client could send: none may crash the list.
ODD_API_LIST_QUERIES = (
    "since=0001-01-01T00:00:00%2B01:00",
    "since=9999-12-31T23:00:00-05:00",
    "cursor=WyIyMDI2IiwgMTAwMDAwMDAwMDAwMDAwMDAwMDAwXQ",
)


@pytest.mark.parametrize("query", ODD_API_LIST_QUERIES)
def test_odd_api_list_queries_are_400(secure_app: Flask, query: str) -> None:
    db = storage.connect(secure_app.config["DATABASE"])
    practitioner = storage.get_practitioner_by_email(db, EMAIL)
    token = storage.create_api_token(db, practitioner["id"], "test")
    db.close()
    response = secure_app.test_client().get(f"/api/v1/screenings?{query}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.is_json
