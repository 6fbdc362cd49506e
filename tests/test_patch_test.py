"""The test patch before a course's first session: staff record the patch and its read-out, session 1
waits for a clear read-out still valid on its day, the page names what is missing, the due view lists
the patients waiting for a read-out, and the patient's result page says the patch comes first."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import storage
from screening.core.engine import screen
from screening.web.db import get_db
from screening.web.i18n import format_iso_date
from screening.web.ruleset import get_rulebook, get_ruleset
from tests.helpers import (
    CLEAR_ANSWERS,
    SESSION_SETTINGS,
    add_screening,
    audit_rows,
    override_to_eligible,
    page_text,
    query,
    save_answers,
    today,
)

LASER, IPL = "laser_rejuvenation", "ipl_photorejuvenation"
# Skin type V's laser patch (rules.yaml): read at 14 days or later, a clear read-out counts for 90 days.
READOUT_DAYS, VALID_DAYS = 14, 90
# Session 1 for skin type V is outside the example protocol's ranges (devices.yaml): a reason lets it stand.
SESSION = {**SESSION_SETTINGS, "override_reason": "Settings agreed after the test patch"}


def days_ago(days: int) -> dt.date:
    return today() - dt.timedelta(days=days)


def spelled(app: Flask, day: dt.date) -> str:
    """A day as the English pages write it."""
    with app.test_request_context():
        return format_iso_date(day.isoformat())


def in_course(app: Flask, doctor: FlaskClient, **changes: Any) -> dict[str, Any]:
    """A skin type V laser screening (a review), cleared by a practitioner, with a course started today."""
    screening = add_screening(app, **{"skin_type": "V", **changes})
    assert screening["status"] == "review" and screening["procedure"] == LASER
    reference = screening["reference"]
    assert override_to_eligible(doctor, reference, "clarified_with_patient", "Type V seen in person").status_code == 303
    data = {"started_on": today().isoformat(), "planned_sessions": "6", "interval_weeks": "4"}
    assert doctor.post(f"/practitioner/screening/{reference}/course", data=data).status_code == 303
    return screening


def fire_patch(doctor: FlaskClient, reference: str, day: dt.date, **form: str) -> Any:
    data = {
        "patch-tested_on": day.isoformat(),
        "patch-site": "Left preauricular cheek",
        "patch-device": "Nd:YAG 1064",
        "patch-fluence_j_cm2": "10",
        "patch-settings": "10 ms, 5 mm, 3 pulses",
        **form,
    }
    return doctor.post(f"/practitioner/screening/{reference}/patch", data=data)


def read_patch(app: Flask, doctor: FlaskClient, reference: str, day: dt.date, result: str, note: str = "") -> Any:
    waiting = query(app, "SELECT id FROM patch_tests WHERE result IS NULL ORDER BY id DESC")
    data = {
        "readout-patch": str(waiting[0]["id"]) if waiting else "",
        "readout-read_on": day.isoformat(),
        "readout-result": result,
        "readout-note": note,
    }
    return doctor.post(f"/practitioner/screening/{reference}/patch/readout", data=data)


def session_one(doctor: FlaskClient, reference: str) -> Any:
    data = {"given_on": today().isoformat(), "number": "1", "note": "", **SESSION}
    return doctor.post(f"/practitioner/screening/{reference}/session", data=data)


def sessions(app: Flask) -> list[dict[str, Any]]:
    return query(app, "SELECT number FROM course_sessions")


def test_session_one_waits_for_a_clear_read_out_of_the_test_patch(app: Flask, doctor: FlaskClient) -> None:
    reference = in_course(app, doctor)["reference"]
    page = page_text(doctor.get(f"/practitioner/screening/{reference}"))
    assert "Required before the first session: read the patch no sooner than 336 hours after it is fired" in page
    assert "Before session 1: No test patch recorded." in page

    refused = session_one(doctor, reference)
    assert refused.status_code == 400
    assert "No test patch recorded." in page_text(refused)

    fired_on = days_ago(20)
    assert fire_patch(doctor, reference, fired_on).status_code == 303
    due_on = fired_on + dt.timedelta(days=READOUT_DAYS)
    refused = session_one(doctor, reference)
    assert refused.status_code == 400
    waiting = f"The read-out of the test patch of {spelled(app, fired_on)} is due on {spelled(app, due_on)}."
    assert waiting in page_text(refused)
    assert sessions(app) == []

    assert read_patch(app, doctor, reference, days_ago(3), "clear").status_code == 303
    page = page_text(doctor.get(f"/practitioner/screening/{reference}"))
    assert "Before session 1" not in page and "Clear on" in page
    given = session_one(doctor, reference)
    assert given.status_code == 303, page_text(given)
    assert sessions(app) == [{"number": 1}]

    (patch,) = query(app, "SELECT * FROM patch_tests")
    (doctor_id,) = query(app, "SELECT id FROM practitioners")
    assert patch["procedure"] == LASER and patch["tested_on"] == fired_on.isoformat()
    assert patch["performed_by"] == patch["read_by"] == doctor_id["id"]
    assert (patch["result"], patch["read_on"], patch["site"]) == (
        "clear",
        days_ago(3).isoformat(),
        "Left preauricular cheek",
    )
    assert len(audit_rows(app, "patch.record")) == 1 and len(audit_rows(app, "patch.readout")) == 1


@pytest.mark.parametrize(
    ("fired", "read", "result", "message"),
    [
        # Read 100 days ago: it counted for 90 days.
        (120, 100, "clear", "The clear read-out of {read} expired on {expired}."),
        (
            20,
            3,
            "reaction",
            "The test patch of {fired} showed a reaction on {read}: no session until a new test patch reads clear.",
        ),
        # Read 10 days after firing: type V's patch is read at 14 days or later.
        (
            20,
            10,
            "clear",
            "The read-out of the test patch of {fired} was recorded on {read}, before it was due on {due}:"
            " fire a new test patch.",
        ),
    ],
    ids=["expired", "reaction", "read too early"],
)
def test_session_one_is_refused_on_a_read_out_that_does_not_count(
    app: Flask, doctor: FlaskClient, fired: int, read: int, result: str, message: str
) -> None:
    reference = in_course(app, doctor)["reference"]
    assert fire_patch(doctor, reference, days_ago(fired)).status_code == 303
    assert read_patch(app, doctor, reference, days_ago(read), result, "Erythema 3 mm").status_code == 303

    refused = session_one(doctor, reference)
    assert refused.status_code == 400
    expected = message.format(
        fired=spelled(app, days_ago(fired)),
        read=spelled(app, days_ago(read)),
        due=spelled(app, days_ago(fired) + dt.timedelta(days=READOUT_DAYS)),
        expired=spelled(app, days_ago(read) + dt.timedelta(days=VALID_DAYS)),
    )
    assert expected in page_text(refused)
    assert sessions(app) == []

    # A new patch, read clear in time, lets session 1 go ahead.
    assert fire_patch(doctor, reference, days_ago(16)).status_code == 303
    assert read_patch(app, doctor, reference, days_ago(1), "clear").status_code == 303
    assert session_one(doctor, reference).status_code == 303
    assert sessions(app) == [{"number": 1}]


@pytest.mark.parametrize(
    ("fluence", "reason", "status", "outside"),
    [
        # Within the protocol's 10 J/cm² for type V and at the patch's 8,5: nothing to override.
        ("8.5", "", 303, None),
        # Within the protocol, but above the patch, which caps type V's first session (devices.yaml).
        ("9", "", 400, None),
        ("9", "Tolerated the patch well", 303, "patch_fluence"),
        # Above both: each is named and one reason overrides both.
        ("12", "", 400, None),
        ("12", "Agreed with the clinical lead", 303, "fluence,patch_fluence"),
    ],
    ids=["at the patch", "above the patch", "above it with a reason", "above both", "above both with a reason"],
)
def test_the_clear_patchs_fluence_caps_session_one(
    app: Flask, doctor: FlaskClient, fluence: str, reason: str, status: int, outside: str | None
) -> None:
    reference = in_course(app, doctor)["reference"]
    # Typed with a comma, as a Russian keyboard types it.
    assert fire_patch(doctor, reference, days_ago(20), **{"patch-fluence_j_cm2": "8,5"}).status_code == 303
    assert query(app, "SELECT fluence_j_cm2 FROM patch_tests") == [{"fluence_j_cm2": 8.5}]
    assert read_patch(app, doctor, reference, days_ago(3), "clear").status_code == 303
    assert "with Nd:YAG 1064 (8.5 J/cm², 10 ms, 5 mm, 3 pulses)" in page_text(
        doctor.get(f"/practitioner/screening/{reference}")
    )

    data = {"given_on": today().isoformat(), "number": "1", "note": "", **SESSION_SETTINGS}
    given = doctor.post(
        f"/practitioner/screening/{reference}/session",
        data={**data, "fluence_j_cm2": fluence, "override_reason": reason},
    )
    assert given.status_code == status
    if status == 400:
        text = page_text(given)
        assert "Above the test patch's 8.5 J/cm² for a first session." in text
        assert "A setting is outside the clinic's protocol: give the reason, or change the setting." in text
        assert sessions(app) == []
    else:
        stored = query(app, "SELECT number, outside_protocol, override_reason FROM course_sessions")
        assert stored == [{"number": 1, "outside_protocol": outside, "override_reason": reason or None}]


def test_the_patch_does_not_cap_a_later_session(app: Flask, doctor: FlaskClient) -> None:
    reference = in_course(app, doctor)["reference"]
    assert fire_patch(doctor, reference, days_ago(20), **{"patch-fluence_j_cm2": "8"}).status_code == 303
    assert read_patch(app, doctor, reference, days_ago(3), "clear").status_code == 303
    data = {"note": "", **SESSION_SETTINGS, "fluence_j_cm2": "8"}
    first = {**data, "given_on": today().isoformat(), "number": "1"}
    assert doctor.post(f"/practitioner/screening/{reference}/session", data=first).status_code == 303
    # Session 2 at 9 J/cm²: within type V's 10, and the patch caps the first session only.
    second = {**data, "given_on": today().isoformat(), "number": "2", "fluence_j_cm2": "9"}
    given = doctor.post(f"/practitioner/screening/{reference}/session", data=second)
    assert given.status_code == 303, page_text(given)
    assert query(app, "SELECT number, outside_protocol FROM course_sessions ORDER BY number") == [
        {"number": 1, "outside_protocol": None},
        {"number": 2, "outside_protocol": None},
    ]


@pytest.mark.parametrize(
    ("form", "field_message"),
    [
        ({"readout-result": "reaction", "readout-note": ""}, "Describe the reaction."),
        ({"readout-result": ""}, "Choose clear or reaction."),
        ({"readout-read_on": (today() + dt.timedelta(days=1)).isoformat()}, "The date cannot be in the future."),
        ({"readout-read_on": "2020-01-01"}, "Enter a date within the last year."),
    ],
    ids=["reaction without a note", "no result", "future", "years ago"],
)
def test_a_bad_read_out_is_refused_beside_its_field(
    app: Flask, doctor: FlaskClient, form: dict[str, str], field_message: str
) -> None:
    reference = in_course(app, doctor)["reference"]
    assert fire_patch(doctor, reference, days_ago(15)).status_code == 303
    (waiting,) = query(app, "SELECT id FROM patch_tests")
    data = {"readout-patch": str(waiting["id"]), "readout-read_on": today().isoformat(), "readout-result": "clear"}
    refused = doctor.post(f"/practitioner/screening/{reference}/patch/readout", data={**data, **form})
    assert refused.status_code == 400
    assert field_message in page_text(refused)
    assert query(app, "SELECT result FROM patch_tests") == [{"result": None}]


def test_a_patch_needs_its_site_device_and_settings_and_a_read_out_a_waiting_patch(
    app: Flask, doctor: FlaskClient
) -> None:
    reference = in_course(app, doctor)["reference"]
    refused = fire_patch(
        doctor, reference, days_ago(1), **{"patch-site": " ", "patch-settings": "", "patch-fluence_j_cm2": ""}
    )
    assert refused.status_code == 400
    text = page_text(refused)
    assert "Say where the patch was fired." in text and "Enter the settings used." in text
    assert "Fluence (J/cm²) Error: Enter a number." in text
    refused = fire_patch(doctor, reference, days_ago(1), **{"patch-fluence_j_cm2": "0"})
    assert refused.status_code == 400
    assert "Enter a fluence from 0.01 to 1000 J/cm²." in page_text(refused)
    nothing_waits = read_patch(app, doctor, reference, today(), "clear")
    assert nothing_waits.status_code == 400
    assert "No test patch waits for a read-out: record the patch first." in page_text(nothing_waits)
    assert query(app, "SELECT * FROM patch_tests") == []


def test_the_due_view_lists_patients_waiting_for_a_read_out(app: Flask, doctor: FlaskClient) -> None:
    screening = in_course(app, doctor, name="Vera Waiting")
    fired_on = days_ago(2)
    assert fire_patch(doctor, screening["reference"], fired_on).status_code == 303
    page = page_text(doctor.get("/practitioner/due"))
    due_on = spelled(app, fired_on + dt.timedelta(days=READOUT_DAYS))
    assert f"Vera Waiting {screening['reference']} {spelled(app, fired_on)} {due_on}" in page

    assert read_patch(app, doctor, screening["reference"], today(), "reaction", "Blistering").status_code == 303
    assert "No test patch is waiting for a read-out." in page_text(doctor.get("/practitioner/due"))


def test_the_patients_result_page_says_a_test_patch_comes_first(app: Flask, doctor: FlaskClient) -> None:
    with app.app_context():
        saved = save_answers(get_db(), get_ruleset(app), skin_type="V")
    page = page_text(app.test_client().get(f"/result/{saved.token}"))
    assert "A test patch comes first" in page and "at least 336 h later" in page
    assert "ask for the test patch" in page

    fired_on = days_ago(1)
    assert fire_patch(doctor, saved.reference, fired_on).status_code == 303
    page = page_text(app.test_client().get(f"/result/{saved.token}"))
    due_on = fired_on + dt.timedelta(days=READOUT_DAYS)
    assert (
        f"Your test patch was done on {spelled(app, fired_on)}: it is checked on or after {spelled(app, due_on)}."
        in page
    )

    # Skin type III needs no patch for laser rejuvenation: the page says nothing of one.
    with app.app_context():
        clear = save_answers(get_db(), get_ruleset(app), name="Clara Clear", email="clara@example.com", phone=None)
    assert "test patch" not in page_text(app.test_client().get(f"/result/{clear.token}"))


def ipl_screening(app: Flask) -> dict[str, Any]:
    """Anna's IPL screening (the same patient record as her laser one)."""
    with app.app_context():
        ruleset = get_rulebook(app).get(IPL)
        answers = {k: v for k, v in CLEAR_ANSWERS.items() if k in ruleset.question_by_id}
        extra = {q: "no" for q in ("pigmented_lesions", "caution_medicines", "recent_pdt", "hair_removal_face")}
        verdict = screen(ruleset, {**answers, **extra}, today())
        saved = storage.save_screening(
            get_db(),
            verdict,
            storage.Patient(name="Anna Petrova", email="anna@example.com", phone="+7 912 345 67 89"),
            source="web",
            language="en",
            consent_version="2026-11",
            procedure=IPL,
        )
        screening = storage.get_screening(get_db(), saved.id)
    assert screening is not None
    return dict(screening)


def test_one_patients_ipl_course_and_laser_course_are_kept_apart(app: Flask, doctor: FlaskClient) -> None:
    laser = add_screening(app, skin_type="III")
    ipl = ipl_screening(app)
    assert ipl["patient_id"] == laser["patient_id"] and ipl["procedure"] == IPL
    if ipl["status"] != "eligible":
        assert override_to_eligible(doctor, ipl["reference"], "clarified_with_patient", "Seen").status_code == 303
    plan = {"started_on": today().isoformat(), "interval_weeks": "4"}
    course = f"/practitioner/screening/{laser['reference']}/course"
    assert doctor.post(course, data={**plan, "planned_sessions": "6"}).status_code == 303
    assert "No course yet." in page_text(doctor.get(f"/practitioner/screening/{ipl['reference']}"))
    course = f"/practitioner/screening/{ipl['reference']}/course"
    assert doctor.post(course, data={**plan, "planned_sessions": "3"}).status_code == 303

    with app.app_context():
        db = get_db()
        laser_course = storage.get_current_course(db, laser["patient_id"], LASER)
        ipl_course = storage.get_current_course(db, laser["patient_id"], IPL)
        assert laser_course is not None and ipl_course is not None
        assert (laser_course["planned_sessions"], ipl_course["planned_sessions"]) == (6, 3)
        assert sorted((c["procedure"], c["planned_sessions"]) for c in storage.list_open_courses(db)) == [
            (IPL, 3),
            (LASER, 6),
        ]
        assert [c["procedure"] for c in storage.list_open_courses(db, IPL)] == [IPL]
    assert "0 of 3 sessions given" in page_text(doctor.get(f"/practitioner/screening/{ipl['reference']}"))
    assert "0 of 6 sessions given" in page_text(doctor.get(f"/practitioner/screening/{laser['reference']}"))

    # IPL tests every patient first; a laser patch read clear does not count for it.
    assert fire_patch(doctor, laser["reference"], days_ago(10)).status_code == 303
    assert read_patch(app, doctor, laser["reference"], days_ago(5), "clear").status_code == 303
    refused = session_one(doctor, ipl["reference"])
    assert refused.status_code == 400 and "No test patch recorded." in page_text(refused)
