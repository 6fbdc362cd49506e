"""Roles: every route of the app against one table of who may reach it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import audit_rows, make_token, page_text

STAFF = {"admin", "practitioner", "reception"}
PUBLIC = "public"  # anyone, signed in or not
BEARER = "bearer"  # an API token

# The specification, endpoint by endpoint (the workspace's alphabetically): the app's own table must agree.
EXPECTED: dict[str, Any] = {
    "static": PUBLIC,
    "patient.index": PUBLIC,
    "patient.kiosk_result": PUBLIC,  # on a registered kiosk only (404 elsewhere)
    "patient.kiosk_done": PUBLIC,
    "patient.questionnaire": PUBLIC,
    "patient.result": PUBLIC,
    "patient.set_language": PUBLIC,
    "patient.again": PUBLIC,  # behind the result token
    "patient.confirm_record_link": PUBLIC,  # behind the e-mailed one-time link
    "patient.pre_session_check": PUBLIC,  # behind the e-mailed one-time link
    "patient.check_in": PUBLIC,  # behind the e-mailed one-time link
    "patient.clinic_logo": PUBLIC,
    "patient.consent": PUBLIC,
    "patient.privacy": PUBLIC,
    "patient.result_pdf": PUBLIC,  # behind the result token
    "patient_notices.notify": PUBLIC,  # behind the result token
    "patient_notices.print_view": PUBLIC,  # behind the result token
    "api.docs": PUBLIC,
    "api.get_patient_record": BEARER,
    "api.questionnaire": PUBLIC,
    "api.openapi": PUBLIC,
    "api.create_screening": PUBLIC,
    "api.list_screenings_view": BEARER,
    "api.get_screening": BEARER,
    "api.get_screening_fhir": BEARER,
    "fhir.questionnaire": PUBLIC,
    "fhir.questionnaire_by_id": PUBLIC,
    "health.healthz": PUBLIC,
    "health.metrics": PUBLIC,  # to METRICS_ALLOW addresses only (404 to others), not by role
    "practitioner.accounts": {"admin"},
    "practitioner.answers": {"practitioner"},
    "practitioner.audit_log": {"admin"},
    "practitioner.candidate_rules": {"admin"},
    # A rule change: admins propose, withdraw, restore; the view also asks for a medical director.
    "practitioner.propose_rules": {"admin"},
    "practitioner.withdraw_rules": {"admin"},
    "practitioner.restore_rules": {"admin"},
    "practitioner.rule_changes": {"admin", "practitioner"},
    "practitioner.rule_change": {"admin", "practitioner"},
    "practitioner.approve_rules": {"admin", "practitioner"},
    "practitioner.reject_rules": {"admin", "practitioner"},
    "practitioner.set_medical_director": {"admin"},
    "practitioner.change_role": {"admin"},
    "practitioner.chart_pdf": {"practitioner"},
    "practitioner.confirm_patient_link": {"practitioner"},
    "practitioner.consent_text": STAFF,
    "practitioner.contact": STAFF,
    "practitioner.deactivate": {"admin"},
    "practitioner.deliveries": {"admin"},
    "practitioner.detail": {"practitioner"},
    "practitioner.devices": {"admin"},
    "practitioner.due": STAFF,
    "practitioner.end_session": STAFF,
    "practitioner.export_csv": {"admin"},
    "practitioner.export_sessions_csv": {"admin", "practitioner"},
    "practitioner.invite": {"admin"},
    "practitioner.link_patient": {"practitioner"},
    "practitioner.login": PUBLIC,
    "practitioner.mailbox_message": {"admin"},
    "practitioner.login_code": PUBLIC,
    "practitioner.logout": STAFF,
    "practitioner.password": STAFF,
    "practitioner.queue": STAFF,
    "practitioner.reactivate": {"admin"},
    "practitioner.reconfirm": {"practitioner"},
    "practitioner.register_device": {"admin"},
    "practitioner.record_patch_readout": {"practitioner"},
    "practitioner.record_patch_test": {"practitioner"},
    "practitioner.record_session": {"practitioner"},
    "practitioner.record_adverse_event": {"practitioner"},
    "practitioner.safety_report_page": {"admin"},
    "practitioner.resend_delivery": {"admin"},
    "practitioner.reset_password": {"admin"},
    "practitioner.review": {"practitioner"},
    "practitioner.revoke_device": {"admin"},
    "practitioner.rules": STAFF,
    "practitioner.sessions": STAFF,
    "practitioner.set_password": PUBLIC,
    "practitioner.start_course": {"practitioner"},
    "practitioner.two_factor": STAFF,
    "practitioner.unlink_patient": {"practitioner"},
}

ARGUMENTS = {
    "token": "x" * 43,
    "code": "en",
    "resource_id": "x",
    "filename": "style.css",
    "session_id": 999,
    "account_id": 999,
    "sha256": "0" * 64,
    "delivery_id": "x",
    "device_id": 999,
    "version_id": 999,
}


def _routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, rule) of every route, GET where it answers GET."""
    routes = []
    for rule in app.url_map.iter_rules():
        methods = rule.methods or set()
        routes.append((rule.endpoint, "GET" if "GET" in methods else "POST", rule.rule))
    return routes


def _url(app: Flask, endpoint: str, rule_text: str, reference: str) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint and r.rule == rule_text)
    values = {name: ARGUMENTS.get(name, reference) for name in rule.arguments}
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **values)


def test_every_route_is_in_the_table(app: Flask) -> None:
    """A new route without a decision about who may reach it fails here."""
    assert {endpoint for endpoint, _, _ in _routes(app)} == set(EXPECTED)


def test_the_app_table_matches(app: Flask) -> None:
    """The workspace's table (roles.ACCESS) says what this test expects."""
    from screening.web.roles import ACCESS, PUBLIC_ENDPOINTS

    workspace = {k: v for k, v in EXPECTED.items() if k.startswith("practitioner.")}
    assert {k for k, v in workspace.items() if v == PUBLIC} == PUBLIC_ENDPOINTS - {"practitioner.static"}
    assert {k: set(v) for k, v in ACCESS.items()} == {k: v for k, v in workspace.items() if v != PUBLIC}


def test_each_role_reaches_exactly_its_routes(
    app: Flask,
    client: FlaskClient,
    doctor: FlaskClient,
    admin: FlaskClient,
    reception: FlaskClient,
    stored_screening: dict[str, Any],
) -> None:
    """Every route, as each role and anonymously: 403 exactly where the table says no."""
    clients = {"practitioner": doctor, "admin": admin, "reception": reception}
    reference = stored_screening["reference"]
    for endpoint, method, rule in _routes(app):
        if endpoint == "practitioner.logout":
            continue  # signing out would end the fixture's session; checked below
        url = _url(app, endpoint, rule, reference)
        expected = EXPECTED[endpoint]
        anonymous = client.open(url, method=method)
        anonymous.close()  # the static file's handle
        if expected == PUBLIC:
            assert anonymous.status_code not in (401, 403), endpoint
            if endpoint != "practitioner.login_code":  # without a password first it sends you to the login
                assert "/practitioner/login" not in anonymous.headers.get("Location", ""), endpoint
            continue
        if expected == BEARER:
            assert anonymous.status_code == 401, endpoint
            assert doctor.open(url, method=method).status_code == 401, endpoint
            continue
        assert anonymous.status_code == 302 and "/practitioner/login" in anonymous.headers["Location"], endpoint
        for role, staff in clients.items():
            response = staff.open(url, method=method)
            response.close()
            status = response.status_code
            assert (status == 403) == (role not in expected), (endpoint, role, status)
    for role, staff in clients.items():
        assert staff.post("/practitioner/logout").status_code == 303, role


def test_reception_sees_contact_and_status_not_answers(
    app: Flask, reception: FlaskClient, stored_screening: dict[str, Any]
) -> None:
    """Reception finds the patient by reference, reads contact details and status; answers, decisions,
    the audit log and exports are refused, and each refusal is audited."""
    reference = stored_screening["reference"]
    queue = page_text(reception.get(f"/practitioner/?q={reference}"))
    assert "Anna Petrova" in queue
    assert f'/practitioner/screening/{reference}/contact"' in reception.get("/practitioner/").get_data(as_text=True)
    contact = page_text(reception.get(f"/practitioner/screening/{reference}/contact"))
    assert "anna@example.com" in contact and "+7 912 345 67 89" in contact and "Eligible" in contact
    assert "Answers and decision" not in contact
    denied = [
        reception.get(f"/practitioner/screening/{reference}"),
        reception.get(f"/practitioner/screening/{reference}/answers"),
        reception.post(f"/practitioner/screening/{reference}/review", data={"status": "eligible"}),
        reception.get("/practitioner/audit"),
        reception.get("/practitioner/export.csv"),
    ]
    assert [r.status_code for r in denied] == [403] * 5
    assert "Export these screenings" not in queue and "Audit log" not in queue
    refused = audit_rows(app, "access.denied")
    assert [r["actor"] for r in refused] == ["rita@example.com"] * 5
    assert '"page": "practitioner.audit_log"' in refused[3]["details"]
    assert [r["target"] for r in audit_rows(app, "screening.view")] == [f"screening:{reference}"]


@pytest.mark.parametrize("role", ["admin", "practitioner", "reception"])
def test_cli_creates_an_account_with_a_role(app: Flask, role: str) -> None:
    """create-practitioner --role; the default is practitioner."""
    from tests.helpers import query

    args = ["create-practitioner", "boss@example.com", "--name", "Boss", "--password-stdin"]
    if role != "practitioner":
        args += ["--role", role]
    result = app.test_cli_runner().invoke(args=args, input="a long enough passphrase\n")
    assert result.exit_code == 0, result.output
    assert query(app, "SELECT role FROM practitioners WHERE email = 'boss@example.com'") == [{"role": role}]


def test_cli_refuses_an_unknown_role(app: Flask) -> None:
    """A role outside admin/practitioner/reception: exit 2 with the choices."""
    result = app.test_cli_runner().invoke(
        args=["create-practitioner", "x@example.com", "--name", "X", "--role", "owner", "--password-stdin"],
        input="a long enough passphrase\n",
    )
    assert result.exit_code == 2 and "admin" in result.output


def test_bearer_routes_accept_a_token(app: Flask, client: FlaskClient) -> None:
    """Sanity for the table: a token opens the bearer routes."""
    from tests.helpers import bearer

    token, _ = make_token(app)
    assert client.get("/api/v1/screenings", headers=bearer(token)).status_code == 200


# --- API tokens: a token reaches its scopes that its owner's role allows ------------------

# The scope each bearer route needs.
BEARER_SCOPES = {
    "api.get_patient_record": "screenings:read",
    "api.list_screenings_view": "screenings:read",
    "api.get_screening": "screenings:read",
    "api.get_screening_fhir": "fhir:read",
}
# The specification, scope by scope: the roles whose tokens may use it (both read answers).
SCOPES: dict[str, set[str]] = {
    "screenings:read": {"practitioner"},
    "fhir:read": {"practitioner"},
}


def test_the_app_scope_table_matches() -> None:
    """The role table's scopes (web.roles.SCOPE_ACCESS) say what this test expects, for every scope there is."""
    from screening.storage import API_SCOPES
    from screening.web.roles import SCOPE_ACCESS

    assert {k: set(v) for k, v in SCOPE_ACCESS.items()} == SCOPES
    assert set(API_SCOPES) == set(SCOPES)
    assert set(BEARER_SCOPES) == {endpoint for endpoint, expected in EXPECTED.items() if expected == BEARER}


@pytest.mark.parametrize("scope", sorted(SCOPES))
@pytest.mark.parametrize("role", sorted(STAFF))
def test_each_role_and_scope_reaches_exactly_its_bearer_routes(
    app: Flask, client: FlaskClient, stored_screening: dict[str, Any], role: str, scope: str
) -> None:
    """A token with one scope, of an account with one role: every bearer route answers 200
    exactly where the route needs that scope and the role may use it, 403 elsewhere."""
    from screening import storage
    from screening.web.db import get_db
    from tests.helpers import bearer, create_account

    owner = create_account(app, f"{role}@example.com", role.title(), role=role)
    with app.app_context():  # straight into storage: the CLI would refuse what the role lacks
        token = storage.create_api_token(get_db(), owner, "sync", (scope,))
    for endpoint, needed in BEARER_SCOPES.items():
        rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
        response = client.get(_url(app, endpoint, rule.rule, stored_screening["reference"]), headers=bearer(token))
        allowed = needed == scope and role in SCOPES[scope]
        assert response.status_code == (200 if allowed else 403), (endpoint, role, scope)
        if not allowed:
            assert "answers" not in response.get_json() and "Anna Petrova" not in response.get_data(as_text=True)
    reasons = {json.loads(r["details"])["reason"] for r in audit_rows(app, "access.denied")}
    assert reasons <= {"scope", "role"} and (("role" in reasons) == (role not in SCOPES[scope]))


@pytest.mark.parametrize(
    ("role", "args", "message"),
    [
        ("reception", [], "the role reception may use no API scope"),
        ("admin", [], "the role admin may use no API scope"),
        ("reception", ["--scope", "screenings:read"], "may not use the scope screenings:read"),
        ("admin", ["--scope", "fhir:read"], "may not use the scope fhir:read"),
    ],
)
def test_create_api_token_refuses_scopes_the_role_lacks(app: Flask, role: str, args: list[str], message: str) -> None:
    from tests.helpers import create_account, query

    create_account(app, "staff@example.com", "Staff", role=role)
    result = app.test_cli_runner().invoke(args=["create-api-token", "staff@example.com", "--name", "sync", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert query(app, "SELECT * FROM api_tokens") == []


def test_create_api_token_gives_a_practitioner_the_scopes_of_the_role(app: Flask) -> None:
    from tests.helpers import create_account, query

    create_account(app, "doc@example.com", "Doc")
    result = app.test_cli_runner().invoke(args=["create-api-token", "doc@example.com", "--name", "sync"])
    assert result.exit_code == 0, result.output
    assert query(app, "SELECT scopes FROM api_tokens") == [{"scopes": "screenings:read fhir:read"}]
