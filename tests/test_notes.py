"""Notes for the session (rules with outcome "note"): stored with the screening,
shown to the practitioner, sent by the API and FHIR, never a change of verdict."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import CLEAR_ANSWERS, add_screening, bearer, body, make_token, page_text

CASES = [
    # answers changed from the all-clear set, status, notes, reasons
    ({"skin_type": "IV"}, "eligible", ["skin_type_iv"], []),
    # Recent topical retinoids defer (issue 29): a reason, not a note.
    ({"topical_retinoids": "yes"}, "deferred", [], ["topical_retinoids"]),
    ({"skin_type": "IV", "topical_retinoids": "yes"}, "deferred", ["skin_type_iv"], ["topical_retinoids"]),
    ({"skin_type": "IV", "pregnant": "yes"}, "deferred", ["skin_type_iv"], ["pregnancy"]),
    ({}, "eligible", [], []),
]


@pytest.mark.parametrize(("changes", "status", "notes", "reasons"), CASES)
def test_notes_are_stored_apart_from_the_reasons(
    app: Flask, changes: dict[str, Any], status: str, notes: list[str], reasons: list[str]
) -> None:
    row = add_screening(app, **changes)
    assert row["status"] == status
    assert [n["rule"] for n in row["notes"]] == notes
    assert [r["rule"] for r in row["reasons"]] == reasons
    assert all(n["outcome"] == "note" for n in row["notes"])


def test_fitzpatrick_iv_is_eligible_with_a_note_on_the_detail_page(app: Flask, doctor: FlaskClient) -> None:
    row = add_screening(app, skin_type="IV")
    text = page_text(doctor.get(f"/practitioner/screening/{row['reference']}"))
    assert "Notes for the session" in text
    assert "perform a test spot and use conservative settings" in text
    assert row["status"] == "eligible"


def test_detail_page_has_no_notes_section_without_notes(app: Flask, doctor: FlaskClient) -> None:
    row = add_screening(app)
    assert "Notes for the session" not in page_text(doctor.get(f"/practitioner/screening/{row['reference']}"))


def test_result_page_gives_the_patient_text_of_a_note_as_preparation(client: FlaskClient) -> None:
    form = {
        **{k: v for k, v in CLEAR_ANSWERS.items() if not isinstance(v, list)},
        "other_conditions": "none",
        "lifelong_history": "none",
        "skin_type": "IV",
        "patient_name": "Anna Petrova",
        "email": "anna@example.com",
        "consent": "y",
        "signature": "Anna Petrova",
    }
    response = client.post("/screening", data=form)
    assert response.status_code == 303, page_text(response)
    text = page_text(client.get(response.headers["Location"]))
    assert "How to prepare" in text
    assert "the practitioner may first try the laser on a small test spot" in text


def test_api_sends_notes_on_create_and_on_read(app: Flask, client: FlaskClient) -> None:
    created = client.post("/api/v1/screenings", json=body({**CLEAR_ANSWERS, "skin_type": "IV"}))
    assert created.status_code == 201
    payload = created.get_json()
    assert payload["status"] == "eligible"
    assert payload["reasons"] == []
    assert [n["rule"] for n in payload["notes"]] == ["skin_type_iv"]
    token, _ = make_token(app)
    read = client.get(f"/api/v1/screenings/{payload['reference']}", headers=bearer(token))
    assert [n["outcome"] for n in read.get_json()["notes"]] == ["note"]


def test_fhir_bundle_carries_a_note_as_a_low_severity_issue(app: Flask, client: FlaskClient) -> None:
    row = add_screening(app, skin_type="IV")
    token, _ = make_token(app)
    bundle = client.get(f"/api/v1/screenings/{row['reference']}/fhir", headers=bearer(token)).get_json()
    issues = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DetectedIssue"]
    assert [(i["code"]["coding"][0]["code"], i["severity"]) for i in issues] == [("skin_type_iv", "low")]
    verdicts = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert "eligible" in str(verdicts[0]["valueCodeableConcept"])


def test_rules_page_labels_note_rules(doctor: FlaskClient) -> None:
    assert "Note for the session" in page_text(doctor.get("/practitioner/rules"))
