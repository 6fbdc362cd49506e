"""The patient record on the practitioner's page and the course of sessions:
linking by hand, recording sessions only on a valid screening, the "due" view."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import (
    CLEAR_ANSWERS,
    PATIENT_FORM,
    SESSION_SETTINGS,
    add_screening,
    audit_rows,
    bearer,
    decide,
    execute,
    make_token,
    page_text,
    query,
    today,
)


def screened_on(app: Flask, day: dt.date, **changes: Any) -> dict[str, Any]:
    """A stored screening of Anna (same e-mail and date of birth each time), answered on ``day``."""
    screening = add_screening(app, **changes)
    execute(app, "UPDATE screenings SET created_at = ? WHERE id = ?", [f"{day}T10:00:00.000000+00:00", screening["id"]])
    return screening


def patient_of(app: Flask, reference: str) -> int:
    return int(query(app, "SELECT patient_id FROM screenings WHERE reference = ?", [reference])[0]["patient_id"])


def start_course(doctor: FlaskClient, reference: str, **form: str) -> Any:
    data = {"started_on": form.pop("started_on", today().isoformat()), "planned_sessions": "6", "interval_weeks": "4"}
    return doctor.post(f"/practitioner/screening/{reference}/course", data={**data, **form})


def record(doctor: FlaskClient, reference: str, day: dt.date, number: int, **form: str) -> Any:
    data = {"given_on": day.isoformat(), "number": str(number), "note": "Tolerated well", **SESSION_SETTINGS}
    return doctor.post(f"/practitioner/screening/{reference}/session", data={**data, **form})


# --- The patient record -------------------------------------------------------------


def test_one_persons_screenings_share_a_record_and_a_name_alone_links_nothing(app: Flask, doctor: FlaskClient) -> None:
    first = add_screening(app, name="Anna Example", skin_type="II")
    second = add_screening(app, name="anna example ", email=" ANNA@example.com", phone="", skin_type="III")
    by_phone = add_screening(app, name="A. Example", email="", phone="+7 (912) 345-67-89")
    other_phone = add_screening(app, name="Anna Example", email="", phone="8 (912) 345-67-89")
    stranger = add_screening(app, name="Anna Example", email="other@example.com", phone="+7 900 000 00 00")
    older_namesake = add_screening(app, name="Anna Example", date_of_birth="1960-01-01")
    same = patient_of(app, first["reference"])
    assert patient_of(app, second["reference"]) == same
    assert patient_of(app, by_phone["reference"]) == same  # the phone's digits match
    assert patient_of(app, other_phone["reference"]) != same  # 8912... is not 7912...
    assert patient_of(app, stranger["reference"]) != same
    assert patient_of(app, older_namesake["reference"]) != same  # same e-mail, other date of birth
    # Only hashes are kept of the keys.
    assert not query(app, "SELECT * FROM patient_keys WHERE key LIKE '%@%'")

    page = page_text(doctor.get(f"/practitioner/screening/{second['reference']}"))
    assert "Other screenings of this patient" in page and first["reference"] in page
    assert stranger["reference"] not in page and older_namesake["reference"] not in page
    # What changed since the last screening.
    assert "How does your skin usually react to the sun without sunscreen?: Fair: usually burns" in page
    assert "→ Medium: sometimes burns" in page


def test_linking_by_hand_asks_to_confirm_other_dates_of_birth_and_is_audited(app: Flask, doctor: FlaskClient) -> None:
    anna = add_screening(app)
    other = add_screening(app, email="anna.p@example.com", phone="", date_of_birth="1991-05-31")
    assert patient_of(app, anna["reference"]) != patient_of(app, other["reference"])
    url = f"/practitioner/screening/{other['reference']}/link"

    refused = doctor.post(url, data={"other": anna["reference"]})
    assert refused.status_code == 400
    assert "The dates of birth differ (1991-05-31 here, 1990-05-31 there)" in page_text(refused)
    assert patient_of(app, anna["reference"]) != patient_of(app, other["reference"])
    assert doctor.post(url, data={"other": "NOSUCHCD"}).status_code == 400

    linked = doctor.post(url, data={"other": anna["reference"].lower(), "confirm_birth_date": "y"})
    assert linked.status_code == 303
    assert patient_of(app, anna["reference"]) == patient_of(app, other["reference"])
    (row,) = audit_rows(app, "patient.link")
    assert row["target"] == f"screening:{other['reference']}"
    assert '"birth_dates_differ": true' in row["details"] and anna["reference"] in row["details"]

    unlinked = doctor.post(f"/practitioner/screening/{other['reference']}/unlink")
    assert unlinked.status_code == 303
    assert patient_of(app, anna["reference"]) != patient_of(app, other["reference"])
    assert len(audit_rows(app, "patient.unlink")) == 1


# --- The course ---------------------------------------------------------------------


def test_sessions_one_to_three_over_three_screenings(app: Flask, doctor: FlaskClient) -> None:
    days = [today() - dt.timedelta(days=56), today() - dt.timedelta(days=28), today()]
    screenings = [screened_on(app, day) for day in days]
    first = screenings[0]["reference"]
    page = page_text(doctor.get(f"/practitioner/screening/{first}"))
    assert "No course yet." in page
    # The plan's defaults come from the rule file's procedure.
    html = doctor.get(f"/practitioner/screening/{first}").get_data(as_text=True)
    assert 'name="planned_sessions" required type="number" value="6"' in html
    assert start_course(doctor, first, started_on=days[0].isoformat()).status_code == 303
    for number, (day, screening) in enumerate(zip(days, screenings, strict=True), start=1):
        assert decide(doctor, screening["reference"], status="eligible").status_code == 303
        response = record(doctor, screening["reference"], day, number)
        assert response.status_code == 303, page_text(response)
    rows = query(app, "SELECT number, given_on, screening_id, note, settings FROM course_sessions ORDER BY number")
    assert [(r["number"], r["given_on"], r["screening_id"]) for r in rows] == [
        (n + 1, days[n].isoformat(), screenings[n]["id"]) for n in range(3)
    ]
    assert rows[0]["settings"] is None  # free text only on sessions before the typed settings
    page = page_text(doctor.get(f"/practitioner/screening/{screenings[2]['reference']}"))
    assert "3 of 6 sessions given, one every 4 weeks" in page
    assert f"by Dr Ada Lovelace (screening {screenings[1]['reference']})" in page
    assert "Next session due" in page
    assert len(audit_rows(app, "course.session")) == 3 and len(audit_rows(app, "course.start")) == 1


@pytest.mark.parametrize(
    ("setup", "offset", "expected"),
    [
        ("undecided", 0, ["The screening has no practitioner decision yet: review it first."]),
        (
            "expired",
            0,
            [
                "The screening has expired on the session date: the patient must be screened again.",
                "The answers were not re-confirmed on the session date: do the day-of-session check.",
            ],
        ),
        ("decided", 1, ["The session date is in the future."]),
        ("decided", -60, ["The session date is before the course began."]),
        ("not_cleared", 0, ["The decision on this screening does not clear the patient for a session."]),
    ],
)
def test_a_session_is_refused_naming_what_is_missing(
    app: Flask, doctor: FlaskClient, setup: str, offset: int, expected: list[str]
) -> None:
    day = today() - dt.timedelta(days=40) if setup == "expired" else today()
    screening = screened_on(app, day, **({"epilepsy": "yes"} if setup == "not_cleared" else {}))
    reference = screening["reference"]
    assert start_course(doctor, reference, started_on=(today() - dt.timedelta(days=50)).isoformat()).status_code == 303
    if setup != "undecided":
        # A "review" verdict (epilepsy) decided "deferred" clears no one.
        decision = (
            {"status": "deferred", "reason_code": "other", "defer_until": today().isoformat()}
            if setup == "not_cleared"
            else {"status": "eligible"}
        )
        assert decide(doctor, reference, **decision).status_code == 303
    response = record(doctor, reference, today() + dt.timedelta(days=offset), 1)
    assert response.status_code == 400
    page = page_text(response)
    for message in expected:
        assert message in page
    assert not query(app, "SELECT * FROM course_sessions")
    # What was typed is kept.
    assert "Tolerated well" in response.get_data(as_text=True)


def test_a_session_number_is_given_once(app: Flask, doctor: FlaskClient) -> None:
    reference = screened_on(app, today())["reference"]
    start_course(doctor, reference)
    decide(doctor, reference, status="eligible")
    assert record(doctor, reference, today(), 1).status_code == 303
    again = record(doctor, reference, today(), 1)
    assert again.status_code == 400
    assert "This session number is outside the plan or already recorded." in page_text(again)


def test_due_lists_patients_whose_next_session_falls_after_their_screenings_expiry(
    app: Flask, doctor: FlaskClient
) -> None:
    session_day = today() - dt.timedelta(days=30)
    due = screened_on(app, session_day)
    # Another patient, every four weeks: screened on the session day, still valid at the next.
    fine = screened_on(app, today() - dt.timedelta(days=20), email="bea@example.com", phone="", name="Bea Fine")
    start_course(doctor, due["reference"], started_on=session_day.isoformat(), interval_weeks="6")
    start_course(doctor, fine["reference"], started_on=(today() - dt.timedelta(days=20)).isoformat())
    for screening, day in ((due, session_day), (fine, today() - dt.timedelta(days=20))):
        decide(doctor, screening["reference"], status="eligible")
        assert record(doctor, screening["reference"], day, 1).status_code == 303

    page = page_text(doctor.get("/practitioner/due"))
    next_on = session_day + dt.timedelta(weeks=6)
    assert "Session 2 of 6 on" in page and str(next_on.year) in page
    assert due["reference"] in page and "Anna Petrova" in page
    assert fine["reference"] not in page and "Bea Fine" not in page
    # Beyond the window it is not listed yet.
    assert due["reference"] not in page_text(doctor.get("/practitioner/due?days=5"))


def test_the_patients_result_page_shows_the_course_and_aftercare(app: Flask, doctor: FlaskClient) -> None:
    patient = app.test_client()
    form = {**CLEAR_ANSWERS, **PATIENT_FORM, "patient_name": "Anna Example", "signature": "Anna Example"}
    result = patient.post("/screening", data=form).headers["Location"]
    assert "Your course of" not in page_text(patient.get(result))
    (row,) = query(app, "SELECT reference FROM screenings")
    start_course(doctor, row["reference"])
    decide(doctor, row["reference"], status="eligible")
    assert record(doctor, row["reference"], today(), 1).status_code == 303
    page = page_text(patient.get(result))
    assert "Session 1 of 6 done." in page and "Next session about" in page
    assert page.count("saunas") == 1  # the aftercare once, in the course (tests/test_returning.py: its place)
    assert "Start my next screening" in page


# --- API and FHIR -------------------------------------------------------------------


def test_the_api_and_fhir_give_the_patient_record_and_the_sessions(app: Flask, doctor: FlaskClient) -> None:
    from fhir.resources.R4B.bundle import Bundle
    from fhir.resources.R4B.procedure import Procedure

    first = screened_on(app, today() - dt.timedelta(days=28))
    second = screened_on(app, today())
    stranger = add_screening(app, email="someone@example.com", phone="")
    start_course(doctor, second["reference"], started_on=first["created_at"][:10])
    decide(doctor, second["reference"], status="eligible")
    assert record(doctor, second["reference"], today(), 1).status_code == 303
    token, _ = make_token(app)
    api = app.test_client()
    assert api.get(f"/api/v1/screenings/{second['reference']}/patient").status_code == 401
    assert api.get("/api/v1/screenings/NOSUCHCD/patient", headers=bearer(token)).status_code == 404

    body = api.get(f"/api/v1/screenings/{first['reference']}/patient", headers=bearer(token)).get_json()
    assert [s["reference"] for s in body["screenings"]] == [first["reference"], second["reference"]]
    assert body["course"]["planned_sessions"] == 6 and body["course"]["interval_days"] == 28
    (session,) = body["course"]["sessions"]
    assert session == {
        "number": 1,
        "given_on": today().isoformat(),
        "practitioner": "Dr Ada Lovelace",
        "screening": second["reference"],
        "note": "Tolerated well",
        "settings": None,
        "device": "nd_yag",
        "handpiece": "zoom",
        "wavelength_nm": 1064,
        "fluence_j_cm2": 12.0,
        "pulse_ms": 10.0,
        "spot_mm": 5.0,
        "passes": 2,
        "cooling": "contact",
        "endpoint": SESSION_SETTINGS["endpoint"],
        "immediate_reaction": SESSION_SETTINGS["immediate_reaction"],
        "outside_protocol": [],
        "override_reason": None,
    }
    assert body["course"]["next_session_on"] == (today() + dt.timedelta(days=28)).isoformat()
    assert audit_rows(app, "screening.view")[-1]["actor"].startswith("api-token:")

    def bundle(reference: str) -> dict[str, Any]:
        response = api.get(f"/api/v1/screenings/{reference}/fhir", headers=bearer(token))
        data: dict[str, Any] = json.loads(response.get_data(as_text=True))
        Bundle.model_validate(data)
        return data

    def patient_url(data: dict[str, Any]) -> str:
        return next(e["fullUrl"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient")

    first_bundle, second_bundle = bundle(first["reference"]), bundle(second["reference"])
    assert patient_url(first_bundle) == patient_url(second_bundle) != patient_url(bundle(stranger["reference"]))
    assert not [e for e in first_bundle["entry"] if e["resource"]["resourceType"] == "Procedure"]
    (procedure,) = [e["resource"] for e in second_bundle["entry"] if e["resource"]["resourceType"] == "Procedure"]
    Procedure.model_validate(procedure)
    response_url = next(
        e["fullUrl"] for e in second_bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"
    )
    assert {"reference": response_url} in [x.get("valueReference") for x in procedure["extension"]]
    assert procedure["status"] == "completed" and procedure["performedDateTime"] == today().isoformat()
    assert procedure["subject"] == {"reference": patient_url(second_bundle)}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("started_on", "2999-01-01", "Enter a date within a year of today."),
        ("started_on", "not a date", "Not a valid date value."),
        ("planned_sessions", "0", "Enter a number from 1 to 20."),
        ("interval_weeks", "", "Enter a number."),
    ],
)
def test_a_bad_course_plan_is_refused_beside_its_field(
    app: Flask, doctor: FlaskClient, field: str, value: str, message: str
) -> None:
    reference = add_screening(app)["reference"]
    response = start_course(doctor, reference, **{field: value})
    assert response.status_code == 400
    assert message in page_text(response)
    assert not query(app, "SELECT * FROM courses")


def test_erasing_a_patients_last_screening_erases_its_match_keys(app: Flask) -> None:
    from screening import storage

    first, second = add_screening(app), add_screening(app)
    keys = query(app, "SELECT key FROM patient_keys")
    assert len(keys) == 2  # e-mail and phone, each with the date of birth
    db = storage.connect(app.config["DATABASE"])
    try:
        storage.erase_screening(db, first["reference"])
        assert query(app, "SELECT key FROM patient_keys") == keys  # the other screening still uses them
        storage.erase_screening(db, second["reference"])
    finally:
        db.close()
    assert query(app, "SELECT key FROM patient_keys") == []
