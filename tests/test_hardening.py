"""The small hardening items: no 500 from odd input, clean logs, the password
policy, trusted hosts and the public URL, expiring result links, names and
comments that hide nothing, Idempotency-Key, token scopes and expiry, and
patient texts only for anonymous callers."""

from __future__ import annotations

import base64
import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import (
    CLEAR_ANSWERS,
    add_screening,
    bearer,
    body,
    build_app,
    decide,
    execute,
    make_token,
    page_text,
    query,
)


def test_a_next_with_cr_lf_on_sign_in_is_refused_and_signs_nobody_in(app: Flask, client: FlaskClient) -> None:
    from tests.helpers import PASSWORD, create_account

    create_account(app)
    response = client.post(
        "/practitioner/login?next=/practitioner/%0d%0aSet-Cookie:%20x=1",
        data={"email": "ada@example.com", "password": PASSWORD},
    )
    assert response.status_code == 400 and "Set-Cookie: x" not in str(response.headers)
    assert client.get("/practitioner/").status_code == 302  # still signed out: back to the login page


def test_a_next_with_cr_lf_on_the_language_switch_is_refused(client: FlaskClient) -> None:
    response = client.get("/language/ru?next=/%0d%0aSet-Cookie:%20x=1")
    assert response.status_code == 400 and "x=1" not in response.headers.get("Set-Cookie", "")


def test_a_cursor_holding_a_lone_surrogate_is_a_field_error(app: Flask, client: FlaskClient) -> None:
    token, _ = make_token(app)
    cursor = base64.urlsafe_b64encode(b'["2026-11-24T10:00:00\\ud800",1]').decode().rstrip("=")
    response = client.get(f"/api/v1/screenings?cursor={cursor}", headers=bearer(token))
    assert response.status_code == 400 and "cursor" in response.get_json()["errors"]


def test_control_characters_in_a_logged_path_are_escaped() -> None:
    from screening.web.security import RedactResultTokens

    record = logging.LogRecord("gunicorn.access", logging.INFO, "", 0, '"GET %s" 404', ("/x\n127.0.0.1 fake",), None)
    RedactResultTokens().filter(record)
    assert record.getMessage() == '"GET /x\\x0a127.0.0.1 fake" 404'


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("a" * 12, "one character repeated"),
        (" " * 12, "one character repeated"),
        ("short pass", "at least 12 characters"),
        ("Password1234", "well-known passwords"),
        ("correct horse battery staple", "well-known passwords"),
        ("nina.nurse@example.com", "must not be the e-mail address"),
    ],
)
def test_the_password_policy(app: Flask, password: str, message: str) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-practitioner", "nina.nurse@example.com", "--name", "Nina", "--password-stdin"],
        input=password + "\n",
    )
    assert result.exit_code == 2 and message in result.output
    assert query(app, "SELECT * FROM practitioners") == []


@pytest.mark.parametrize("name", ["Nina\x00Nurse", "Nina \u202eesruN"])
def test_cli_names_with_hidden_characters_are_refused(app: Flask, name: str) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-practitioner", "nina@example.com", "--name", name, "--password-stdin"],
        input="a long enough passphrase\n",
    )
    assert result.exit_code == 2 and "control characters" in result.output


def test_an_untrusted_host_is_refused(tmp_path: Path) -> None:
    app = build_app(tmp_path, TRUSTED_HOSTS=["clinic.example"])
    client = app.test_client()
    assert client.get("/", headers={"Host": "clinic.example"}).status_code == 200
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


def test_links_use_the_public_url_not_the_host_header(tmp_path: Path) -> None:
    app = build_app(tmp_path, PUBLIC_URL="https://clinic.example/")
    client = app.test_client()
    response = client.post("/api/v1/screenings", json=body(), headers={"Host": "evil.example"})
    data = response.get_json()
    assert data["result_url"].startswith("https://clinic.example/result/")
    assert response.headers["Location"].startswith("https://clinic.example/api/v1/screenings/")
    token, _ = make_token(app)
    fhir = client.get(f"/api/v1/screenings/{data['reference']}/fhir", headers={**bearer(token), "Host": "evil.example"})
    assert "evil.example" not in fhir.get_data(as_text=True) and "https://clinic.example/fhir/" in fhir.get_data(
        as_text=True
    )


def test_a_result_link_expires(app: Flask, client: FlaskClient) -> None:
    sent = client.post("/api/v1/screenings", json=body()).get_json()
    path = sent["result_url"].removeprefix("http://localhost")
    assert client.get(path).status_code == 200
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(days=91)).isoformat()
    execute(app, "UPDATE screenings SET created_at = ?", [old])
    response = client.get(path)
    assert response.status_code == 410
    text = page_text(response)
    assert "This result link has expired" in text and sent["reference"] in text and "Anna" not in text


@pytest.mark.parametrize("name", ["Anna\x00Example", "Anna \u202eelpmaxE"])
def test_names_with_hidden_characters_are_refused(client: FlaskClient, name: str) -> None:
    api = client.post("/api/v1/screenings", json=body(patient={"name": name, "email": "anna@example.com"}))
    assert api.status_code == 400 and "patient.name" in api.get_json()["errors"]
    form = client.post(
        "/screening", data={**CLEAR_ANSWERS, "patient_name": name, "email": "a@example.com", "consent": "y"}
    )
    assert form.status_code == 400
    assert "Please use only letters, digits, spaces and punctuation." in page_text(form)
    assert 'value="a@example.com"' in form.get_data(as_text=True)  # the other answers are kept


@pytest.mark.parametrize("comment", ["\u200b", " \u2060 ", "\t\n"])
def test_an_invisible_comment_does_not_count(app: Flask, doctor: FlaskClient, comment: str) -> None:
    # A deferral overridden to eligible: the comment is required, and one that shows nothing is none.
    reference = add_screening(app, recent_tan="yes")["reference"]
    response = decide(doctor, reference, status="eligible", reason_code="physician_clearance", comment=comment)
    assert response.status_code == 400
    assert "Explain in a comment why you decide otherwise than the rules." in page_text(response)
    assert query(app, "SELECT * FROM reviews") == []


# --- Idempotency-Key ---------------------------------------------------------------


def submit(client: FlaskClient, key: str | None, **changes: Any) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/api/v1/screenings", json=body(**changes), headers=headers)


def test_a_repeated_key_returns_the_first_response(app: Flask, client: FlaskClient) -> None:
    first = submit(client, "3f1c-retry-1", answers={**CLEAR_ANSWERS, "keloids": "unsure"})
    again = submit(client, "3f1c-retry-1", answers={**CLEAR_ANSWERS, "keloids": "unsure"})
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 1}]
    # The repeated answer's link works, and the database holds no link.
    path = again.get_json()["result_url"].removeprefix("http://localhost")
    assert client.get(path).status_code == 200
    assert path.rsplit("/", 1)[1] not in str(query(app, "SELECT * FROM api_idempotency"))


def test_a_key_reused_for_another_body_is_refused(app: Flask, client: FlaskClient) -> None:
    assert submit(client, "k-1").status_code == 201
    response = submit(client, "k-1", patient={"name": "Someone Else", "email": "else@example.com"})
    assert response.status_code == 422 and "Idempotency-Key" in response.get_json()["errors"]
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 1}]


def test_without_a_key_each_post_is_a_screening(app: Flask, client: FlaskClient) -> None:
    assert submit(client, None).status_code == submit(client, None).status_code == 201
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 2}]


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "ключ"])
def test_a_malformed_key_is_a_field_error(client: FlaskClient, key: str) -> None:
    response = client.post(
        "/api/v1/screenings", json=body(), headers=[("Idempotency-Key", key.encode("utf-8").decode("latin-1"))]
    )
    assert response.status_code == 400 and "Idempotency-Key" in response.get_json()["errors"]


def test_erase_forgets_the_key(app: Flask, client: FlaskClient) -> None:
    reference = submit(client, "k-erase").get_json()["reference"]
    assert app.test_cli_runner().invoke(args=["erase", reference]).exit_code == 0
    assert query(app, "SELECT * FROM api_idempotency") == []


# --- Token scopes and expiry; what the anonymous caller reads --------------------------


def test_a_token_reads_only_its_scope(app: Flask, client: FlaskClient) -> None:
    reference = add_screening(app)["reference"]
    runner = app.test_cli_runner()
    execute(
        app,
        "INSERT INTO practitioners (email, name, password_hash, active, created_at, failed_logins) "
        "VALUES ('doc@example.com', 'Dr', 'x', 1, '2026-01-01', 0)",
    )
    made = runner.invoke(args=["create-api-token", "doc@example.com", "--name", "FHIR only", "--scope", "fhir:read"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[0]
    assert client.get(f"/api/v1/screenings/{reference}/fhir", headers=bearer(token)).status_code == 200
    refused = client.get(f"/api/v1/screenings/{reference}", headers=bearer(token))
    assert refused.status_code == 403 and 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]


def test_an_expired_token_is_refused(app: Flask, client: FlaskClient) -> None:
    token, _ = make_token(app)
    assert client.get("/api/v1/screenings", headers=bearer(token)).status_code == 200
    execute(
        app, "UPDATE api_tokens SET expires_at = ?", [(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)).isoformat()]
    )
    assert client.get("/api/v1/screenings", headers=bearer(token)).status_code == 401


def test_cli_sets_an_expiry(app: Flask) -> None:
    make_token(app, name="first")
    result = app.test_cli_runner().invoke(
        args=["create-api-token", "doc@example.com", "--name", "Booking", "--expires-days", "30"]
    )
    assert result.exit_code == 0, result.output
    (row,) = query(app, "SELECT expires_at, scopes FROM api_tokens WHERE name = 'Booking'")
    days = (dt.datetime.fromisoformat(row["expires_at"]) - dt.datetime.now(dt.UTC)).days
    assert days == 29 and row["scopes"] == "screenings:read fhir:read"


def test_the_public_post_carries_patient_texts_only(app: Flask, client: FlaskClient) -> None:
    data = client.post("/api/v1/screenings", json=body(answers={**CLEAR_ANSWERS, "pregnant": "yes"})).get_json()
    assert data["reasons"] and all(
        set(r) == {"rule", "outcome", "questions", "patient", "rescreen_after"} for r in data["reasons"]
    )
    (stored,) = query(app, "SELECT reasons FROM screenings")
    practitioner_text = __import__("json").loads(stored["reasons"])[0]["practitioner"]["en"]
    assert practitioner_text not in str(data)
