"""Links that must not leak (issue 30): every route a result token reaches expires with the
result page and audits the patient's view; Idempotency-Key answers only the client that
created a screening; links never take a forged Host header, and the app will not serve
without PUBLIC_URL or TRUSTED_HOSTS."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient

from screening import ROOT
from screening.web.db import get_db
from screening.web.ruleset import get_ruleset
from tests.helpers import (
    audit_rows,
    bearer,
    body,
    build_app,
    execute,
    make_token,
    page_text,
    query,
    save_answers,
)

# Rules with a <token> that is not a result token: each has its own expiry and its own tests.
OTHER_TOKEN_LINKS = {"practitioner.set_password": "a set-password link: 410 once used or old (test_accounts.py)"}
# The result-token routes of today, so the walk below cannot pass on an empty list.
KNOWN_RESULT_ROUTES = {
    "patient.result",
    "patient.again",
    "patient.result_pdf",
    "patient_notices.print_view",
    "patient_notices.notify",
}


def token_routes(app: Flask) -> list[tuple[str, str]]:
    """(endpoint, method) of every rule of the URL map with a ``<token>``, but the other kinds of link."""
    return sorted(
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        if "token" in rule.arguments and rule.endpoint not in OTHER_TOKEN_LINKS
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    )


def stored_link(app: Flask, days_old: float = 0) -> tuple[str, str]:
    """A stored screening's (token, reference), created ``days_old`` days ago."""
    with app.app_context():
        saved = save_answers(get_db(), get_ruleset(app))
    created = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_old)
    execute(app, "UPDATE screenings SET created_at = ? WHERE reference = ?", [created.isoformat(), saved.reference])
    return saved.token, saved.reference


def open_route(app: Flask, client: FlaskClient, endpoint: str, method: str, token: str) -> Any:
    """Request one token route as a patient would (a POST sends what its form sends)."""
    with app.test_request_context():
        path = url_for(endpoint, token=token)
    return client.open(path, method=method, data={"what": "link"} if method == "POST" else None)


def test_every_route_a_result_token_reaches_refuses_an_expired_link(app: Flask, client: FlaskClient) -> None:
    routes = token_routes(app)
    assert {endpoint for endpoint, _ in routes} >= KNOWN_RESULT_ROUTES
    days = int(app.config["RESULT_LINK_DAYS"])
    token, reference = stored_link(app, days_old=days + 1)
    for endpoint, method in routes:
        response = open_route(app, client, endpoint, method, token)
        assert response.status_code == 410, (endpoint, method, response.status_code)
        text = page_text(response)
        assert "This result link has expired" in text and reference in text, (endpoint, method)
        assert "Anna" not in text and "anna@example.com" not in text, (endpoint, method)
    # Nothing was done behind the expired link: no new screening, no message, no view to audit.
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 1}]
    assert query(app, "SELECT count(*) AS n FROM outbox") == [{"n": 0}]
    assert audit_rows(app, "screening.view") == []


def test_every_route_a_result_token_reaches_opens_with_a_live_link(app: Flask, client: FlaskClient) -> None:
    """The same walk with a link of today: none of them is refused, so the 410 above is the expiry's."""
    token, _ = stored_link(app)
    for endpoint, method in token_routes(app):
        status = open_route(app, client, endpoint, method, token).status_code
        assert status not in (404, 410), (endpoint, method, status)
    with app.test_request_context():
        unknown = url_for("patient_notices.print_view", token="no-such-link")
    assert client.get(unknown).status_code == 404


@pytest.mark.parametrize(
    ("endpoint", "age", "status"),
    [
        ("patient.result", dt.timedelta(minutes=-5), 200),
        ("patient.result", dt.timedelta(minutes=5), 410),
        ("patient.again", dt.timedelta(minutes=-5), 200),
        ("patient.again", dt.timedelta(minutes=5), 410),
        ("patient_notices.print_view", dt.timedelta(minutes=-5), 200),
        ("patient_notices.print_view", dt.timedelta(minutes=5), 410),
    ],
)
def test_a_link_expires_after_result_link_days(
    app: Flask, client: FlaskClient, endpoint: str, age: dt.timedelta, status: int
) -> None:
    """Five minutes either side of RESULT_LINK_DAYS: open before, the 410 page after."""
    days = int(app.config["RESULT_LINK_DAYS"])
    token, _ = stored_link(app, days_old=(dt.timedelta(days=days) + age) / dt.timedelta(days=1))
    assert open_route(app, client, endpoint, "GET", token).status_code == status


def test_every_patient_view_behind_a_result_link_is_audited(app: Flask, client: FlaskClient) -> None:
    token, reference = stored_link(app)
    routes = token_routes(app)
    for endpoint, method in routes:
        open_route(app, client, endpoint, method, token)
    rows = audit_rows(app, "screening.view")
    link = hashlib.sha256(token.encode()).hexdigest()
    assert [(row["actor"], row["target"], json.loads(row["details"])) for row in rows] == [
        ("patient", f"screening:{reference}", {"via": "result link", "page": endpoint, "link": link})
        for endpoint, _ in routes
    ]
    assert all(row["practitioner_id"] is None and row["client_address"] == "127.0.0.1" for row in rows)
    assert token not in json.dumps(audit_rows(app))  # the hash names the link, never the link itself


# --- Idempotency-Key: the client's own -------------------------------------------------


def post_screening(client: FlaskClient, key: str, address: str, headers: dict[str, str] | None = None) -> Any:
    return client.post(
        "/api/v1/screenings",
        json=body(),
        headers={"Idempotency-Key": key, **(headers or {})},
        environ_base={"REMOTE_ADDR": address},
    )


def test_another_address_with_the_same_key_and_body_never_gets_the_first_link(app: Flask, client: FlaskClient) -> None:
    """Documented choice: a key is the client's own, so the other caller's request is a new screening."""
    first = post_screening(client, "shared-key-1", "198.51.100.7")
    other = post_screening(client, "shared-key-1", "203.0.113.9")
    assert first.status_code == other.status_code == 201
    assert other.get_json()["result_url"] != first.get_json()["result_url"]
    assert other.get_json()["reference"] != first.get_json()["reference"]
    assert other.headers["Location"] != first.headers["Location"]
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 2}]
    # Each client's retry still gets its own first response back, and nothing more is stored.
    assert post_screening(client, "shared-key-1", "198.51.100.7").get_json() == first.get_json()
    assert post_screening(client, "shared-key-1", "203.0.113.9").get_json() == other.get_json()
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 2}]


def test_a_token_holders_keys_follow_the_token_not_the_address(app: Flask, client: FlaskClient) -> None:
    token, _ = make_token(app)
    first = post_screening(client, "ehr-key-1", "198.51.100.7", bearer(token))
    moved = post_screening(client, "ehr-key-1", "198.51.100.8", bearer(token))  # the same system, a new address
    assert moved.status_code == 201 and moved.get_json() == first.get_json()
    anonymous = post_screening(client, "ehr-key-1", "198.51.100.7")  # the token's old address, without it
    assert anonymous.status_code == 201 and anonymous.get_json()["result_url"] != first.get_json()["result_url"]
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 2}]


# --- Host header and PUBLIC_URL ---------------------------------------------------------


def test_with_trusted_hosts_a_forged_host_reaches_no_link(tmp_path: Path, database: str) -> None:
    app = build_app(tmp_path, DATABASE=database, TRUSTED_HOSTS=["clinic.example"])
    client = app.test_client()
    forged = client.post("/api/v1/screenings", json=body(), headers={"Host": "evil.example"})
    assert forged.status_code == 400 and "evil.example" not in forged.get_data(as_text=True)
    assert "Location" not in forged.headers
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 0}]
    sent = client.post("/api/v1/screenings", json=body(), headers={"Host": "clinic.example"})
    assert sent.get_json()["result_url"].startswith("http://clinic.example/result/")
    assert sent.headers["Location"].startswith("http://clinic.example/api/v1/screenings/")
    token, _ = make_token(app)
    fhir = f"/api/v1/screenings/{sent.get_json()['reference']}/fhir"
    assert client.get(fhir, headers={**bearer(token), "Host": "evil.example"}).status_code == 400


def start_app(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    """Import app.py in a new process, as gunicorn does, with a production secret key and ``settings``."""
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("SCREENING_")},
        "SCREENING_DATABASE": str(tmp_path / "screening.sqlite"),
        "SCREENING_SECRET_KEY": "a-long-enough-secret-key-for-this-test",
        **{f"SCREENING_{name}": value for name, value in settings.items()},
    }
    return subprocess.run(
        [sys.executable, "-c", "import app"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_app_refuses_to_serve_links_made_from_the_host_header(tmp_path: Path) -> None:
    started = start_app(tmp_path)
    assert started.returncode == 2, started.stderr
    (line,) = started.stderr.strip().splitlines()
    assert line.startswith("The app will not start: SCREENING_PUBLIC_URL is not set")
    assert "SCREENING_TRUSTED_HOSTS" in line and "Traceback" not in started.stderr


@pytest.mark.parametrize(
    "settings",
    [{"PUBLIC_URL": "https://clinic.example/"}, {"TRUSTED_HOSTS": '["clinic.example"]'}],
)
def test_the_app_serves_with_a_public_url_or_trusted_hosts(tmp_path: Path, settings: dict[str, str]) -> None:
    started = start_app(tmp_path, **settings)
    assert started.returncode == 0, started.stderr


def test_make_run_sets_its_own_public_url() -> None:
    """A fresh clone's ``make run`` serves links under its own address (the recipe, as make prints it)."""
    dry_run = subprocess.run(
        ["make", "-n", "run", "PORT=5123"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert 'SCREENING_PUBLIC_URL="${SCREENING_PUBLIC_URL:-http://127.0.0.1:5123}"' in dry_run.stdout
