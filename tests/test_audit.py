"""The audit trail: a row for every action, who, what, when and from where;
never a patient's answers or name; the audit page and its filters."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from screening import storage
from screening.web.db import get_db
from tests.helpers import (
    EMAIL,
    PASSWORD,
    add_screening,
    audit_rows,
    create_account,
    decide,
    execute,
    page_text,
    query,
    reconfirm,
    sign_in,
    signed_in,
)

PATIENT = "Anna Petrova"


def view(app: Flask, client: FlaskClient, reference: str) -> None:
    client.get(f"/practitioner/screening/{reference}")


def confirm(app: Flask, client: FlaskClient, reference: str) -> None:
    assert decide(client, reference, status="eligible", reason_code="clarified_with_patient").status_code == 303


def override(app: Flask, client: FlaskClient, reference: str) -> None:
    response = decide(client, reference, status="deferred", reason_code="physician_clearance", defer_until="2099-01-31")
    assert response.status_code == 303


def renew(app: Flask, client: FlaskClient, reference: str) -> None:
    assert reconfirm(client, reference, unchanged="y").status_code == 303


def export(app: Flask, client: FlaskClient, reference: str) -> None:
    assert client.get("/practitioner/export.csv?status=review&q=Petrova").status_code == 200


def logout(app: Flask, client: FlaskClient, reference: str) -> None:
    assert client.post("/practitioner/logout").status_code == 303


@pytest.mark.parametrize(
    ("act", "action", "target", "details"),
    [
        (view, "screening.view", "screening:{ref}", None),
        (
            confirm,
            "review.override",
            "screening:{ref}",
            {"verdict": "review", "status": "eligible", "reason": "clarified_with_patient"},
        ),
        (
            override,
            "review.override",
            "screening:{ref}",
            {"verdict": "review", "status": "deferred", "reason": "physician_clearance", "defer_until": "2099-01-31"},
        ),
        (
            renew,
            "screening.reconfirm",
            "screening:{ref}",
            {"answers_changed": False, "verdict_changed": False, "previous_status": "review", "status": "review"},
        ),
        (logout, "logout", f"practitioner:{EMAIL}", None),
    ],
)
def test_each_action_is_audited_with_who_what_when_and_where(
    app: Flask,
    doctor: FlaskClient,
    act: Callable[[Flask, FlaskClient, str], None],
    action: str,
    target: str | None,
    details: dict[str, Any] | None,
) -> None:
    screening = add_screening(app, PATIENT, keloids="unsure")
    before = dt.datetime.now(dt.UTC)
    act(app, doctor, screening["reference"])
    row = audit_rows(app, action)[-1]
    assert row["practitioner_id"] == 1
    assert row["actor"] == EMAIL
    assert row["client_address"] == "127.0.0.1"
    assert row["target"] == (target.format(ref=screening["reference"]) if target else None)
    assert (json.loads(row["details"]) if row["details"] else None) == details
    assert before <= dt.datetime.fromisoformat(row["at"]) <= dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("args", "stdin", "action", "target"),
    [
        (
            ["create-practitioner", "new@example.com", "--name", "Dr New", "--password-stdin"],
            PASSWORD,
            "practitioner.create",
            "practitioner:new@example.com",
        ),
        (["deactivate-practitioner", EMAIL], None, "practitioner.deactivate", f"practitioner:{EMAIL}"),
        (["create-api-token", EMAIL, "--name", "EHR"], None, "api_token.create", f"practitioner:{EMAIL}"),
    ],
)
def test_account_changes_from_the_cli_are_audited(
    app: Flask, runner: FlaskCliRunner, args: list[str], stdin: str | None, action: str, target: str
) -> None:
    create_account(app)
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code == 0, result.output
    (row,) = audit_rows(app, action)
    assert (row["actor"], row["target"], row["practitioner_id"], row["client_address"]) == ("cli", target, None, None)


def test_sign_in_attempts_are_audited(app: Flask) -> None:
    create_account(app)
    client = app.test_client()
    sign_in(client, password="wrong password")
    sign_in(client, email="stranger@example.com")
    sign_in(client)
    rows = [(r["action"], r["actor"], r["target"]) for r in audit_rows(app)]
    assert rows == [
        ("login.failure", EMAIL, f"practitioner:{EMAIL}"),
        ("login.failure", "stranger@example.com", None),
        ("login.success", EMAIL, f"practitioner:{EMAIL}"),
    ]


def test_audit_rows_never_hold_patient_answers_or_names(app: Flask, doctor: FlaskClient, admin: FlaskClient) -> None:
    screening = add_screening(
        app, PATIENT, keloids="unsure", isotretinoin="stopped", isotretinoin_stopped_on="2026-02-03"
    )
    reference = screening["reference"]
    view(app, doctor, reference)
    override(app, doctor, reference)
    renew(app, doctor, reference)
    export(app, admin, reference)
    doctor.get(f"/practitioner/?q={PATIENT}")
    everything = json.dumps(audit_rows(app))
    for secret in (PATIENT, "Petrova", "anna@example.com", "912 345", "1990-05-31", "2026-02-03", "unsure", "Letter"):
        assert secret not in everything


def test_audit_page_lists_rows_newest_first(app: Flask, doctor: FlaskClient, admin: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    view(app, doctor, screening["reference"])
    response = admin.get("/practitioner/audit")
    assert response.status_code == 200
    actions = re.findall(r'<tr class="audit-row" data-action="([\w.]+)">', response.get_data(as_text=True))
    assert actions == ["screening.view", "login.success", "login.success"]
    text = page_text(response)
    assert "Dr Ada Lovelace" in text and "127.0.0.1" in text
    assert f'href="/practitioner/screening/{screening["reference"]}/contact"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        ({"action": "review.override"}, ["review.override"]),
        ({"action": "login.success"}, ["login.success"] * 3),
        ({"practitioner": "3"}, ["screening.view", "login.success"]),
        ({"target": "{ref}"}, ["screening.view", "review.override", "screening.view"]),
        ({"target": "{ref_lower}"}, ["screening.view", "review.override", "screening.view"]),
        ({"target": "bob@example.com"}, ["login.success"]),
        ({"since": "{tomorrow}"}, []),
        ({"until": "{yesterday}"}, ["login.success"]),
    ],
)
def test_audit_page_filters(
    app: Flask, doctor: FlaskClient, admin: FlaskClient, query_string: dict[str, str], expected: list[str]
) -> None:
    screening = add_screening(app, keloids="unsure")
    reference = screening["reference"]
    override(app, doctor, reference)  # views the page, then decides
    bob = signed_in(app, "bob@example.com", "Dr Bob")
    view(app, bob, reference)
    # Behind the app's back, to age the first row: the log refuses changes otherwise.
    three_days_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).isoformat()
    if storage.is_postgres_url(app.config["DATABASE"]):
        # The database outlives the test on PostgreSQL: the trigger is switched off only for the update.
        execute(app, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
        execute(app, "UPDATE audit_log SET at = ? WHERE id = 1", [three_days_ago])
        execute(app, "ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update")
    else:
        execute(app, "DROP TRIGGER audit_log_no_update")
        execute(app, "UPDATE audit_log SET at = ? WHERE id = 1", [three_days_ago])
    today = dt.date.today()
    values = {
        "ref": reference,
        "ref_lower": reference.lower(),
        "tomorrow": (today + dt.timedelta(days=1)).isoformat(),
        "yesterday": (today - dt.timedelta(days=1)).isoformat(),
    }
    response = admin.get("/practitioner/audit", query_string={k: v.format(**values) for k, v in query_string.items()})
    assert response.status_code == 200
    assert re.findall(r'data-action="([\w.]+)"', response.get_data(as_text=True)) == expected


def test_audit_page_pages_through_a_long_log(app: Flask, doctor: FlaskClient, admin: FlaskClient) -> None:
    screening = add_screening(app)
    view(app, doctor, screening["reference"])
    (seen,) = [row for row in audit_rows(app) if row["target"] and screening["reference"] in row["target"]]
    with app.app_context(), storage.write_transaction(get_db()) as db:
        for _ in range(103):  # 103 more views of the same kind, without rendering 103 pages
            storage.record_audit(
                db,
                seen["action"],
                actor=seen["actor"],
                practitioner_id=seen["practitioner_id"],
                target=seen["target"],
                client_address=seen["client_address"],
                details=json.loads(seen["details"]) if seen["details"] else None,
            )
    first = admin.get("/practitioner/audit")
    html = first.get_data(as_text=True)
    assert html.count('class="audit-row"') == 100
    next_url = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    second = admin.get(next_url).get_data(as_text=True)
    assert second.count('class="audit-row"') == 6  # 4 views and the two sign-ins
    assert 'data-action="login.success"' in second


def test_bad_audit_filters_are_refused(doctor: FlaskClient, admin: FlaskClient) -> None:
    response = admin.get("/practitioner/audit", query_string={"action": "rm -rf", "since": "yesterday"})
    assert response.status_code == 400
    assert "Not a valid choice" in page_text(response)
    assert "Not a valid date value" in page_text(response)


def test_the_audit_log_is_append_only_from_the_app(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    confirm(app, doctor, screening["reference"])
    first = audit_rows(app)
    override(app, doctor, screening["reference"])
    assert audit_rows(app)[: len(first)] == first
    assert query(app, "SELECT count(*) AS n FROM reviews") == [{"n": 2}]


# --- Every response that shows patient data, and every refusal --------------------------


@pytest.mark.parametrize(
    ("method", "path", "data", "expected_status", "details"),
    [
        ("GET", "/practitioner/screening/{ref}", None, 200, None),
        ("GET", "/practitioner/screening/{ref}/answers", None, 200, {"part": "answers", "status": 200}),
        ("POST", "/practitioner/screening/{ref}/answers", {"revision": "x"}, 400, {"part": "answers", "status": 400}),
        ("POST", "/practitioner/screening/{ref}/review", {"status": "review"}, 400, {"status": 400}),
        ("POST", "/practitioner/screening/{ref}/reconfirm", {}, 400, {"status": 400}),
        ("GET", "/practitioner/screening/{ref}/contact", None, 200, {"part": "contact"}),
    ],
)
def test_every_page_showing_a_screening_is_audited(
    app: Flask,
    doctor: FlaskClient,
    method: str,
    path: str,
    data: dict[str, str] | None,
    expected_status: int,
    details: dict[str, Any] | None,
) -> None:
    reference = add_screening(app, PATIENT)["reference"]
    response = doctor.open(path.format(ref=reference), method=method, data=data)
    assert response.status_code == expected_status
    assert PATIENT in page_text(response)
    (row,) = audit_rows(app, "screening.view")
    assert row["actor"] == EMAIL and row["target"] == f"screening:{reference}"
    assert (json.loads(row["details"]) if row["details"] else None) == details


def test_the_queue_and_its_search_are_audited_by_filters_not_names(app: Flask, doctor: FlaskClient) -> None:
    add_screening(app, PATIENT)
    doctor.get("/practitioner/", query_string={"q": "Petrova", "status": "eligible"})
    doctor.get("/practitioner/")
    rows = audit_rows(app, "screening.list")
    assert [json.loads(r["details"]) for r in rows] == [
        {"status": "eligible", "search": True, "shown": 1},
        {"search": False, "shown": 1},
    ]
    assert "Petrova" not in json.dumps(audit_rows(app))


def test_api_reads_without_a_valid_token_are_audited(app: Flask, client: FlaskClient) -> None:
    assert client.get("/api/v1/screenings").status_code == 401
    assert client.get("/api/v1/screenings/ABCDEFGH", headers={"Authorization": "Bearer nope"}).status_code == 401
    rows = audit_rows(app, "access.denied")
    assert [json.loads(r["details"])["reason"] for r in rows] == ["no token", "bad token"]
    assert all(r["client_address"] == "127.0.0.1" for r in rows)


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"])
def test_the_database_refuses_to_change_the_audit_log(app: Flask, doctor: FlaskClient, statement: str) -> None:
    before = audit_rows(app)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        execute(app, statement)
    assert audit_rows(app) == before


def test_the_audit_page_shows_actions_in_words(app: Flask, doctor: FlaskClient, admin: FlaskClient) -> None:
    view(app, doctor, add_screening(app)["reference"])
    text = page_text(admin.get("/practitioner/audit"))
    assert "Viewed a screening" in text and "Signed in" in text
