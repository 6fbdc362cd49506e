"""Several procedures on the web side (issue 33): the patient chooses the treatments, the API
and FHIR name the procedure, the practitioner's queue, CSV and pages carry it."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from flask import Flask
from flask.testing import FlaskClient

from screening import storage
from screening.core.engine import screen
from screening.core.loader import load_rulebook
from screening.practitioner.words import rule_title
from screening.web.db import get_db
from tests.helpers import (
    CLEAR_ANSWERS,
    RULES_FILE,
    add_screening,
    audit_rows,
    bearer,
    body,
    deferral_to_review,
    longest_weekly_deferral,
    make_token,
    page_text,
    pdf_text,
    query,
    questionnaire_form,
    today,
)

LASER, IPL = "laser_rejuvenation", "ipl_photorejuvenation"
# What IPL asks and the laser does not, answered so that nothing applies.
IPL_CLEAR = {"pigmented_lesions": "no", "caution_medicines": "no", "recent_pdt": "no", "hair_removal_face": "no"}


def tan_and_type_iv() -> dict[str, Any]:
    """The acceptance's answers: a tan 5 weeks ago, skin type IV, nothing else, for either procedure."""
    tanned_on = (today() - dt.timedelta(weeks=5)).isoformat()
    return {**CLEAR_ANSWERS, **IPL_CLEAR, "recent_tan": "yes", "recent_tan_on": tanned_on, "skin_type": "IV"}


def asked(client: FlaskClient, procedure: str) -> set[str]:
    """The question ids of a procedure's questionnaire, as an API client reads them."""
    response = client.get(f"/api/v1/questionnaire?procedure={procedure}")
    assert response.status_code == 200
    assert response.get_json()["procedure"]["id"] == procedure
    return {question["id"] for question in response.get_json()["questions"]}


def test_the_same_answers_get_each_procedures_own_verdict_through_the_api(app: Flask, client: FlaskClient) -> None:
    answers = tan_and_type_iv()
    made = {}
    for procedure in (LASER, IPL):
        own = {key: value for key, value in answers.items() if key in asked(client, procedure)}
        response = client.post("/api/v1/screenings", json=body(own, procedure=procedure))
        assert response.status_code == 201, response.get_json()
        made[procedure] = response.get_json()
    assert made[LASER]["procedure"] == LASER
    assert made[IPL]["procedure"] == IPL
    assert made[LASER]["status"] == "deferred"
    assert made[IPL]["status"] == "review"
    # Each with its own procedure's reasons: the laser waits for the tan, IPL reviews skin type IV.
    assert [r["rule"] for r in made[LASER]["reasons"]] == ["recent_tan"]
    assert [r["rule"] for r in made[IPL]["reasons"]] == ["skin_type_iv"]
    token, _ = make_token(app)
    for procedure, created in made.items():
        read = client.get(f"/api/v1/screenings/{created['reference']}", headers=bearer(token)).get_json()
        assert (read["procedure"], read["status"]) == (procedure, created["status"])


def test_a_post_without_a_procedure_is_the_default_as_before(app: Flask, client: FlaskClient) -> None:
    response = client.post("/api/v1/screenings", json=body())
    assert response.status_code == 201
    assert (response.get_json()["procedure"], response.get_json()["status"]) == (LASER, "eligible")
    [row] = query(app, "SELECT procedure, submission FROM screenings")
    assert (row["procedure"], row["submission"]) == (LASER, None)


@pytest.mark.parametrize("procedure", ["tattoo_removal", 7, ["laser_rejuvenation"], ""])
def test_an_unknown_procedure_is_a_field_error(app: Flask, client: FlaskClient, procedure: Any) -> None:
    response = client.post("/api/v1/screenings", json=body(procedure=procedure))
    assert response.status_code == 400
    errors = response.get_json()["errors"]
    assert list(errors) == ["procedure"]
    assert "laser_rejuvenation, ipl_photorejuvenation" in errors["procedure"][0]
    assert query(app, "SELECT id FROM screenings") == []


def test_answers_to_a_question_the_procedure_does_not_ask_are_refused(client: FlaskClient) -> None:
    response = client.post("/api/v1/screenings", json=body({**CLEAR_ANSWERS, **IPL_CLEAR}))
    assert response.status_code == 400
    assert "answers.recent_pdt" in response.get_json()["errors"]


def test_each_procedure_has_its_own_questionnaire(client: FlaskClient) -> None:
    laser, ipl = asked(client, LASER), asked(client, IPL)
    assert "recent_pdt" in ipl - laser
    assert "keloids" in laser - ipl
    assert {"skin_type", "pregnant"} <= laser & ipl
    default = client.get("/api/v1/questionnaire").get_json()
    assert default["procedure"]["id"] == LASER
    unknown = client.get("/api/v1/questionnaire?procedure=nope")
    assert unknown.status_code == 400
    assert list(unknown.get_json()["errors"]) == ["procedure"]


def test_each_procedure_has_a_fhir_questionnaire_of_its_own(client: FlaskClient) -> None:
    urls = {}
    for path in (
        f"/fhir/Questionnaire/{LASER}",
        f"/fhir/Questionnaire/{IPL}",
        "/fhir/Questionnaire/ipl-photorejuvenation",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        parsed = Questionnaire.model_validate(response.get_json())
        urls[path] = parsed.url
        links = {item.linkId for group in parsed.item or [] for item in group.item or []}
        assert ("recent_pdt" in links) == ("ipl" in path)
    assert urls[f"/fhir/Questionnaire/{IPL}"] == urls["/fhir/Questionnaire/ipl-photorejuvenation"]
    assert urls[f"/fhir/Questionnaire/{IPL}"].endswith("/fhir/Questionnaire/ipl-photorejuvenation")
    # The default keeps the canonical URL it always had, and /fhir/Questionnaire stays the default's.
    assert urls[f"/fhir/Questionnaire/{LASER}"].endswith("/fhir/Questionnaire/screening")
    assert client.get("/fhir/Questionnaire").get_json()["url"] == urls[f"/fhir/Questionnaire/{LASER}"]
    assert client.get("/fhir/Questionnaire/screening").get_json()["url"] == urls[f"/fhir/Questionnaire/{LASER}"]
    assert client.get("/fhir/Questionnaire/tattoo-removal").status_code == 404


def test_the_bundle_names_its_procedures_questionnaire(app: Flask, client: FlaskClient) -> None:
    token, _ = make_token(app)
    answers = {key: value for key, value in tan_and_type_iv().items() if key in asked(client, IPL)}
    reference = client.post("/api/v1/screenings", json=body(answers, procedure=IPL)).get_json()["reference"]
    bundle = client.get(f"/api/v1/screenings/{reference}/fhir", headers=bearer(token)).get_json()
    Bundle.model_validate(bundle)
    [response] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse"]
    canonical = client.get(f"/fhir/Questionnaire/{IPL}").get_json()["url"]
    assert response["questionnaire"].startswith(canonical + "|")


# --- The patient's web form ------------------------------------------------------------


def test_a_booking_link_ticks_its_treatment_and_an_unknown_one_is_explained(client: FlaskClient) -> None:
    html = client.get(f"/?procedure={IPL}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f'value="{IPL}" id="procedure-{IPL}" checked' in html
    assert f'value="{LASER}" id="procedure-{LASER}" checked' not in html
    for path in ("/?procedure=tattoo_removal", "/screening?procedure=tattoo_removal"):
        response = client.get(path, headers={"Accept-Language": "en"})
        assert response.status_code == 404
        assert "does not offer here (“tattoo_removal”)" in page_text(response)


@pytest.mark.parametrize(
    ("query", "status", "shown"),
    [
        ("chose=1", 400, "Tick at least one treatment."),  # the start page's choice, every box unticked
        (f"chose=1&procedure={IPL}", 200, "IPL photorejuvenation"),
        ("", 200, "Laser facial rejuvenation"),  # a plain link to the questionnaire: the default, as before
    ],
)
def test_a_choice_with_no_treatment_ticked_is_refused_on_the_start_page(
    client: FlaskClient, query: str, status: int, shown: str
) -> None:
    response = client.get(f"/screening?{query}", headers={"Accept-Language": "en"})
    assert response.status_code == status
    text = page_text(response)
    assert shown in text
    if status == 400:
        html = response.get_data(as_text=True)
        assert "Which treatment are you interested in?" in text and " checked" not in html
        assert 'aria-describedby="procedure-error"' in html


def test_one_questionnaire_for_both_treatments_gives_two_verdicts(app: Flask, client: FlaskClient) -> None:
    page = client.get(f"/screening?procedure={LASER}&procedure={IPL}", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert 'name="recent_pdt"' in html and 'name="keloids"' in html  # every question of the two, once
    form = questionnaire_form(**tan_and_type_iv())
    response = client.post("/screening", data={**form, "procedure": [LASER, IPL]})
    assert response.status_code == 303, page_text(response)
    rows = query(app, "SELECT procedure, status, submission FROM screenings ORDER BY id")
    assert [(r["procedure"], r["status"]) for r in rows] == [(LASER, "deferred"), (IPL, "review")]
    assert rows[0]["submission"] is not None and rows[0]["submission"] == rows[1]["submission"]
    result = page_text(client.get(response.headers["Location"], headers={"Accept-Language": "en"}))
    assert "Your screening result for Laser facial rejuvenation" in result
    assert "Your screening result for IPL photorejuvenation" in result
    assert "Not just now" in result  # the laser's deferral
    assert "A practitioner needs to look at some of your answers" in result  # IPL's review
    # Both screenings were shown, so both views are audited.
    viewed = [row["target"] for row in audit_rows(app, "screening.view")]
    assert sorted(viewed) == sorted(f"screening:{row['reference']}" for row in references(app))
    # The patient's PDF is the whole result too: both treatments, each with its verdict.
    pdf = client.get(response.headers["Location"] + "/record.pdf", headers={"Accept-Language": "en"})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.get_data())
    assert "Your screening record: Laser facial rejuvenation" in text
    assert "Your screening result for IPL photorejuvenation" in text
    assert "Not just now" in text and "A practitioner needs to look at some of your answers" in text


def test_an_ipl_screenings_pdf_names_ipl(app: Flask, client: FlaskClient) -> None:
    response = client.post("/screening", data={**questionnaire_form(**IPL_CLEAR), "procedure": [IPL]})
    assert response.status_code == 303, page_text(response)
    text = pdf_text(client.get(response.headers["Location"] + "/record.pdf").get_data())
    assert "Your screening record: IPL photorejuvenation" in text and "Laser" not in text


def references(app: Flask) -> list[dict[str, Any]]:
    """Every stored screening's reference, oldest first."""
    return query(app, "SELECT reference FROM screenings ORDER BY id")


def test_one_treatment_is_todays_flow(app: Flask, client: FlaskClient) -> None:
    response = client.post("/screening", data=questionnaire_form())
    assert response.status_code == 303
    [row] = query(app, "SELECT procedure, submission FROM screenings")
    assert (row["procedure"], row["submission"]) == (LASER, None)
    result = page_text(client.get(response.headers["Location"], headers={"Accept-Language": "en"}))
    assert "Your screening result for" not in result


def test_ipl_alone_asks_only_its_questions(app: Flask, client: FlaskClient) -> None:
    html = client.get(f"/screening?procedure={IPL}").get_data(as_text=True)
    assert 'name="recent_pdt"' in html and 'name="keloids"' not in html
    answers = {k: v for k, v in {**CLEAR_ANSWERS, **IPL_CLEAR}.items() if k in asked(client, IPL)}
    details = {k: v for k, v in questionnaire_form().items() if k not in CLEAR_ANSWERS}
    response = client.post("/screening", data={**details, **answers, "procedure": IPL})
    assert response.status_code == 303, page_text(response)
    [row] = query(app, "SELECT procedure, status FROM screenings")
    assert (row["procedure"], row["status"]) == (IPL, "eligible")


# --- The practitioner's side ----------------------------------------------------------------


def test_the_queue_and_the_csv_filter_by_procedure(
    app: Flask, client: FlaskClient, doctor: FlaskClient, admin: FlaskClient
) -> None:
    laser = client.post("/api/v1/screenings", json=body()).get_json()["reference"]
    answers = {k: v for k, v in {**CLEAR_ANSWERS, **IPL_CLEAR}.items() if k in asked(client, IPL)}
    ipl = client.post("/api/v1/screenings", json=body(answers, procedure=IPL)).get_json()["reference"]
    both = doctor.get("/practitioner/?view=all").get_data(as_text=True)
    assert laser in both and ipl in both
    assert "IPL photorejuvenation" in both  # the treatment column
    only = doctor.get(f"/practitioner/?view=all&procedure={IPL}").get_data(as_text=True)
    assert ipl in only and laser not in only
    # The filter travels to the screening's page and its neighbours.
    assert f"procedure={IPL}" in only.split(f'data-reference="{ipl}"')[1].split("</tr>")[0]
    detail = doctor.get(f"/practitioner/screening/{ipl}?procedure={IPL}")
    assert "Treatment: IPL photorejuvenation" in page_text(detail)
    assert doctor.get("/practitioner/?procedure=nope").status_code == 400
    assert [(r["Reference"], r["Procedure"]) for r in csv_rows(admin, f"?procedure={IPL}")] == [(ipl, IPL)]
    assert {r["Procedure"] for r in csv_rows(admin)} == {LASER, IPL}


def csv_rows(client: FlaskClient, query_string: str = "") -> list[dict[str, str]]:
    """The queue's CSV export as rows keyed by the header."""
    response = client.get(f"/practitioner/export.csv{query_string}")
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))


# --- The rules page -----------------------------------------------------------------------------


def test_the_rules_page_shows_each_procedures_rules(doctor: FlaskClient) -> None:
    book = load_rulebook(RULES_FILE)
    pages = {pid: page_text(doctor.get(f"/practitioner/rules?procedure={pid}")) for pid in (LASER, IPL)}
    assert page_text(doctor.get("/practitioner/rules")) == pages[LASER]  # the default's without a choice
    for pid, text in pages.items():
        ruleset, other = book.get(pid), book.get(IPL if pid == LASER else LASER)
        assert f"Rules in force: {ruleset.procedure.name['en']}" in text
        for rule in ruleset.rules:
            assert rule_title(rule, "en") in text
        # The other procedure's own rules are not on this one's page.
        html = doctor.get(f"/practitioner/rules?procedure={pid}").get_data(as_text=True)
        own_ids = {rule.id for rule in ruleset.rules}
        theirs = [rule.id for rule in other.rules if rule.id not in own_ids]
        assert theirs
        for rule_id in theirs:
            assert f'id="rule-{rule_id}"' not in html
    # IPL's conditions read its own questions (a question the laser does not ask, in words, not its id).
    pigmented = book.get(IPL).question_by_id["pigmented_lesions"]
    assert pigmented.text["en"] in pages[IPL]
    assert doctor.get("/practitioner/rules?procedure=nope").status_code == 404


def test_the_candidate_report_compares_each_procedure_with_its_own_screenings(app: Flask, admin: FlaskClient) -> None:
    book = load_rulebook(RULES_FILE)
    ipl_rules = book.get(IPL)
    rule = longest_weekly_deferral(ipl_rules)
    example = next(e for e in ipl_rules.examples if e.fired == {rule.id} and e.status == "deferred")
    with app.app_context():
        saved = storage.save_screening(
            get_db(),
            screen(ipl_rules, example.answers, dt.date.today()),
            storage.Patient(name="Ira Sokolova", email="ira@example.com", phone=None),
            source="web",
            language="en",
            consent_version="2026-11",
            procedure=IPL,
        )
    laser = add_screening(app, name="Lev Orlov")
    candidate = deferral_to_review(RULES_FILE.read_text(encoding="utf-8"), rule)

    response = admin.post(
        "/practitioner/rules/candidate",
        data={"rules_file": (io.BytesIO(candidate.encode()), "candidate.yaml"), "days": "30"},
        content_type="multipart/form-data",
    )

    assert response.status_code == 200
    report = page_text(response).split("Candidate version", 1)[1]
    laser_part, ipl_part = report.split(ipl_rules.procedure.name["en"], 1)
    assert book.get(LASER).procedure.name["en"] in laser_part
    assert "No changes to questions or rules." in laser_part
    assert "Of 1 screening(s) from the last 30 day(s), each re-evaluated on its own screening day, 0 verdict(s)" in (
        laser_part
    )
    assert f"rule '{rule.id}': outcome changed from deferred to review" in ipl_part
    assert "Examples that fail under the candidate's rules" in ipl_part
    assert "Of 1 screening(s) from the last 30 day(s), each re-evaluated on its own screening day, 1 verdict(s)" in (
        ipl_part
    )
    assert f"{saved.reference} ({rule.id})" in ipl_part
    assert laser["reference"] not in report


def test_the_result_page_shows_the_course_of_its_own_procedure(
    app: Flask, client: FlaskClient, doctor: FlaskClient
) -> None:
    """One patient screened for both from one set of answers: an IPL course of 5 sessions is not the
    laser result's course; the laser course of 8 is."""
    answers = {**CLEAR_ANSWERS, **IPL_CLEAR}
    result = client.post("/screening", data={**questionnaire_form(**answers), "procedure": [LASER, IPL]})
    assert result.status_code == 303, page_text(result)
    laser_result = result.headers["Location"]
    rows = {r["procedure"]: r["reference"] for r in query(app, "SELECT procedure, reference FROM screenings")}
    course = {"started_on": today().isoformat(), "planned_sessions": "5", "interval_weeks": "4"}
    assert doctor.post(f"/practitioner/screening/{rows[IPL]}/course", data=course).status_code == 303
    assert "has been planned" not in page_text(client.get(laser_result))

    course["planned_sessions"] = "8"
    assert doctor.post(f"/practitioner/screening/{rows[LASER]}/course", data=course).status_code == 303

    assert "Your course of 8 sessions has been planned." in page_text(client.get(laser_result))
