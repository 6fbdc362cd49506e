"""A rule change applied in the app by two people: an administrator proposes the candidate
of the report, a medical director other than the proposer approves it, and the app serves
it without a restart (every process on the database); earlier versions can be restored
through the same approval; every step is audited."""

from __future__ import annotations

import hashlib
import html
import io
import re
import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import ROOT
from tests.helpers import (
    ADMIN_EMAIL,
    CLEAR_ANSWERS,
    PATIENT_FORM,
    RECEPTION_EMAIL,
    audit_rows,
    build_app,
    create_account,
    page_text,
    query,
    sign_in,
    signed_in,
)

DIRECTOR_EMAIL = "mira@example.com"
SECOND_ADMIN_EMAIL = "alan@example.com"


def with_version(text: str, version: str) -> str:
    """The rule file's text with another version string (its first top-level ``version:``)."""
    changed, count = re.subn(r"(?m)^version: .*$", f'version: "{version}"', text, count=1)
    assert count == 1
    return changed


def rules_text(app: Flask) -> str:
    return Path(app.config["RULES_FILE"]).read_text(encoding="utf-8")


def rules_version(client: FlaskClient) -> str:
    """The version the rules page says is in force."""
    found = re.search(r"<dt>Version</dt><dd>([^<]+)</dd>", client.get("/practitioner/rules").get_data(as_text=True))
    assert found
    return found.group(1)


def account_id(app: Flask, email: str) -> int:
    return int(query(app, "SELECT id FROM practitioners WHERE email = ?", [email])[0]["id"])


def make_director(admin: FlaskClient, app: Flask, email: str, on: bool = True) -> int:
    """The admin marks the account as a medical director on the accounts page."""
    response = admin.post(
        f"/practitioner/accounts/{account_id(app, email)}/medical-director",
        data={"medical_director": "1" if on else "0"},
    )
    return response.status_code


def upload(admin: FlaskClient, text: str) -> str:
    """The candidate report page for ``text``."""
    data = {"rules_file": (io.BytesIO(text.encode("utf-8")), "candidate.yaml"), "days": "30"}
    response = admin.post("/practitioner/rules/candidate", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, page_text(response)
    return response.get_data(as_text=True)


def propose(admin: FlaskClient, text: str, note: str = "Shorter wait after a tan") -> str:
    """Propose ``text`` from its candidate report; return the proposal page's path."""
    report = upload(admin, text)
    hidden = re.search(r'name="rules_text" type="hidden" value="([^"]+)"', report)
    assert hidden, "the report offers no 'Propose this file'"
    days = re.search(r'name="days" type="hidden" value="([^"]*)"', report)
    response = admin.post(
        "/practitioner/rules/changes",
        data={"rules_text": html.unescape(hidden.group(1)), "days": days.group(1) if days else "", "note": note},
    )
    assert response.status_code == 303, page_text(response)
    return response.headers["Location"].split("?")[0]


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    return signed_in(app, ADMIN_EMAIL, "Grace Admin", role="admin")


@pytest.fixture
def director(app: Flask, admin: FlaskClient) -> FlaskClient:
    """A practitioner the admin made a medical director."""
    client = signed_in(app, DIRECTOR_EMAIL, "Dr Mira Director")
    assert make_director(admin, app, DIRECTOR_EMAIL) == 303
    return client


def test_a_proposal_approved_by_a_medical_director_is_served_without_a_restart(
    app: Flask, admin: FlaskClient, director: FlaskClient
) -> None:
    before = rules_version(admin)
    candidate = with_version(rules_text(app), "2099.1.1")
    path = propose(admin, candidate)
    assert path == "/practitioner/rules/changes/1"
    page = page_text(director.get(path))
    assert "Proposed, waiting for a medical director" in page and "Shorter wait after a tan" in page
    assert "Candidate version 2099.1.1+" in page  # the report again: examples, warnings, changes, replay
    assert "example(s) passed" in page and "Past screenings" in page
    assert rules_version(admin) == before  # nothing changes until approved

    response = director.post(f"{path}/approve", data={"comment": "Checked with the lead dermatologist"})
    assert response.status_code == 303
    assert "2099.1.1+" in page_text(director.get(path))
    assert rules_version(admin).startswith("2099.1.1+")
    patient = app.test_client()
    assert patient.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM}).status_code == 303
    [screening] = query(app, "SELECT rules_version FROM screenings")
    assert screening["rules_version"].startswith("2099.1.1+")

    [row] = query(app, "SELECT * FROM rule_versions")
    disk = hashlib.sha256(Path(app.config["RULES_FILE"]).read_bytes()).hexdigest()
    assert (row["state"], row["decided_by"], row["proposed_by"]) == (
        "approved",
        account_id(app, DIRECTOR_EMAIL),
        account_id(app, ADMIN_EMAIL),
    )
    assert row["text"] == candidate and row["disk_sha256"] == disk and row["comment"].startswith("Checked")
    assert [r["target"] for r in audit_rows(app, "rules.propose")] == ["rules:1"]
    [approval] = audit_rows(app, "rules.approve")
    assert approval["actor"] == DIRECTOR_EMAIL and approval["target"] == "rules:1"
    [flag] = audit_rows(app, "practitioner.medical_director")
    assert flag["actor"] == ADMIN_EMAIL and flag["target"] == f"practitioner:{DIRECTOR_EMAIL}"


def test_the_proposer_cannot_approve_their_own_proposal(app: Flask, admin: FlaskClient) -> None:
    # An administrator who is also a medical director (marked by another administrator).
    proposer = signed_in(app, SECOND_ADMIN_EMAIL, "Alan Admin", role="admin")
    assert make_director(admin, app, SECOND_ADMIN_EMAIL) == 303
    before = rules_version(admin)
    path = propose(proposer, with_version(rules_text(app), "2099.1.1"))
    assert "another medical director must approve" in page_text(proposer.get(path))

    response = proposer.post(f"{path}/approve", data={"comment": "Looks right to me"})
    assert response.status_code == 403
    assert "You proposed this change: another medical director must approve or reject it." in page_text(response)
    assert proposer.post(f"{path}/reject", data={"comment": "No"}).status_code == 403
    assert [r["state"] for r in query(app, "SELECT state FROM rule_versions")] == ["proposed"]
    assert rules_version(admin) == before
    refusals = audit_rows(app, "rules.refused")
    assert [(r["actor"], r["target"]) for r in refusals] == [(SECOND_ADMIN_EMAIL, "rules:1")] * 2
    assert '"reason": "own_proposal"' in refusals[0]["details"]


@pytest.mark.parametrize(("role", "email"), [("practitioner", "ada@example.com"), ("admin", SECOND_ADMIN_EMAIL)])
def test_an_account_that_is_not_a_medical_director_cannot_approve(
    app: Flask, admin: FlaskClient, role: str, email: str
) -> None:
    other = signed_in(app, email, "Not A Director", role=role)
    path = propose(admin, with_version(rules_text(app), "2099.1.1"))
    response = other.post(f"{path}/approve", data={"comment": "Fine"})
    assert response.status_code == 403
    assert "Only a medical director can approve or reject a rule change." in page_text(response)
    assert [r["state"] for r in query(app, "SELECT state FROM rule_versions")] == ["proposed"]
    [refusal] = audit_rows(app, "rules.refused")
    assert refusal["actor"] == email and '"reason": "not_medical_director"' in refusal["details"]


def test_reception_cannot_open_rule_changes(app: Flask, admin: FlaskClient) -> None:
    path = propose(admin, with_version(rules_text(app), "2099.1.1"))
    reception = signed_in(app, RECEPTION_EMAIL, "Rita Reception", role="reception")
    assert reception.get(path).status_code == 403
    assert reception.post(f"{path}/approve", data={"comment": "Fine"}).status_code == 403
    assert make_director(admin, app, RECEPTION_EMAIL) == 303  # refused with a message, nothing set
    assert query(app, "SELECT medical_director FROM practitioners WHERE email = ?", [RECEPTION_EMAIL]) == [
        {"medical_director": 0}
    ]


def failing_example(text: str) -> str:
    changed, count = re.subn(r"expect: eligible\b", "expect: ineligible", text, count=1)
    assert count == 1
    return changed


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(failing_example, "expected ineligible, got eligible", id="failing-example"),
        pytest.param(lambda text: text.replace("rules:", "rules: [", 1), "YAML", id="yaml"),
        pytest.param(lambda text: text, "This file is the rule file in force", id="unchanged"),
    ],
)
def test_a_file_with_problems_cannot_be_proposed(app: Flask, admin: FlaskClient, change: object, message: str) -> None:
    import base64

    text = change(rules_text(app))  # type: ignore[operator]
    response = admin.post(
        "/practitioner/rules/changes", data={"rules_text": base64.b64encode(text.encode()).decode(), "note": ""}
    )
    assert response.status_code == 400
    assert message in page_text(response)
    assert query(app, "SELECT id FROM rule_versions") == []
    assert audit_rows(app, "rules.propose") == []


def test_the_report_of_a_file_whose_examples_fail_offers_no_proposal(app: Flask, admin: FlaskClient) -> None:
    report = upload(admin, failing_example(rules_text(app)))
    assert "A file whose examples fail cannot be proposed." in report
    assert 'name="rules_text"' not in report


def test_a_decision_needs_a_comment_and_a_rejection_keeps_the_rules(
    app: Flask, admin: FlaskClient, director: FlaskClient
) -> None:
    before = rules_version(admin)
    path = propose(admin, with_version(rules_text(app), "2099.1.1"))
    response = director.post(f"{path}/approve", data={"comment": "  "})
    assert response.status_code == 400 and "Say why, for the record." in page_text(response)
    assert director.post(f"{path}/reject", data={"comment": "Wait for the audit"}).status_code == 303
    assert "Rejected" in page_text(director.get(path)) and rules_version(admin) == before
    assert director.post(f"{path}/approve", data={"comment": "Changed my mind"}).status_code == 303  # no longer open
    assert [r["state"] for r in query(app, "SELECT state FROM rule_versions")] == ["rejected"]
    assert [r["actor"] for r in audit_rows(app, "rules.reject")] == [DIRECTOR_EMAIL]

    second = propose(admin, with_version(rules_text(app), "2099.2.1"))
    assert admin.post(f"{second}/withdraw").status_code == 303
    assert director.post(f"{second}/approve", data={"comment": "Fine"}).status_code == 303
    assert [r["state"] for r in query(app, "SELECT state FROM rule_versions ORDER BY id")] == ["rejected", "withdrawn"]
    assert [r["target"] for r in audit_rows(app, "rules.withdraw")] == ["rules:2"]
    assert rules_version(admin) == before


def test_restoring_the_previous_version_goes_through_the_same_approval(
    app: Flask, admin: FlaskClient, director: FlaskClient
) -> None:
    first = propose(admin, with_version(rules_text(app), "2099.1.1"))
    assert director.post(f"{first}/approve", data={"comment": "First"}).status_code == 303
    second = propose(admin, with_version(rules_text(app), "2099.2.1"))
    assert director.post(f"{second}/approve", data={"comment": "Second"}).status_code == 303
    assert rules_version(admin).startswith("2099.2.1+")
    listing = page_text(admin.get("/practitioner/rules/changes"))
    assert "Approved, since replaced" in listing and "Dr Mira Director" in listing and "Grace Admin" in listing

    response = admin.post(f"{first}/restore")
    assert response.status_code == 303
    restore = response.headers["Location"]
    assert restore == "/practitioner/rules/changes/3"
    assert rules_version(admin).startswith("2099.2.1+")  # a proposal only, until approved
    assert "Restores version 1 (2099.1.1+" in page_text(director.get(restore))
    assert director.post(f"{restore}/approve", data={"comment": "Back to the first"}).status_code == 303
    assert rules_version(admin).startswith("2099.1.1+")

    rows = query(app, "SELECT id, state, replaces_id, restores_id FROM rule_versions ORDER BY id")
    assert [(r["state"], r["replaces_id"], r["restores_id"]) for r in rows] == [
        ("superseded", None, None),
        ("superseded", 1, None),
        ("approved", 2, 1),
    ]
    [restored] = audit_rows(app, "rules.restore")
    assert restored["target"] == "rules:3" and '"restores": 1' in restored["details"]
    # The version in force cannot be restored again; a rejected one never can.
    assert admin.post(f"{restore}/restore").status_code == 303
    assert len(query(app, "SELECT id FROM rule_versions")) == 3


def test_another_process_on_the_database_serves_the_approved_version(
    app: Flask, admin: FlaskClient, director: FlaskClient, tmp_path: Path
) -> None:
    other = build_app(tmp_path / "other", DATABASE=app.config["DATABASE"], CONFIG_CHECK_SECONDS=0)
    patient = other.test_client()
    assert other.extensions["ruleset"].version != "2099.1.1"
    path = propose(admin, with_version(rules_text(app), "2099.1.1"))
    assert director.post(f"{path}/approve", data={"comment": "Fine"}).status_code == 303
    questionnaire = patient.get("/api/v1/questionnaire").get_json()
    assert questionnaire["rules_version"].startswith("2099.1.1+")
    # A server started afterwards serves it from its first request.
    late = build_app(tmp_path / "late", DATABASE=app.config["DATABASE"])
    assert late.extensions["ruleset"].version == "2099.1.1"


def test_a_disk_edit_after_the_approval_wins_again(app: Flask, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    shutil.copyfile(ROOT / "rules.yaml", rules)
    live = build_app(tmp_path / "live", DATABASE=app.config["DATABASE"], RULES_FILE=str(rules), CONFIG_CHECK_SECONDS=0)
    create_account(live, ADMIN_EMAIL, "Grace Admin", role="admin")
    create_account(live, DIRECTOR_EMAIL, "Dr Mira Director")
    admin, director = live.test_client(), live.test_client()
    assert sign_in(admin, ADMIN_EMAIL).status_code == 303 and sign_in(director, DIRECTOR_EMAIL).status_code == 303
    assert make_director(admin, live, DIRECTOR_EMAIL) == 303
    path = propose(admin, with_version(rules.read_text(encoding="utf-8"), "2099.1.1"))
    assert director.post(f"{path}/approve", data={"comment": "Fine"}).status_code == 303
    assert rules_version(admin).startswith("2099.1.1+")
    assert rules.read_text(encoding="utf-8") == (ROOT / "rules.yaml").read_text(encoding="utf-8")  # never written

    rules.write_text(with_version(rules.read_text(encoding="utf-8"), "2099.9.9"), encoding="utf-8")
    assert rules_version(admin).startswith("2099.9.9+")
    assert "They are the rule file on the server's disk." in page_text(admin.get("/practitioner/rules/changes"))


def test_only_administrators_set_the_flag_and_not_on_themselves(app: Flask, admin: FlaskClient) -> None:
    doctor = signed_in(app)
    assert (
        doctor.post(
            f"/practitioner/accounts/{account_id(app, ADMIN_EMAIL)}/medical-director", data={"medical_director": "1"}
        ).status_code
        == 403
    )
    assert make_director(admin, app, ADMIN_EMAIL) == 303
    assert query(app, "SELECT medical_director FROM practitioners WHERE email = ?", [ADMIN_EMAIL]) == [
        {"medical_director": 0}
    ]
    assert make_director(admin, app, "ada@example.com") == 303
    assert "Medical director" in page_text(admin.get("/practitioner/accounts"))
    assert make_director(admin, app, "ada@example.com", on=False) == 303
    assert [r["details"] for r in audit_rows(app, "practitioner.medical_director")] == [
        '{"medical_director": true}',
        '{"medical_director": false}',
    ]
