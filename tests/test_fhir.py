"""FHIR R4: the Questionnaire and the screening Bundle, validated with the
R4B models of fhir.resources (the same as R4 for these resources).

The models check structure and types (unknown elements, wrong types, bad
dates); they do not check code values, so the codes are asserted here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.detectedissue import DetectedIssue
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.questionnaire import Questionnaire
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from flask import Flask
from flask.testing import FlaskClient

from screening import storage
from screening.api import fhir
from screening.core import model as rules
from screening.core.loader import parse_rules
from screening.core.model import Condition, RuleSet
from tests.helpers import CLEAR_ANSWERS, bearer, body, make_token, months_ago, screening_row

URLS = fhir.FhirUrls("https://clinic.example/fhir/")
ITEM_TYPES = {"group", "display", "boolean", "choice", "date"}
SEVERITIES = {"ineligible": "high", "deferred": "moderate", "review": "low"}


def walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every item, depth first."""
    for item in items:
        yield item
        yield from walk(item.get("item", []))


# --- Questionnaire ----------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "ru"])
def test_questionnaire_validates_and_matches_rule_file(ruleset: RuleSet, language: str) -> None:
    resource = fhir.questionnaire_resource(ruleset, language, URLS)
    parsed = Questionnaire.model_validate(resource)
    assert parsed.status == "active"
    assert parsed.url == "https://clinic.example/fhir/Questionnaire/screening"
    assert parsed.version == ruleset.full_version
    assert parsed.language == language

    items = {item["linkId"]: item for item in walk(resource["item"])}
    assert len(items) == len(list(walk(resource["item"])))  # linkIds are unique
    assert {item["type"] for item in items.values()} <= ITEM_TYPES
    for question in ruleset.questions:
        item = items[question.id]
        assert item["text"] == question.text[language]
        assert item["required"] is question.required
        expected = {"date": "date", "choice": "choice", "multi": "choice"}[question.type]
        assert item["type"] == expected
        assert item.get("repeats", False) is (question.type == "multi")
        if question.type != "date":
            codings = [option["valueCoding"] for option in item["answerOption"]]
            assert [c["code"] for c in codings] == [o.value for o in question.options]
            assert [c["display"] for c in codings] == [o.label[language] for o in question.options]
            assert {c["system"] for c in codings} == {URLS.answer_system(question.id)}
        if question.help:
            [help_item] = item["item"]
            assert help_item["type"] == "display"
            assert help_item["text"] == question.help[language]
    # Sections are groups, in the rule file's order.
    assert [group["linkId"] for group in resource["item"]] == [f"section-{s.id}" for s in ruleset.sections]


def test_yes_no_unsure_is_choice_with_codings(ruleset: RuleSet) -> None:
    resource = fhir.questionnaire_resource(ruleset, "en", URLS)
    items = {item["linkId"]: item for item in walk(resource["item"])}
    pregnant = items["pregnant"]
    assert pregnant["type"] == "choice"
    assert [o["valueCoding"]["code"] for o in pregnant["answerOption"]] == ["yes", "no", "unsure"]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_none_and_unsure_are_exclusive_options_of_multi_questions(ruleset: RuleSet, language: str) -> None:
    parsed = Questionnaire.model_validate(fhir.questionnaire_resource(ruleset, language, URLS))
    options = {
        (item.linkId, option.valueCoding.code): option
        for group in parsed.item or []
        for item in group.item or []
        for option in item.answerOption or []
    }
    exclusive = {
        key
        for key, option in options.items()
        if [(e.url, e.valueBoolean) for e in option.extension or []] == [(fhir.OPTION_EXCLUSIVE, True)]
    }
    expected = {
        (q.id, o.value)
        for q in ruleset.questions
        if q.type == "multi"
        for o in q.options
        if o.value in ("none", "unsure")
    }
    # The health questions' "None of these" and "I'm not sure about one of these".
    assert {("other_conditions", "none"), ("other_conditions", "unsure")} <= expected
    assert exclusive == expected
    # The other options carry no extension at all, and single choices never do.
    assert all(not option.extension for key, option in options.items() if key not in exclusive)
    assert ("pregnant", "unsure") in options


def test_follow_up_has_enable_when(ruleset: RuleSet) -> None:
    resource = fhir.questionnaire_resource(ruleset, "en", URLS)
    items = {item["linkId"]: item for item in walk(resource["item"])}
    follow_up = items["isotretinoin_stopped_on"]
    assert follow_up["enableWhen"] == [
        {
            "question": "isotretinoin",
            "operator": "=",
            "answerCoding": {
                "system": URLS.answer_system("isotretinoin"),
                "code": "stopped",
                "display": "I took it in the past",
            },
        }
    ]
    assert "enableBehavior" not in follow_up
    questions_with_conditions = {q.id for q in ruleset.questions if q.show_if}
    assert {linkId for linkId, item in items.items() if "enableWhen" in item} == questions_with_conditions


YES_NO_RULES = b"""
version: "1"
sections: [{id: main, title: Main}]
option_sets:
  yes_no: [{value: "yes", label: "Yes"}, {value: "no", label: "No"}]
questions:
  - {id: smoker, section: main, type: choice, text: "Do you smoke?", options: yes_no, unsure_exempt: "yes or no only"}
  - id: packs
    section: main
    type: choice
    text: "How many packs?"
    options: [one, two, more]
    show_if: {smoker: "yes"}
  - {id: when, section: main, type: date, text: "Since when?", show_if: {packs: [two, more]}}
  - {id: both, section: main, type: choice, text: "Both?", options: yes_no, show_if: {smoker: "yes", packs: one}}
  - id: complex
    section: main
    type: choice
    text: "Complex?"
    options: yes_no
    show_if: {any: [{smoker: "no"}, {when: {within_months: 6}}]}
  - {id: adult, section: main, type: choice, text: "Adult?", options: yes_no, show_if: {when: {age_under: 18}}}
procedures:
  - id: test
    name: Test
    description: A test.
    course: One session.
    rules:
      - {id: smoking, when: {smoker: "yes"}, outcome: review, patient: P, practitioner: Smoker., source: S}
"""


@pytest.fixture(scope="module")
def yes_no_rules() -> RuleSet:
    return parse_rules(YES_NO_RULES)


def test_yes_no_question_is_boolean_and_conditions_translate(yes_no_rules: RuleSet) -> None:
    resource = fhir.questionnaire_resource(yes_no_rules, "en", URLS)
    Questionnaire.model_validate(resource)
    items = {item["linkId"]: item for item in walk(resource["item"])}
    assert items["smoker"]["type"] == "boolean"
    assert "answerOption" not in items["smoker"]
    assert items["packs"]["enableWhen"] == [{"question": "smoker", "operator": "=", "answerBoolean": True}]
    # One question, several values: any of them.
    assert items["when"]["enableBehavior"] == "any"
    assert [e["answerCoding"]["code"] for e in items["when"]["enableWhen"]] == ["more", "two"]
    # Several questions: all of them.
    assert items["both"]["enableBehavior"] == "all"
    assert [e["question"] for e in items["both"]["enableWhen"]] == ["smoker", "packs"]
    # What enableWhen cannot say becomes an SDC FHIRPath expression.
    [extension] = items["complex"]["extension"]
    assert extension["url"] == fhir.ENABLE_WHEN_EXPRESSION
    assert extension["valueExpression"]["expression"] == (
        "(((%resource.repeat(item).where(linkId = 'smoker').answer.value = false)) or "
        "(((%resource.repeat(item).where(linkId = 'when').answer.value + 6 months) > today())))"
    )
    assert "enableWhen" not in items["complex"]
    assert items["adult"]["extension"][0]["valueExpression"]["expression"] == (
        "(%resource.repeat(item).where(linkId = 'when').answer.value > today() - 18 years)"
    )


def test_condition_fhirpath_any_answer_and_quotes(ruleset: RuleSet) -> None:
    condition = Condition(tests=(rules.Test("cancer", frozenset({"it's", "active"})),), any_answer="unsure")
    assert fhir.condition_fhirpath(condition, ruleset) == (
        "(%resource.repeat(item).where(linkId = 'cancer').answer.value.code.where($this in ('active' | 'it\\'s'))"
        ".exists()) and (%resource.repeat(item).answer.value.code contains 'unsure')"
    )


@pytest.mark.parametrize(("accept", "language"), [("ru", "ru"), ("en", "en"), ("fr", "en")])
def test_fhir_questionnaire_endpoint(client: FlaskClient, ruleset: RuleSet, accept: str, language: str) -> None:
    response = client.get("/fhir/Questionnaire", headers={"Accept-Language": accept})
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    resource = response.get_json(force=True)
    parsed = Questionnaire.model_validate(resource)
    assert parsed.language == language
    assert parsed.url == "http://localhost/fhir/Questionnaire/screening"
    assert parsed.title == ruleset.procedure.name[language]
    # The canonical URL answers too.
    again = client.get("/fhir/Questionnaire/screening", headers={"Accept-Language": accept})
    assert again.get_json(force=True) == resource


def test_fhir_base_url_setting(app: Flask, client: FlaskClient) -> None:
    app.config["FHIR_BASE_URL"] = "https://fhir.clinic.example/r4"
    resource = client.get("/fhir/Questionnaire").get_json(force=True)
    assert resource["url"] == "https://fhir.clinic.example/r4/Questionnaire/screening"


# --- Screening bundle ----------------------------------------------------------------------

BUNDLE_ANSWERS = {
    **CLEAR_ANSWERS,
    "pregnant": "yes",
    "cancer": "active",
    "keloids": "yes",
    "epilepsy": "unsure",
    "concerns": ["wrinkles", "pores"],
}


def export(app: Flask, client: FlaskClient, answers: dict[str, Any], language: str = "en") -> dict[str, Any]:
    token, _ = make_token(app)
    created = client.post("/api/v1/screenings", json=body(answers))
    assert created.status_code == 201
    reference = created.get_json()["reference"]
    response = client.get(
        f"/api/v1/screenings/{reference}/fhir", headers={**bearer(token), "Accept-Language": language}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    data: dict[str, Any] = response.get_json(force=True)
    return data


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_bundle_validates_with_one_issue_per_fired_rule(app: Flask, client: FlaskClient, ruleset: RuleSet) -> None:
    bundle = export(app, client, BUNDLE_ANSWERS)
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])

    [response] = resources(bundle, "QuestionnaireResponse")
    [patient] = resources(bundle, "Patient")
    issues = resources(bundle, "DetectedIssue")
    QuestionnaireResponse.model_validate(response)
    Patient.model_validate(patient)
    for issue in issues:
        DetectedIssue.model_validate(issue)

    reference = bundle["identifier"]["value"]
    row = screening_row(app, reference)
    assert response["status"] == "completed"
    assert response["authored"] == row["created_at"]
    assert response["questionnaire"] == f"http://localhost/fhir/Questionnaire/screening|{row['rules_version']}"
    assert response["identifier"] == {
        "system": "http://localhost/fhir/NamingSystem/screening-reference",
        "value": reference,
    }
    assert patient["name"] == [{"text": "Anna Example"}]
    assert patient["telecom"] == [{"system": "email", "value": "anna@example.com"}]
    assert patient["birthDate"] == CLEAR_ANSWERS["date_of_birth"]

    assert [i["code"]["coding"][0]["code"] for i in issues] == [r["rule"] for r in row["reasons"]]
    rules = {rule.id: rule for rule in ruleset.rules}
    full_urls = {e["resource"]["resourceType"]: e["fullUrl"] for e in bundle["entry"]}
    for issue, reason in zip(issues, row["reasons"], strict=True):
        assert issue["severity"] == SEVERITIES[reason["outcome"]]
        assert issue["status"] == "preliminary"
        assert issue["detail"] == rules[reason["rule"]].practitioner["en"]
        assert issue["identifiedDateTime"] == row["created_at"]
        assert issue["patient"] == {"reference": full_urls["Patient"]}
        assert issue["implicated"] == [{"reference": full_urls["QuestionnaireResponse"]}]
        assert [e["code"][0]["coding"][0]["code"] for e in issue["evidence"]] == reason["questions"]
        assert all(d["reference"] == full_urls["QuestionnaireResponse"] for e in issue["evidence"] for d in e["detail"])
    severities = {i["code"]["coding"][0]["code"]: i["severity"] for i in issues}
    assert severities == {
        "cancer": "high",
        "pregnancy": "moderate",
        "keloids": "low",
        "unsure_answer": "low",
    }
    cancer = next(i for i in issues if i["code"]["coding"][0]["code"] == "cancer")
    assert {"system": "http://snomed.info/sct", "code": "363346000", "display": "Malignant neoplastic disease"} in (
        cancer["code"]["coding"]
    )


def test_response_answers_match_questionnaire(app: Flask, client: FlaskClient, ruleset: RuleSet) -> None:
    bundle = export(app, client, BUNDLE_ANSWERS)
    [response] = resources(bundle, "QuestionnaireResponse")
    questionnaire = fhir.questionnaire_resource(ruleset, "en", fhir.FhirUrls("http://localhost/fhir/"))
    q_items = {item["linkId"]: item for item in walk(questionnaire["item"])}

    answered = {item["linkId"]: item for item in walk(response["item"]) if "answer" in item}
    assert set(answered) == set(BUNDLE_ANSWERS)
    for link_id, item in answered.items():
        q_item = q_items[link_id]
        if q_item["type"] == "date":
            assert item["answer"] == [{"valueDate": BUNDLE_ANSWERS[link_id]}]
        else:
            options = [o["valueCoding"] for o in q_item["answerOption"]]
            assert all(answer["valueCoding"] in options for answer in item["answer"])
    assert [a["valueCoding"]["code"] for a in answered["concerns"]["answer"]] == ["wrinkles", "pores"]
    # Groups mirror the Questionnaire's sections.
    assert all(group["linkId"] in q_items and q_items[group["linkId"]]["type"] == "group" for group in response["item"])


def test_follow_ups_not_shown_are_left_out(app: Flask, client: FlaskClient) -> None:
    hidden = export(app, client, {**CLEAR_ANSWERS, "isotretinoin": "never", "isotretinoin_stopped_on": "2020-01-01"})
    [response] = resources(hidden, "QuestionnaireResponse")
    assert "isotretinoin_stopped_on" not in {item["linkId"] for item in walk(response["item"])}

    stopped_on = months_ago(2)
    shown = export(app, client, {**CLEAR_ANSWERS, "isotretinoin": "stopped", "isotretinoin_stopped_on": stopped_on})
    Bundle.model_validate(shown)
    [response] = resources(shown, "QuestionnaireResponse")
    items = {item["linkId"]: item for item in walk(response["item"])}
    assert items["isotretinoin_stopped_on"]["answer"] == [{"valueDate": stopped_on}]
    [issue] = resources(shown, "DetectedIssue")
    assert issue["severity"] == "moderate"
    rescreen = next(e for e in issue["extension"] if e["url"].endswith("screening-rescreen-after"))
    assert dt.date.fromisoformat(rescreen["valueDate"]) > dt.date.fromisoformat(stopped_on)


def test_clear_screening_has_no_issues(app: Flask, client: FlaskClient) -> None:
    bundle = export(app, client, CLEAR_ANSWERS, language="ru")
    Bundle.model_validate(bundle)
    assert resources(bundle, "DetectedIssue") == []
    [response] = resources(bundle, "QuestionnaireResponse")
    assert response["language"] == "ru"
    items = {item["linkId"]: item for item in walk(response["item"])}
    assert items["pregnant"]["answer"][0]["valueCoding"]["display"] == "Нет"


def test_bundle_from_an_older_rule_file_still_validates(ruleset: RuleSet) -> None:
    """Answers to questions the current rule file no longer has, and options it no longer offers."""
    screening = {
        "reference": "ACDEFGHJ",
        "created_at": "2026-11-24T10:00:00.000000+00:00",
        "rules_version": "2025.1+000000000000",
        "status": "review",
        "patient_name": "Old Patient",
        "contact_email": None,
        "contact_phone": "+7 912 345 67 89",
        "date_of_birth": None,
        "answers": {"pregnant": "perhaps", "retired_question": "yes", "old_list": ["a", 1]},
        "reasons": [
            {
                "rule": "old_rule",
                "outcome": "review",
                "questions": ["retired_question"],
                "patient": {"en": "P"},
                "practitioner": {"en": "Old note."},
                "source": "S",
                "rescreen_after": None,
            }
        ],
    }
    bundle = fhir.screening_bundle(screening, ruleset, "en", URLS, "2026-11-25T00:00:00+00:00")
    Bundle.model_validate(bundle)
    [response] = resources(bundle, "QuestionnaireResponse")
    items = {item["linkId"]: item for item in walk(response["item"])}
    assert items["retired_question"]["answer"] == [{"valueString": "yes"}]
    assert items["old_list"]["answer"] == [{"valueString": "a"}, {"valueString": "1"}]
    assert items["pregnant"]["answer"] == [
        {"valueCoding": {"system": URLS.answer_system("pregnant"), "code": "perhaps"}}
    ]
    [patient] = resources(bundle, "Patient")
    assert patient["telecom"] == [{"system": "phone", "value": "+7 912 345 67 89"}]
    assert "birthDate" not in patient


def test_bundle_carries_the_verdict_and_the_practitioners_decision(app: Flask, client: FlaskClient) -> None:
    from fhir.resources.R4B.observation import Observation

    bundle = export(app, client, {**CLEAR_ANSWERS, "keloids": "yes"})
    [verdict] = resources(bundle, "Observation")
    Observation.model_validate(verdict)
    assert verdict["status"] == "preliminary"
    assert verdict["valueCodeableConcept"]["coding"][0]["code"] == "review"

    reference = bundle["identifier"]["value"]
    db = storage.connect(app.config["DATABASE"])
    row = storage.get_screening_by_reference(db, reference)
    practitioner_id = db.execute("SELECT id FROM practitioners LIMIT 1").fetchone()[0]
    storage.add_review(
        db,
        row["id"],
        practitioner_id,
        decision="override",
        status="ineligible",
        reason_code="other",
        comment="Keloid on the cheek",
    )
    db.close()
    token, _ = make_token(app, name="second")
    after = client.get(f"/api/v1/screenings/{reference}/fhir", headers=bearer(token)).get_json(force=True)
    Bundle.model_validate(after)
    [decided] = resources(after, "Observation")
    assert decided["status"] == "final"
    assert decided["valueCodeableConcept"]["coding"][0]["code"] == "ineligible"
    assert "practitioner decision ineligible" in decided["note"][0]["text"]
    # The rules' verdict stays available; an ineligible decision has no re-screen date.
    assert [(e["url"].rpartition("/")[2], e.get("valueCode")) for e in decided["extension"]] == [
        ("screening-rules-verdict", "review")
    ]


def test_the_verdict_observation_carries_a_decided_deferral_date(app: Flask, client: FlaskClient) -> None:
    from fhir.resources.R4B.observation import Observation

    bundle = export(app, client, {**CLEAR_ANSWERS, "keloids": "yes"})
    reference = bundle["identifier"]["value"]
    db = storage.connect(app.config["DATABASE"])
    row = storage.get_screening_by_reference(db, reference)
    practitioner_id = db.execute("SELECT id FROM practitioners LIMIT 1").fetchone()[0]
    storage.add_review(db, row["id"], practitioner_id, decision="override", status="deferred", defer_until="2027-03-15")
    db.close()
    token, _ = make_token(app, name="second")
    after = client.get(f"/api/v1/screenings/{reference}/fhir", headers=bearer(token)).get_json(force=True)
    [decided] = resources(after, "Observation")
    Observation.model_validate(decided)
    assert (decided["status"], decided["valueCodeableConcept"]["coding"][0]["code"]) == ("final", "deferred")
    extensions = {e["url"].rpartition("/")[2]: e for e in decided["extension"]}
    assert extensions["screening-rules-verdict"]["valueCode"] == "review"
    assert extensions["screening-rescreen-after"]["valueDate"] == "2027-03-15"
