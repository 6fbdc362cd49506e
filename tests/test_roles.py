"""Roles: every route of the app against one table of who may reach it."""

from __future__ import annotations

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
    "patient.questionnaire": PUBLIC,
    "patient.result": PUBLIC,
    "patient.set_language": PUBLIC,
    "patient.again": PUBLIC,  # behind the result token
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
    "practitioner.accounts": {"admin"},
    "practitioner.answers": {"practitioner"},
    "practitioner.audit_log": {"admin"},
    "practitioner.candidate_rules": {"admin"},
    "practitioner.change_role": {"admin"},
    "practitioner.chart_pdf": {"practitioner"},
    "practitioner.consent_text": STAFF,
    "practitioner.contact": STAFF,
    "practitioner.deactivate": {"admin"},
    "practitioner.deliveries": {"admin"},
    "practitioner.detail": {"practitioner"},
    "practitioner.due": STAFF,
    "practitioner.end_session": STAFF,
    "practitioner.export_csv": {"admin"},
    "practitioner.invite": {"admin"},
    "practitioner.link_patient": {"practitioner"},
    "practitioner.login": PUBLIC,
    "practitioner.login_code": PUBLIC,
    "practitioner.logout": STAFF,
    "practitioner.password": STAFF,
    "practitioner.queue": STAFF,
    "practitioner.reactivate": {"admin"},
    "practitioner.reconfirm": {"practitioner"},
    "practitioner.record_session": {"practitioner"},
    "practitioner.resend_delivery": {"admin"},
    "practitioner.reset_password": {"admin"},
    "practitioner.review": {"practitioner"},
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
    from screening.practitioner.roles import ACCESS, PUBLIC_ENDPOINTS

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
        reception.post(f"/practitioner/screening/{reference}/review", data={"decision": "confirm"}),
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
