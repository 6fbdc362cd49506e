"""The JSON API: questionnaire, submitting screenings, bearer-token reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import storage
from screening.core.loader import load_rulebook
from screening.web.db import get_db
from tests.helpers import (
    CLEAR_ANSWERS,
    RULES_FILE,
    audit_rows,
    bearer,
    body,
    build_app,
    make_token,
    months_ago,
    screening_row,
    today,
)

# --- Questionnaire -----------------------------------------------------------------


def test_questionnaire_lists_every_question(client: FlaskClient, ruleset: Any) -> None:
    response = client.get("/api/v1/questionnaire")
    assert response.status_code == 200
    data = response.get_json()
    assert data["rules_version"] == ruleset.full_version
    assert data["language"] == "en"
    assert data["languages"] == ["en", "ru"]
    assert data["procedure"]["name"] == "Laser facial rejuvenation"
    assert [s["id"] for s in data["sections"]] == [s.id for s in ruleset.sections]
    assert [q["id"] for q in data["questions"]] == [q.id for q in ruleset.questions]
    by_id = {q["id"]: q for q in data["questions"]}
    assert by_id["pregnant"]["options"] == [
        {"value": "yes", "label": "Yes"},
        {"value": "no", "label": "No"},
        {"value": "unsure", "label": "I'm not sure"},
    ]
    assert by_id["date_of_birth"] == {
        "id": "date_of_birth",
        "section": "about_you",
        "type": "date",
        "text": "What is your date of birth?",
        "help": None,
        "required": True,
        "options": [],
        "show_if": None,
    }
    assert by_id["concerns"]["type"] == "multi"
    assert by_id["concerns"]["required"] is False
    assert by_id["isotretinoin_stopped_on"]["show_if"] == {"all": [{"question": "isotretinoin", "in": ["stopped"]}]}
    assert by_id["skin_type"]["help"].startswith("This helps the practitioner")


@pytest.mark.parametrize(
    ("accept", "language", "title"),
    [
        ("ru", "ru", "О вас"),
        ("ru-RU,ru;q=0.9,en;q=0.5", "ru", "О вас"),
        ("en-GB", "en", "About you"),
        ("de", "en", "About you"),
        ("", "en", "About you"),
    ],
)
def test_questionnaire_language_from_accept_language(
    client: FlaskClient, accept: str, language: str, title: str
) -> None:
    response = client.get("/api/v1/questionnaire", headers={"Accept-Language": accept} if accept else {})
    data = response.get_json()
    assert data["language"] == language
    assert data["sections"][0]["title"] == title
    assert "Accept-Language" in response.headers["Vary"]


def test_condition_json_covers_every_clause() -> None:
    from screening.api.questionnaire import condition_json
    from screening.core.model import Condition, Test

    condition = Condition(
        tests=(
            Test("a", frozenset({"y", "x"})),
            Test("b", date_test="age_under", amount=18),
            Test("c", date_test="within_weeks", amount=2),
        ),
        any_of=((Condition(tests=(Test("d", frozenset({"yes"})),)), Condition(any_answer="unsure")),),
        any_answer="maybe",
    )
    assert condition_json(condition) == {
        "all": [
            {"question": "a", "in": ["x", "y"]},
            {"question": "b", "age_under": 18},
            {"question": "c", "within": {"unit": "weeks", "amount": 2}},
            {"any": [{"all": [{"question": "d", "in": ["yes"]}]}, {"all": [{"any_answer": "unsure"}]}]},
            {"any_answer": "maybe"},
        ]
    }


# --- Submitting ------------------------------------------------------------------------


def test_post_screening_stores_and_returns_verdict(app: Flask, client: FlaskClient) -> None:
    response = client.post("/api/v1/screenings", json=body())
    assert response.status_code == 201
    data = response.get_json()
    assert set(data) == {
        "reference",
        "procedure",
        "status",
        "reasons",
        "notes",
        "rescreen_after",
        "rules_version",
        "result_url",
    }
    assert data["procedure"] == "laser_rejuvenation"  # no procedure named: the default
    assert data["status"] == "eligible"
    assert data["reasons"] == []
    assert data["rescreen_after"] is None
    assert data["result_url"].startswith("http://localhost/result/")
    assert response.headers["Location"] == f"http://localhost/api/v1/screenings/{data['reference']}"

    row = screening_row(app, data["reference"])
    assert row["source"] == "api"
    assert row["language"] == "en"
    assert row["patient_name"] == "Anna Example"
    assert row["contact_email"] == "anna@example.com"
    assert row["contact_phone"] is None
    assert row["status"] == "eligible"
    assert row["answers"] == CLEAR_ANSWERS
    assert row["consent_version"] == app.extensions["consent"].text("consent", "en").version

    # The patient's link works.
    page = client.get(data["result_url"].removeprefix("http://localhost"))
    assert page.status_code == 200
    assert data["reference"] in page.get_data(as_text=True)


def test_post_screening_reasons_in_requested_language(client: FlaskClient) -> None:
    answers = {**CLEAR_ANSWERS, "pregnant": "yes"}
    response = client.post("/api/v1/screenings", json=body(answers), headers={"Accept-Language": "ru"})
    assert response.status_code == 201
    data = response.get_json()
    assert data["status"] == "deferred"
    [reason] = data["reasons"]
    assert reason["rule"] == "pregnancy"
    assert reason["questions"] == ["pregnant"]
    assert reason["patient"].startswith("Во время беременности")


def test_post_screening_drops_follow_ups_not_shown(app: Flask, client: FlaskClient) -> None:
    answers = {**CLEAR_ANSWERS, "isotretinoin": "never", "isotretinoin_stopped_on": "2020-01-01"}
    response = client.post("/api/v1/screenings", json=body(answers))
    assert response.status_code == 201
    row = screening_row(app, response.get_json()["reference"])
    assert "isotretinoin_stopped_on" not in row["answers"]


VERDICT_CASES = {
    "clear": {},
    "pregnant": {"pregnant": "yes"},
    "unsure": {"epilepsy": "unsure"},
    "cancer and keloids": {"cancer": "active", "keloids": "yes"},
    "isotretinoin stopped recently": {"isotretinoin": "stopped", "isotretinoin_stopped_on": months_ago(2)},
    "isotretinoin stopped long ago": {"isotretinoin": "stopped", "isotretinoin_stopped_on": months_ago(9)},
    "under 18": {"date_of_birth": months_ago(12 * 16)},
    "cold sore and tan": {"herpes_active": "yes", "recent_tan": "yes", "concerns": ["scars", "wrinkles"]},
    "dark skin": {"skin_type": "VI", "concerns": ["acne"]},
}


@pytest.mark.parametrize("changes", VERDICT_CASES.values(), ids=VERDICT_CASES.keys())
def test_same_verdict_as_web_form(app: Flask, client: FlaskClient, changes: dict[str, Any]) -> None:
    answers = {**CLEAR_ANSWERS, **changes}
    form = {
        **answers,
        "patient_name": "Anna Example",
        "email": "anna@example.com",
        "consent": "y",
        "signature": "Anna Example",
    }
    web = client.post("/screening", data=form)
    assert web.status_code == 303
    api = client.post("/api/v1/screenings", json=body(answers))
    assert api.status_code == 201
    data = api.get_json()

    with app.app_context():
        rows = {row["source"]: row for row in storage.list_screenings(get_db(), limit=10)}
    web_row, api_row = rows["web"], rows["api"]
    assert data["status"] == web_row["status"] == api_row["status"]
    assert data["rescreen_after"] == web_row["rescreen_after"]
    assert web_row["reasons"] == api_row["reasons"]
    assert web_row["answers"] == api_row["answers"]
    assert [(r["rule"], r["outcome"], r["questions"], r["rescreen_after"]) for r in data["reasons"]] == [
        (r["rule"], r["outcome"], r["questions"], r["rescreen_after"]) for r in web_row["reasons"]
    ]


@pytest.mark.parametrize(
    ("concerns", "stored"),
    [(None, None), ("", None), ([], None), ("scars", ["scars"]), (["pores", "scars", "pores"], ["scars", "pores"])],
)
def test_optional_and_multi_answers(app: Flask, client: FlaskClient, concerns: Any, stored: Any) -> None:
    response = client.post("/api/v1/screenings", json=body({**CLEAR_ANSWERS, "concerns": concerns}))
    assert response.status_code == 201
    assert screening_row(app, response.get_json()["reference"])["answers"].get("concerns") == stored


# --- Invalid input ---------------------------------------------------------------------


def without(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k not in keys}


INVALID_BODIES = {
    "every part wrong at once": (
        {
            "answers": {**without(CLEAR_ANSWERS, "pregnant"), "cancer": "maybe", "date_of_birth": "31.05.1990"},
            "patient": {"name": "", "email": "not-an-email"},
            "consent": False,
        },
        {"pregnant", "cancer", "date_of_birth", "patient.name", "patient.email", "consent"},
    ),
    "unknown fields everywhere": (
        body(
            {**CLEAR_ANSWERS, "favourite_colour": "blue"},
            patient={"name": "A", "phone": "+7 912 345 67 89", "age": 30},
            extra=1,
        ),
        {"answers.favourite_colour", "patient.age", "extra"},
    ),
    "nothing": ({}, {"answers", "patient", "consent"}),
    "wrong types": ({"answers": [], "patient": "Anna", "consent": "yes"}, {"answers", "patient", "consent"}),
    "consent 1 is not true": (body(consent=1), {"consent"}),
    "follow-up shown but not answered": (
        body({**CLEAR_ANSWERS, "isotretinoin": "stopped"}),
        {"isotretinoin_stopped_on"},
    ),
    "future date": (body({**CLEAR_ANSWERS, "date_of_birth": "2999-01-01"}), {"date_of_birth"}),
    "date before 1900": (body({**CLEAR_ANSWERS, "date_of_birth": "1899-12-31"}), {"date_of_birth"}),
    "number as answer": (body({**CLEAR_ANSWERS, "pregnant": 0}), {"pregnant"}),
    "multi with a bad value": (body({**CLEAR_ANSWERS, "concerns": ["wrinkles", "teeth"]}), {"concerns"}),
    "multi as an object": (body({**CLEAR_ANSWERS, "concerns": {"a": 1}}), {"concerns"}),
    "multi with not sure and a condition": (
        body({**CLEAR_ANSWERS, "other_conditions": ["melasma", "unsure"]}),
        {"other_conditions"},
    ),
    "padded answer": (body({**CLEAR_ANSWERS, "pregnant": " no"}), {"pregnant"}),
    "no contact": (body(patient={"name": "Anna"}), {"patient.email"}),
    "blank contact": (body(patient={"name": "Anna", "email": " ", "phone": None}), {"patient.email"}),
    "name too long": (body(patient={"name": "A" * 201, "email": "a@example.com"}), {"patient.name"}),
    "name blank": (body(patient={"name": "   ", "email": "a@example.com"}), {"patient.name"}),
    "name not a string": (body(patient={"name": ["Anna"], "email": "a@example.com"}), {"patient.name"}),
    "bad phone": (body(patient={"name": "Anna", "phone": "call me"}), {"patient.phone"}),
    "email too long": (body(patient={"name": "Anna", "email": "a" * 250 + "@b.cd"}), {"patient.email"}),
    "phone too long": (body(patient={"name": "Anna", "phone": "1" * 33}), {"patient.phone"}),
}


@pytest.mark.parametrize(
    ("field", "ticked", "message"),
    [
        ("other_conditions", ["melasma", "unsure"], '"unsure" cannot be ticked together with other options'),
        ("lifelong_history", ["unsure", "gold_therapy"], '"unsure" cannot be ticked together with other options'),
        ("other_conditions", ["none", "face_tattoo"], '"none" cannot be ticked together with other options'),
    ],
    ids=["not sure and a condition", "not sure and a treatment", "none and a tattoo"],
)
def test_an_exclusive_option_ticked_with_another_is_refused_naming_the_field(
    app: Flask, client: FlaskClient, field: str, ticked: list[str], message: str
) -> None:
    response = client.post("/api/v1/screenings", json=body({**CLEAR_ANSWERS, field: ticked}))
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert set(errors) == {field}
    assert any(message in m for m in errors[field])
    with app.app_context():
        assert storage.count_screenings(get_db()) == 0


@pytest.mark.parametrize(("data", "fields"), INVALID_BODIES.values(), ids=INVALID_BODIES.keys())
def test_invalid_body_names_every_bad_field(
    app: Flask, client: FlaskClient, data: dict[str, Any], fields: set[str]
) -> None:
    response = client.post("/api/v1/screenings", json=data)
    assert response.status_code == 400
    payload = response.get_json()
    assert set(payload["errors"]) == fields
    assert all(isinstance(m, str) and m for messages in payload["errors"].values() for m in messages)
    assert payload["error"] == "Bad Request"
    with app.app_context():
        assert storage.count_screenings(get_db()) == 0


@pytest.mark.parametrize(
    "patient",
    [
        {"name": "Anna", "email": "anna@example.com"},
        {"name": "Anna", "phone": "+7 (912) 345-67-89"},
        {"name": "Anna", "email": "", "phone": "123456"},
        {"name": "Anna", "email": None, "phone": "123456"},
        {"name": "  Anna  ", "email": " anna@example.com "},
        {"name": "A" * 200, "email": "anna@example.com"},
    ],
)
def test_valid_patient_details(app: Flask, client: FlaskClient, patient: dict[str, Any]) -> None:
    response = client.post("/api/v1/screenings", json=body(patient=patient))
    assert response.status_code == 201, response.get_json()
    row = screening_row(app, response.get_json()["reference"])
    assert row["patient_name"] == patient["name"].strip()
    assert row["contact_email"] == ((patient.get("email") or "").strip() or None)


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"answers=1", "application/x-www-form-urlencoded", 415),
        (b'{"answers": {}}', "text/plain", 415),
        (b"", "application/json", 400),
        (b"{", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"null", "application/json", 400),
        (b'"text"', "application/json", 400),
        (b"\xff\xfe\xfa", "application/json", 400),
        (b'{"answers": {}, "patient": {"name": "\\ud800"}, "consent": true}', "application/json", 400),
        (b'{"answers": {}, "patient": {"name": "x\\uDFFF"}, "consent": true}', "application/json", 400),
        ('{"answers": {}, "patient": {"name": "\\ud800"}}'.encode("utf-16"), "application/json", 400),
        (b"[" * 50_000 + b"]" * 50_000, "application/json", 413),
        (b"[" * 30_000, "application/json", 400),
        (json.dumps({"answers": {"x": "y" * 70_000}}).encode(), "application/json", 413),
    ],
    ids=[
        "form",
        "text",
        "empty",
        "broken",
        "array",
        "null",
        "string",
        "not utf-8",
        "lone surrogate",
        "lone low surrogate, upper case",
        "lone surrogate in UTF-16",
        "too large",
        "deeply nested",
        "too large object",
    ],
)
def test_bad_bodies_get_json_errors(client: FlaskClient, data: bytes, content_type: str, status: int) -> None:
    response = client.post("/api/v1/screenings", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    payload = response.get_json()
    assert payload["error"] and payload["message"]
    if status == 400:
        assert set(payload["errors"]) == {"body"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("put", "/api/v1/screenings", 405),
        ("delete", "/api/v1/questionnaire", 405),
        ("get", "/api/v1/nothing-here", 404),
        ("get", "/fhir/Questionnaire/other", 404),
    ],
)
def test_other_errors_are_json(client: FlaskClient, method: str, path: str, status: int) -> None:
    response = getattr(client, method)(path)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]
    if status == 405:
        assert "GET" in response.headers["Allow"] or "POST" in response.headers["Allow"]


# --- Rate limit --------------------------------------------------------------------------


def limited_app(tmp_path: Path, **config: Any) -> Flask:
    settings = {"WTF_CSRF_ENABLED": True, "RATELIMIT_ENABLED": True, "API_RATE_LIMIT": "2 per minute", **config}
    return build_app(tmp_path, **settings)


def test_rate_limit_per_client_address(tmp_path: Path) -> None:
    client = limited_app(tmp_path).test_client()
    here = {"REMOTE_ADDR": "192.0.2.1"}
    assert client.post("/api/v1/screenings", json=body(), environ_base=here).status_code == 201
    # Invalid requests count too: the limit is on attempts.
    assert client.post("/api/v1/screenings", json={}, environ_base=here).status_code == 400
    response = client.post("/api/v1/screenings", json=body(), environ_base=here)
    assert response.status_code == 429
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "Too Many Requests"
    assert int(response.headers["Retry-After"]) > 0
    # Another address has its own allowance; reads are not limited.
    other = {"REMOTE_ADDR": "192.0.2.2"}
    assert client.post("/api/v1/screenings", json=body(), environ_base=other).status_code == 201
    assert client.get("/api/v1/questionnaire", environ_base=here).status_code == 200


def test_rate_limit_can_be_turned_off(tmp_path: Path) -> None:
    client = limited_app(tmp_path, RATELIMIT_ENABLED=False).test_client()
    statuses = {client.post("/api/v1/screenings", json=body()).status_code for _ in range(4)}
    assert statuses == {201}


# --- Bearer reads --------------------------------------------------------------------------


def post(client: FlaskClient, **changes: Any) -> str:
    response = client.post("/api/v1/screenings", json=body({**CLEAR_ANSWERS, **changes}))
    assert response.status_code == 201, response.get_json()
    reference: str = response.get_json()["reference"]
    return reference


BEARER_PATHS = ["/api/v1/screenings", "/api/v1/screenings/{ref}", "/api/v1/screenings/{ref}/fhir"]


@pytest.mark.parametrize("path", BEARER_PATHS)
@pytest.mark.parametrize(
    ("header", "invalid_token"),
    [
        (None, False),
        ("Basic dXNlcjpwYXNz", True),
        ("Bearer", True),
        ("Bearer not-a-token", True),
        ("bearer not-a-token", True),
    ],
)
def test_bearer_reads_need_a_valid_token(
    app: Flask, client: FlaskClient, path: str, header: str | None, invalid_token: bool
) -> None:
    reference = post(client)
    response = client.get(path.format(ref=reference), headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert ('error="invalid_token"' in response.headers["WWW-Authenticate"]) is invalid_token
    # Only the refusal is recorded: nothing was read.
    assert [row["action"] for row in audit_rows(app)] == ["access.denied"]


def test_revoked_token_and_inactive_practitioner_are_refused(app: Flask, client: FlaskClient) -> None:
    token, practitioner_id = make_token(app)
    other, _ = make_token(app, "nurse@example.com", "Lab")
    assert client.get("/api/v1/screenings", headers=bearer(token)).status_code == 200
    with app.app_context():
        assert storage.revoke_api_tokens(get_db(), practitioner_id, "EHR sync") == 1
        storage.set_practitioner_active(get_db(), "nurse@example.com", False)
    assert client.get("/api/v1/screenings", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/screenings", headers=bearer(other)).status_code == 401


def _token_of(app: Flask, email: str, role: str) -> tuple[str, int]:
    """An account with ``role`` and a token with every scope, straight into storage (as an
    old token, or one made before the owner's role changed)."""
    with app.app_context():
        owner = storage.create_practitioner(get_db(), email, "Staff", "x", role)
        return storage.create_api_token(get_db(), owner, "sync"), owner


def _bearer_paths(reference: str) -> list[str]:
    return [
        "/api/v1/screenings",
        f"/api/v1/screenings/{reference}",
        f"/api/v1/screenings/{reference}/fhir",
        f"/api/v1/screenings/{reference}/patient",
    ]


def test_a_reception_token_reads_no_answers(app: Flask, client: FlaskClient) -> None:
    """Reception's pages show contact details and status, never answers: nor does its token."""
    reference = post(client, pregnant="yes")
    token, owner = _token_of(app, "rita@example.com", "reception")
    for path in _bearer_paths(reference):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 403, path
        assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
        assert "owner's role (reception)" in response.get_json()["message"]
        assert "pregnant" not in response.get_data(as_text=True) and "Anna" not in response.get_data(as_text=True)
    refused = audit_rows(app, "access.denied")
    assert len(refused) == 4 and all(json.loads(r["details"])["reason"] == "role" for r in refused)
    assert {r["practitioner_id"] for r in refused} == {owner}
    assert audit_rows(app, "screening.view") == [] and audit_rows(app, "screening.list") == []


def test_a_demoted_practitioners_token_loses_the_answers_then_deactivation_ends_it(
    app: Flask, client: FlaskClient
) -> None:
    """The owner's role at the time of each request decides, not the role the token was made under."""
    reference = post(client, pregnant="yes")
    token, owner = _token_of(app, "nina@example.com", "practitioner")
    read = client.get(f"/api/v1/screenings/{reference}", headers=bearer(token))
    assert read.status_code == 200 and read.get_json()["answers"]["pregnant"] == "yes"
    with app.app_context():
        storage.set_practitioner_role(get_db(), owner, "reception")
    for path in _bearer_paths(reference):
        demoted = client.get(path, headers=bearer(token))
        assert demoted.status_code == 403 and "pregnant" not in demoted.get_data(as_text=True), path
    with app.app_context():
        storage.set_practitioner_role(get_db(), owner, "practitioner")
    assert client.get(f"/api/v1/screenings/{reference}", headers=bearer(token)).status_code == 200
    assert app.test_cli_runner().invoke(args=["deactivate-practitioner", "nina@example.com"]).exit_code == 0
    for path in _bearer_paths(reference):
        gone = client.get(path, headers=bearer(token))
        assert gone.status_code == 401 and 'error="invalid_token"' in gone.headers["WWW-Authenticate"], path


def test_read_one_screening_is_audited(app: Flask, client: FlaskClient) -> None:
    token, practitioner_id = make_token(app)
    reference = post(client, pregnant="yes")
    response = client.get(
        f"/api/v1/screenings/{reference.lower()}",
        headers={**bearer(token), "Accept-Language": "ru"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["reference"] == reference
    assert data["status"] == "deferred"
    assert data["source"] == "api"
    assert data["patient"] == {
        "name": "Anna Example",
        "email": "anna@example.com",
        "phone": None,
        "date_of_birth": CLEAR_ANSWERS["date_of_birth"],
    }
    assert data["answers"]["pregnant"] == "yes"
    assert data["reasons"][0]["rule"] == "pregnancy"
    assert data["reasons"][0]["practitioner"].startswith("Беременность")
    assert data["reviewed"] is False
    assert data["decided_status"] is None
    assert data["fhir_url"] == f"http://localhost/api/v1/screenings/{reference}/fhir"

    [row] = audit_rows(app)
    assert row["action"] == "screening.view"
    assert row["actor"] == "api-token:EHR sync"
    assert row["practitioner_id"] == practitioner_id
    assert row["target"] == f"screening:{reference}"
    assert row["client_address"] == "198.51.100.7"
    assert json.loads(row["details"])["via"] == "api"
    # No patient data in the audit log.
    assert "Anna" not in json.dumps(row) and "anna@" not in json.dumps(row)

    with app.app_context():
        [token_row] = get_db().query("SELECT * FROM api_tokens")
    assert token_row["last_used_at"] is not None


def test_read_includes_review_decision(app: Flask, client: FlaskClient) -> None:
    token, practitioner_id = make_token(app)
    reference = post(client, keloids="yes")
    screening = screening_row(app, reference)
    with app.app_context():
        storage.add_review(get_db(), screening["id"], practitioner_id, decision="override", status="eligible")
    data = client.get(f"/api/v1/screenings/{reference}", headers=bearer(token)).get_json()
    assert data["status"] == "review"
    assert data["reviewed"] is True
    assert (data["decided_status"], data["current_status"]) == ("eligible", "eligible")
    assert data["reviewed_at"]


def test_read_carries_a_decided_deferral_and_its_date(app: Flask, client: FlaskClient) -> None:
    token, practitioner_id = make_token(app)
    reference = post(client, keloids="yes")
    before = client.get(f"/api/v1/screenings/{reference}", headers=bearer(token)).get_json()
    assert (before["current_status"], before["decided_status"], before["current_rescreen_after"]) == (
        "review",
        None,
        None,
    )
    with app.app_context():
        screening = storage.get_screening_by_reference(get_db(), reference)
        storage.add_review(
            get_db(), screening["id"], practitioner_id, decision="override", status="deferred", defer_until="2027-02-01"
        )
    data = client.get(f"/api/v1/screenings/{reference}", headers=bearer(token)).get_json()
    assert (data["status"], data["rescreen_after"]) == ("review", None)  # the rules' verdict, as such
    assert (data["decided_status"], data["decided_defer_until"]) == ("deferred", "2027-02-01")
    assert (data["current_status"], data["current_rescreen_after"]) == ("deferred", "2027-02-01")


def test_unknown_reference_is_404(app: Flask, client: FlaskClient) -> None:
    token, _ = make_token(app)
    for path in ("/api/v1/screenings/NOSUCHREF", "/api/v1/screenings/NOSUCHREF/fhir"):
        response = client.get(path, headers=bearer(token))
        assert response.status_code == 404
        assert response.get_json()["error"] == "Not Found"


def test_list_pages_through_everything_with_keyset_cursor(app: Flask, client: FlaskClient) -> None:
    token, _ = make_token(app)
    references = [post(client, pregnant="yes" if i % 2 else "no") for i in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/screenings", query_string=query, headers=bearer(token))
        assert response.status_code == 200
        data = response.get_json()
        seen += [s["reference"] for s in data["screenings"]]
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == references[::-1]  # newest first, each once

    # A new screening does not shift the pages already handed out.
    first = client.get("/api/v1/screenings", query_string={"limit": "3"}, headers=bearer(token)).get_json()
    post(client)
    second = client.get(
        "/api/v1/screenings", query_string={"limit": "3", "cursor": first["next_cursor"]}, headers=bearer(token)
    ).get_json()
    assert [s["reference"] for s in second["screenings"]] == references[::-1][3:6]

    actions = [(row["action"], row["target"]) for row in audit_rows(app)]
    assert actions == [("screening.list", "list")] * 5


def test_list_filters_by_status_and_since(app: Flask, client: FlaskClient) -> None:
    token, _ = make_token(app)
    deferred = post(client, pregnant="yes")
    post(client)

    def refs(**query: str) -> list[str]:
        response = client.get("/api/v1/screenings", query_string=query, headers=bearer(token))
        assert response.status_code == 200, response.get_json()
        return [s["reference"] for s in response.get_json()["screenings"]]

    assert refs(status="deferred") == [deferred]
    assert refs(status="ineligible") == []
    assert len(refs(since=today().isoformat())) == 2
    assert refs(since=(today() + dt.timedelta(days=1)).isoformat()) == []
    assert len(refs(since="2000-01-01T00:00:00Z")) == 2
    assert refs(since="2999-01-01T00:00:00+03:00") == []
    assert refs(status="deferred", since="2000-01-01T10:00:00.5-05:00") == [deferred]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"status": "maybe"}, {"status"}),
        ({"since": "yesterday"}, {"since"}),
        ({"since": "2026-02-30"}, {"since"}),
        ({"since": "2026-01-01T10:00:00"}, {"since"}),
        ({"since": "2026-01-01T10:00:00+12:60"}, {"since"}),
        ({"since": "２０２６-01-01"}, {"since"}),
        ({"cursor": "not-a-cursor"}, {"cursor"}),
        ({"cursor": "WzEsMl0"}, {"cursor"}),  # [1,2]: base64 JSON, but not ours
        ({"limit": "0"}, {"limit"}),
        ({"limit": "101"}, {"limit"}),
        ({"limit": " 5"}, {"limit"}),
        ({"limit": "abc", "status": "x", "since": "y"}, {"limit", "status", "since"}),
    ],
)
def test_list_rejects_bad_parameters(app: Flask, client: FlaskClient, query: dict[str, str], fields: set[str]) -> None:
    token, _ = make_token(app)
    response = client.get("/api/v1/screenings", query_string=query, headers=bearer(token))
    assert response.status_code == 400
    assert set(response.get_json()["errors"]) == fields


def test_cursor_round_trip() -> None:
    from screening.web.cursors import decode_cursor, encode_cursor

    cursor = encode_cursor("2026-11-24T10:00:00.000001+00:00", 42)
    assert "=" not in cursor
    assert decode_cursor(cursor) == ("2026-11-24T10:00:00.000001+00:00", 42)
    assert decode_cursor("!!!") is None
    assert decode_cursor("") is None


def test_fhir_export_needs_token_and_is_fhir_json(app: Flask, client: FlaskClient) -> None:
    token, _ = make_token(app)
    reference = post(client, pregnant="yes")
    response = client.get(f"/api/v1/screenings/{reference}/fhir", headers=bearer(token))
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert response.get_json(force=True)["resourceType"] == "Bundle"
    [row] = audit_rows(app)
    assert (row["action"], row["target"]) == ("screening.view", f"screening:{reference}")
    assert json.loads(row["details"])["format"] == "fhir"


def test_openapi_document_is_served(client: FlaskClient, ruleset: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"] == "3.1.0"
    answers = document["components"]["schemas"]["Answers"]
    # Every procedure's questions; required only where every procedure asks them.
    book = load_rulebook(RULES_FILE)
    assert set(answers["properties"]) == {q.id for part in book.procedures.values() for q in part.questions}
    assert "recent_pdt" not in answers["required"]  # IPL's alone
    assert document["components"]["schemas"]["ScreeningRequest"]["properties"]["procedure"]["enum"] == [
        *book.procedures,
        None,
    ]
    assert "isotretinoin_stopped_on" not in answers["required"]
    assert "concerns" not in answers["required"]
    assert "pregnant" in answers["required"]
