"""Recording a session with its device and settings: checked against the clinic's protocol
(devices.yaml) for the patient's screened skin type, an override needing a reason, highlighted on
the course page and in the chart PDF, audited, and given by the API, FHIR and the sessions CSV.
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.procedure import Procedure
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import (
    SESSION_SETTINGS,
    add_screening,
    audit_rows,
    bearer,
    decide,
    execute,
    make_token,
    override_to_eligible,
    page_text,
    pdf_text,
    query,
    today,
)

REASON = "Test patch at 12 J/cm² read clear; patient tolerated 11 J/cm² last session"


def screened_on(app: Flask, day: dt.date, **changes: Any) -> dict[str, Any]:
    """A stored screening of Anna (one patient record), answered on ``day``."""
    screening = add_screening(app, **changes)
    execute(app, "UPDATE screenings SET created_at = ? WHERE id = ?", [f"{day}T10:00:00.000000+00:00", screening["id"]])
    return screening


def record(doctor: FlaskClient, reference: str, number: int, **form: str) -> Any:
    data = {"given_on": today().isoformat(), "number": str(number), "note": "", **SESSION_SETTINGS, **form}
    return doctor.post(f"/practitioner/screening/{reference}/session", data=data)


@pytest.fixture
def second_session(app: Flask, doctor: FlaskClient) -> dict[str, Any]:
    """Session 1 given on a skin type III screening four weeks ago; the same patient screened again today
    as skin type V (decided eligible), the course waiting for session 2."""
    start = today() - dt.timedelta(days=28)
    first = screened_on(app, start)
    started = doctor.post(
        f"/practitioner/screening/{first['reference']}/course",
        data={"started_on": start.isoformat(), "planned_sessions": "6", "interval_weeks": "4"},
    )
    assert started.status_code == 303
    assert decide(doctor, first["reference"], status="eligible").status_code == 303
    data = {**SESSION_SETTINGS, "given_on": start.isoformat(), "number": "1", "fluence_j_cm2": "11"}
    assert doctor.post(f"/practitioner/screening/{first['reference']}/session", data=data).status_code == 303
    second = screened_on(app, today(), skin_type="V")
    cleared = override_to_eligible(doctor, second["reference"], "clarified_with_patient", "Seen in clinic: type V")
    assert cleared.status_code == 303
    return second


def test_the_next_sessions_form_is_prefilled_from_the_last_session(
    doctor: FlaskClient, second_session: dict[str, Any]
) -> None:
    html = doctor.get(f"/practitioner/screening/{second_session['reference']}").get_data(as_text=True)
    assert '<option selected value="nd_yag/zoom">' in html
    for name, value in (("fluence_j_cm2", "11.0"), ("wavelength_nm", "1064"), ("passes", "2")):
        assert f'name="{name}"' in html and f'value="{value}"' in html.split(f'name="{name}"', 1)[1][:200]


def test_skin_type_v_above_the_protocols_fluence_needs_a_reason_and_is_highlighted_and_audited(
    app: Flask, doctor: FlaskClient, second_session: dict[str, Any]
) -> None:
    reference = second_session["reference"]
    refused = record(doctor, reference, 2, fluence_j_cm2="12")
    assert refused.status_code == 400
    text = page_text(refused)
    assert "Above the protocol's 10 J/cm² for skin type V." in text
    assert "A setting is outside the clinic's protocol: give the reason, or change the setting." in text
    html = refused.get_data(as_text=True)
    assert 'value="12"' in html.split('name="fluence_j_cm2"', 1)[1][:200]  # the answers are kept
    assert SESSION_SETTINGS["endpoint"] in html
    assert not query(app, "SELECT id FROM course_sessions WHERE number = 2")

    assert record(doctor, reference, 2, fluence_j_cm2="12", override_reason=REASON).status_code == 303
    (row,) = query(app, "SELECT * FROM course_sessions WHERE number = 2")
    assert (row["fluence_j_cm2"], row["wavelength_nm"], row["device"], row["handpiece"]) == (12, 1064, "nd_yag", "zoom")
    assert (row["outside_protocol"], row["override_reason"], row["settings"]) == ("fluence", REASON, None)
    (audited,) = audit_rows(app, "course.session_override")
    assert json.loads(audited["details"])["outside_protocol"] == ["fluence"]
    assert REASON not in audited["details"]  # the reason stays on the session

    html = doctor.get(f"/practitioner/screening/{reference}").get_data(as_text=True)
    assert 'class="session-override"' in html
    page = page_text(doctor.get(f"/practitioner/screening/{reference}"))
    assert f"Outside the protocol (fluence). Reason: {REASON}" in page
    assert "1064 nm, 12 J/cm², 10 ms, spot 5 mm, 2 pass(es), cooling: contact" in page


def test_within_the_protocol_no_reason_is_asked_and_what_the_device_cannot_give_is_refused(
    app: Flask, doctor: FlaskClient, second_session: dict[str, Any]
) -> None:
    reference = second_session["reference"]
    wrong = record(doctor, reference, 2, fluence_j_cm2="9", wavelength_nm="755", spot_mm="6")
    assert wrong.status_code == 400
    text = page_text(wrong)
    assert "This handpiece or filter emits 1064 nm." in text
    assert "This handpiece or filter offers spots of 3, 5, 7, 10 mm." in text
    blank = record(doctor, reference, 2, fluence_j_cm2="", device="", endpoint="")
    assert blank.status_code == 400
    for message in ("Enter a number.", "Choose the device and handpiece or filter.", "Describe the endpoint seen."):
        assert message in page_text(blank)
    # 9,5 J/cm² typed with a decimal comma, within skin type V's 10: recorded with no reason.
    assert record(doctor, reference, 2, fluence_j_cm2="9,5", override_reason="not needed").status_code == 303
    (row,) = query(app, "SELECT fluence_j_cm2, outside_protocol, override_reason FROM course_sessions WHERE number = 2")
    assert row == {"fluence_j_cm2": 9.5, "outside_protocol": None, "override_reason": None}
    assert not audit_rows(app, "course.session_override")


def test_a_skin_type_the_screening_leaves_unsure_needs_a_reason(app: Flask, doctor: FlaskClient) -> None:
    screening = screened_on(app, today(), skin_type="unsure")
    doctor.post(
        f"/practitioner/screening/{screening['reference']}/course",
        data={"started_on": today().isoformat(), "planned_sessions": "6", "interval_weeks": "4"},
    )
    cleared = override_to_eligible(doctor, screening["reference"], "clarified_with_patient", "Seen in clinic")
    assert cleared.status_code == 303
    refused = record(doctor, screening["reference"], 1)
    assert "The protocol has no range for skin type unsure in this procedure." in page_text(refused)
    assert not query(app, "SELECT id FROM course_sessions")


def chart_text(data: bytes) -> str:
    """The chart PDF's text; a narrow cell may wrap after a unit's slash ("J/ cm²")."""
    return pdf_text(data).replace("/ ", "/")


def test_the_chart_pdf_fhir_and_csv_give_the_settings_and_the_override(
    app: Flask, doctor: FlaskClient, admin: FlaskClient, second_session: dict[str, Any]
) -> None:
    reference = second_session["reference"]
    assert record(doctor, reference, 2, fluence_j_cm2="12", override_reason=REASON).status_code == 303

    pdf = doctor.get(f"/practitioner/screening/{reference}/chart.pdf", headers={"Accept-Language": "en"})
    assert pdf.status_code == 200
    text = chart_text(pdf.data)
    assert "1064 nm, 12 J/cm², 10 ms, spot 5 mm" in text and "1064 nm, 11 J/cm²" in text
    assert "Outside the protocol (fluence)." in text and "Reason: Test patch at 12 J/cm² read clear" in text

    token, _ = make_token(app)
    bundle = app.test_client().get(f"/api/v1/screenings/{reference}/fhir", headers=bearer(token)).get_json()
    Bundle.model_validate(bundle)
    (procedure,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Procedure"]
    Procedure.model_validate(procedure)
    quantities = {x["url"].rsplit("/", 1)[-1]: x.get("valueQuantity") for x in procedure["extension"]}
    assert quantities["session-fluence"] == {
        "value": 12,
        "unit": "J/cm2",
        "system": "http://unitsofmeasure.org",
        "code": "J/cm2",
    }
    assert procedure["focalDevice"][0]["manipulated"] == {"display": "nd_yag/zoom"}
    assert f"Override reason: {REASON}" in [n["text"] for n in procedure["note"]]
    record_json = app.test_client().get(f"/api/v1/screenings/{reference}/patient", headers=bearer(token)).get_json()
    assert record_json["course"]["sessions"][1]["outside_protocol"] == ["fluence"]

    def rows(client: FlaskClient) -> list[dict[str, str]]:
        response = client.get("/practitioner/export-sessions.csv")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        return list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))

    first, second = rows(doctor)
    assert (second["Session"], second["Fluence (J/cm2)"], second["Outside the protocol"]) == ("2", "12", "fluence")
    assert second["Override reason"] == REASON and second["Device"] == "nd_yag"
    assert first["Fluence (J/cm2)"] == "11" and first["Override reason"] == ""
    (admins_row, _) = rows(admin)[::-1]
    assert admins_row["Fluence (J/cm2)"] == "12" and "Override reason" not in admins_row  # clinical columns
    assert len(audit_rows(app, "export.sessions_csv")) == 2
