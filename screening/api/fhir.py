"""FHIR R4 renderings: the rule file as a Questionnaire, a stored screening as
a Bundle (Patient, QuestionnaireResponse, one DetectedIssue per fired rule).

The builders are pure functions of their arguments and return plain dicts;
the small blueprint serves the Questionnaire at ``/fhir/Questionnaire``. The
bearer-protected export of a screening lives in ``api.py``. Tests validate the
output with the R4B models of ``fhir.resources`` (identical to R4 for these
resources).

Identifiers and code systems are URLs under the FHIR base (``FHIR_BASE_URL``
setting, else this server's ``/fhir/``):

- ``<base>Questionnaire/screening``: the Questionnaire's canonical URL, also
  the system of the question codes (linkIds) in DetectedIssue evidence;
- ``<base>CodeSystem/screening-answer-<question id>``: a question's answer codes;
- ``<base>CodeSystem/screening-rule``: rule ids (DetectedIssue.code);
- ``<base>NamingSystem/screening-reference``: the patient's reference code.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, current_app, request

from ..core.model import Condition, Question, RuleSet, Test, pick_text
from ..web.i18n import current_language
from ..web.ruleset import get_ruleset

bp = Blueprint("fhir", __name__, url_prefix="/fhir")

FHIR_JSON = "application/fhir+json; charset=utf-8"
QUESTIONNAIRE_ID = "screening"
SEVERITY = {"ineligible": "high", "deferred": "moderate", "review": "low", "eligible": "low"}
SNOMED = "http://snomed.info/sct"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
ENABLE_WHEN_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"


@dataclass(frozen=True)
class FhirUrls:
    """Canonical URLs and systems, all under one base ending in "/"."""

    base: str

    @property
    def questionnaire(self) -> str:
        """The Questionnaire's canonical URL."""
        return f"{self.base}Questionnaire/{QUESTIONNAIRE_ID}"

    @property
    def rule_system(self) -> str:
        """Code system of rule ids."""
        return f"{self.base}CodeSystem/screening-rule"

    @property
    def reference_system(self) -> str:
        """Identifier system of screening reference codes."""
        return f"{self.base}NamingSystem/screening-reference"

    @property
    def extension_base(self) -> str:
        """Prefix of this app's own extensions."""
        return f"{self.base}StructureDefinition/"

    @property
    def outcome_system(self) -> str:
        """Code system of verdicts: eligible, review, deferred, ineligible."""
        return f"{self.base}CodeSystem/screening-outcome"

    def answer_system(self, question_id: str) -> str:
        """Code system of one question's answer values."""
        return f"{self.base}CodeSystem/screening-answer-{question_id}"


def fhir_urls() -> FhirUrls:
    """The URLs for this request: ``FHIR_BASE_URL`` if set, else this server's /fhir/."""
    base = current_app.config.get("FHIR_BASE_URL") or f"{request.url_root}fhir/"
    return FhirUrls(base if base.endswith("/") else f"{base}/")


def now_instant() -> str:
    """The current time as a FHIR instant."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def is_boolean(question: Question) -> bool:
    """A choice of exactly yes/no is a FHIR boolean (with "unsure" it is a choice)."""
    return question.type == "choice" and sorted(question.option_values) == ["no", "yes"]


def item_type(question: Question) -> str:
    """The FHIR item type of a question."""
    if question.type == "date":
        return "date"
    return "boolean" if is_boolean(question) else "choice"


def answer_coding(question: Question, value: str, language: str, urls: FhirUrls) -> dict[str, Any]:
    """The Coding for one answer value, with its label if the value is an option."""
    coding: dict[str, Any] = {"system": urls.answer_system(question.id), "code": value}
    for option in question.options:
        if option.value == value:
            coding["display"] = pick_text(option.label, language)
    return coding


# --- enableWhen ------------------------------------------------------------------


def _answer_value(question: Question, value: str, language: str, urls: FhirUrls) -> dict[str, Any]:
    if is_boolean(question):
        return {"answerBoolean": value == "yes"}
    return {"answerCoding": answer_coding(question, value, language, urls)}


def _fhirpath_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fhirpath_test(test: Test, ruleset: RuleSet) -> str:
    answer = f"%resource.repeat(item).where(linkId = {_fhirpath_string(test.question)}).answer.value"
    if test.date_test == "age_under":
        return f"{answer} > today() - {test.amount} years"
    if test.date_test:
        unit = test.date_test.removeprefix("within_")
        return f"({answer} + {test.amount} {unit}) > today()"
    question = ruleset.question_by_id[test.question]
    if is_boolean(question):
        return " or ".join(f"{answer} = {'true' if v == 'yes' else 'false'}" for v in sorted(test.values))
    values = " | ".join(_fhirpath_string(v) for v in sorted(test.values))
    return f"{answer}.code.where($this in ({values})).exists()"


def condition_fhirpath(condition: Condition, ruleset: RuleSet) -> str:
    """A show_if condition as a FHIRPath expression over the QuestionnaireResponse."""
    parts = [f"({_fhirpath_test(test, ruleset)})" for test in condition.tests]
    for group in condition.any_of:
        parts.append("(" + " or ".join(f"({condition_fhirpath(sub, ruleset)})" for sub in group) + ")")
    if condition.any_answer is not None:
        parts.append(f"(%resource.repeat(item).answer.value.code contains {_fhirpath_string(condition.any_answer)})")
    return " and ".join(parts)


def enable_when(condition: Condition, ruleset: RuleSet, language: str, urls: FhirUrls) -> dict[str, Any]:
    """Item keys for a follow-up: ``enableWhen`` when FHIR can say it, else the
    SDC ``enableWhenExpression`` extension (date tests, "any", mixtures)."""
    tests = condition.tests
    simple = not condition.any_of and condition.any_answer is None and all(t.date_test is None for t in tests)
    if simple and (len(tests) == 1 or all(len(t.values) == 1 for t in tests)):
        entries = [
            {
                "question": test.question,
                "operator": "=",
                **_answer_value(ruleset.question_by_id[test.question], value, language, urls),
            }
            for test in tests
            for value in sorted(test.values)
        ]
        keys: dict[str, Any] = {"enableWhen": entries}
        if len(entries) > 1:
            keys["enableBehavior"] = "any" if len(tests) == 1 else "all"
        return keys
    return {
        "extension": [
            {
                "url": ENABLE_WHEN_EXPRESSION,
                "valueExpression": {"language": "text/fhirpath", "expression": condition_fhirpath(condition, ruleset)},
            }
        ]
    }


# --- Questionnaire -------------------------------------------------------------------


def _question_item(question: Question, ruleset: RuleSet, language: str, urls: FhirUrls) -> dict[str, Any]:
    item: dict[str, Any] = {
        "linkId": question.id,
        "text": pick_text(question.text, language),
        "type": item_type(question),
        "required": question.required,
    }
    if question.show_if is not None:
        item.update(enable_when(question.show_if, ruleset, language, urls))
    if question.type == "multi":
        item["repeats"] = True
    if item["type"] == "choice":
        item["answerOption"] = [
            {"valueCoding": answer_coding(question, option.value, language, urls)} for option in question.options
        ]
    if question.help:
        item["item"] = [
            {
                "extension": [
                    {
                        "url": ITEM_CONTROL,
                        "valueCodeableConcept": {
                            "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": "help", "display": "Help-Button"}]
                        },
                    }
                ],
                "linkId": f"{question.id}-help",
                "text": pick_text(question.help, language),
                "type": "display",
            }
        ]
    return item


def section_link_id(section_id: str) -> str:
    """The linkId of a section's group (question ids cannot contain "-")."""
    return f"section-{section_id}"


def questionnaire_resource(ruleset: RuleSet, language: str, urls: FhirUrls) -> dict[str, Any]:
    """The rule file's questionnaire as a FHIR R4 Questionnaire, texts in ``language``."""
    items = []
    for section in ruleset.sections:
        questions = [q for q in ruleset.questions if q.section == section.id]
        if questions:
            items.append(
                {
                    "linkId": section_link_id(section.id),
                    "text": pick_text(section.title, language),
                    "type": "group",
                    "item": [_question_item(q, ruleset, language, urls) for q in questions],
                }
            )
    return {
        "resourceType": "Questionnaire",
        "id": QUESTIONNAIRE_ID,
        "language": language,
        "url": urls.questionnaire,
        "version": ruleset.full_version,
        "name": "ContraindicationScreening",
        "title": pick_text(ruleset.procedure.name, language),
        "status": "active",
        "subjectType": ["Patient"],
        "description": pick_text(ruleset.procedure.description, language),
        "item": items,
    }


# --- Screening export -----------------------------------------------------------------


def _full_url(urls: FhirUrls, reference: str, kind: str) -> str:
    # Stable across exports of the same screening, so a receiver can de-duplicate.
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{urls.reference_system}|{reference}|{kind}')}"


def _answers(question: Question | None, value: Any, language: str, urls: FhirUrls) -> list[dict[str, Any]]:
    values = value if isinstance(value, list) else [value]
    if question is None:
        return [{"valueString": v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)} for v in values]
    if question.type == "date":
        return [{"valueDate": str(v)} for v in values]
    if is_boolean(question):
        return [{"valueBoolean": v == "yes"} for v in values]
    return [{"valueCoding": answer_coding(question, str(v), language, urls)} for v in values]


def _response_items(
    answers: Mapping[str, Any], ruleset: RuleSet, language: str, urls: FhirUrls
) -> list[dict[str, Any]]:
    """Answered questions grouped as in the Questionnaire; unknown ones (an
    older rule file) at the end with their stored values as strings."""

    def item(question_id: str, question: Question | None) -> dict[str, Any]:
        entry: dict[str, Any] = {"linkId": question_id}
        if question is not None:
            entry["text"] = pick_text(question.text, language)
        entry["answer"] = _answers(question, answers[question_id], language, urls)
        return entry

    items = []
    for section in ruleset.sections:
        answered = [
            item(q.id, q) for q in ruleset.questions if q.section == section.id and answers.get(q.id) not in (None, [])
        ]
        if answered:
            items.append(
                {
                    "linkId": section_link_id(section.id),
                    "text": pick_text(section.title, language),
                    "item": answered,
                }
            )
    known = ruleset.question_by_id
    items.extend(item(qid, None) for qid in answers if qid not in known and answers[qid] not in (None, []))
    return items


def screening_bundle(
    screening: Mapping[str, Any], ruleset: RuleSet, language: str, urls: FhirUrls, timestamp: str
) -> dict[str, Any]:
    """A stored screening as a FHIR R4 Bundle (type collection): the Patient,
    the QuestionnaireResponse (answers to questions not shown are not stored,
    so they are left out), one DetectedIssue per fired rule, and the overall
    verdict (with the practitioner's decision) as an Observation."""
    reference = screening["reference"]
    created_at = screening["created_at"]
    answers: Mapping[str, Any] = screening.get("answers") or {}
    patient_url = _full_url(urls, reference, "Patient")
    response_url = _full_url(urls, reference, "QuestionnaireResponse")
    identifier = {"system": urls.reference_system, "value": reference}

    patient: dict[str, Any] = {"resourceType": "Patient"}
    if screening.get("patient_name"):
        patient["name"] = [{"text": screening["patient_name"]}]
    telecom = [
        {"system": system, "value": screening[column]}
        for system, column in (("email", "contact_email"), ("phone", "contact_phone"))
        if screening.get(column)
    ]
    if telecom:
        patient["telecom"] = telecom
    if screening.get("birth_date"):
        patient["birthDate"] = screening["birth_date"]

    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "language": language,
        "identifier": identifier,
        "questionnaire": f"{urls.questionnaire}|{screening['rules_version']}",
        "status": "completed",
        "subject": {"reference": patient_url},
        "authored": created_at,
        "item": _response_items(answers, ruleset, language, urls),
    }

    rules_by_id = {r.id: r for r in ruleset.rules}
    entries = [
        {"fullUrl": patient_url, "resource": patient},
        {"fullUrl": response_url, "resource": response},
    ]
    for reason in screening.get("reasons") or []:
        rule = str(reason.get("rule"))
        outcome = str(reason.get("outcome"))
        coding = [{"system": urls.rule_system, "code": rule, "display": rule}]
        # A clinical code (SNOMED CT, ...) where the rule file gives one.
        rule_def = rules_by_id.get(rule)
        if rule_def is not None and rule_def.code is not None:
            code = rule_def.code
            coding.append({"system": code.system, "code": code.code, "display": code.display})
        evidence = []
        for question_id in reason.get("questions") or []:
            question = ruleset.question_by_id.get(question_id)
            value = answers.get(question_id)
            shown = ", ".join(_display(question, v, language) for v in (value if isinstance(value, list) else [value]))
            label = pick_text(question.text, language) if question is not None else question_id
            evidence.append(
                {
                    "code": [
                        {
                            "coding": [{"system": urls.questionnaire, "code": question_id}],
                            "text": f"{label} {shown}",
                        }
                    ],
                    "detail": [{"reference": response_url, "display": f"Answer to {question_id}"}],
                }
            )
        issue: dict[str, Any] = {
            "resourceType": "DetectedIssue",
            "extension": [{"url": f"{urls.extension_base}screening-outcome", "valueCode": outcome}],
            "identifier": [{"system": urls.rule_system, "value": f"{reference}-{rule}"}],
            # A pre-screening aid: the practitioner confirms or overrides.
            "status": "preliminary",
            "code": {"coding": coding, "text": rule},
            "severity": SEVERITY.get(outcome, "low"),
            "patient": {"reference": patient_url},
            "identifiedDateTime": created_at,
            "implicated": [{"reference": response_url}],
            "evidence": evidence,
            "detail": pick_text(reason.get("practitioner"), language),
        }
        if reason.get("rescreen_after"):
            issue["extension"].append(
                {"url": f"{urls.extension_base}screening-rescreen-after", "valueDate": reason["rescreen_after"]}
            )
        if not evidence:
            del issue["evidence"]
        entries.append({"fullUrl": _full_url(urls, reference, f"DetectedIssue/{rule}"), "resource": issue})

    entries.append(
        {"fullUrl": _full_url(urls, reference, "Observation/verdict"), "resource": verdict_observation(screening, urls)}
    )
    return {
        "resourceType": "Bundle",
        "identifier": identifier,
        "type": "collection",
        "timestamp": timestamp,
        "entry": entries,
    }


def verdict_observation(screening: Mapping[str, Any], urls: FhirUrls) -> dict[str, Any]:
    """The overall verdict as an Observation: preliminary until a practitioner
    decides, then final with the decided status (which may be an override)."""
    reference = screening["reference"]
    decided = screening.get("decided_status") if screening.get("reviewed") else None
    status = decided or screening["status"]
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": urls.reference_system, "value": f"{reference}-verdict"}],
        "status": "final" if decided else "preliminary",
        "code": {
            "coding": [{"system": urls.outcome_system, "code": "verdict", "display": "Pre-screening verdict"}],
            "text": "Laser facial rejuvenation pre-screening verdict",
        },
        "subject": {"reference": _full_url(urls, reference, "Patient")},
        "effectiveDateTime": screening["created_at"],
        "valueCodeableConcept": {"coding": [{"system": urls.outcome_system, "code": status}], "text": status},
        "derivedFrom": [{"reference": _full_url(urls, reference, "QuestionnaireResponse")}],
    }
    if decided:
        observation["issued"] = screening["reviewed_at"]
        observation["note"] = [{"text": f"Screening verdict {screening['status']}; practitioner decision {decided}."}]
    if screening.get("rescreen_after"):
        observation["extension"] = [
            {"url": f"{urls.extension_base}screening-rescreen-after", "valueDate": screening["rescreen_after"]}
        ]
    return observation


def _display(question: Question | None, value: Any, language: str) -> str:
    """An answer as the patient saw it ("Yes"), for evidence texts."""
    if question is not None:
        for option in question.options:
            if option.value == value:
                return f"= {pick_text(option.label, language)}"
    return f"= {value}"


# --- Routes ---------------------------------------------------------------------------


def _fhir_response(resource: Mapping[str, Any]) -> Response:
    response = Response(json.dumps(resource, ensure_ascii=False), status=200, content_type=FHIR_JSON)
    response.vary.add("Accept-Language")
    return response


@bp.get("/Questionnaire")
def questionnaire() -> Response:
    """The questionnaire as a FHIR R4 Questionnaire, in the Accept-Language language."""
    ruleset = get_ruleset(current_app)
    return _fhir_response(questionnaire_resource(ruleset, current_language(), fhir_urls()))


@bp.get("/Questionnaire/<resource_id>")
def questionnaire_by_id(resource_id: str) -> Response:
    """The same Questionnaire at its canonical URL."""
    if resource_id != QUESTIONNAIRE_ID:
        abort(404)
    return questionnaire()
