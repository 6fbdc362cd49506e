"""A stored screening as a FHIR R4 Bundle: the Patient, the
QuestionnaireResponse, one DetectedIssue per fired rule and the verdict as an
Observation. Pure functions of their arguments; the bearer-protected route
that serves it is in ``screenings.py``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.facts import current_rescreen_after, current_status
from ..core.model import NOTE, Question, Rule, RuleSet, pick_text
from .fhir_common import FhirUrls, answer_coding, is_boolean, section_link_id

# DetectedIssue.severity by outcome. A note never changes the verdict, so it
# is the mildest; an outcome this map does not know (a newer rule file) is
# "low" too rather than a failed export.
SEVERITY = {"ineligible": "high", "deferred": "moderate", "review": "low", "eligible": "low", NOTE: "low"}
DEFAULT_SEVERITY = "low"


def _full_url(urls: FhirUrls, reference: str, kind: str) -> str:
    # Stable across exports of the same screening, so a receiver can de-duplicate.
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{urls.reference_system}|{reference}|{kind}')}"


def _patient_url(urls: FhirUrls, screening: Mapping[str, Any]) -> str:
    """The Patient's fullUrl: one per patient record, so a patient's screenings share it."""
    patient_id = screening.get("patient_id")
    key = f"patient-record-{patient_id}" if patient_id is not None else screening["reference"]
    return _full_url(urls, key, "Patient")


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


def _patient(screening: Mapping[str, Any], urls: FhirUrls) -> dict[str, Any]:
    patient: dict[str, Any] = {"resourceType": "Patient"}
    if screening.get("patient_id") is not None:
        patient["identifier"] = [{"system": urls.patient_system, "value": str(screening["patient_id"])}]
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
    return patient


def _display(question: Question | None, value: Any, language: str) -> str:
    """An answer as the patient saw it ("Yes"), for evidence texts."""
    if question is not None:
        for option in question.options:
            if option.value == value:
                return f"= {pick_text(option.label, language)}"
    return f"= {value}"


def _evidence(
    question_id: str, answers: Mapping[str, Any], ruleset: RuleSet, language: str, urls: FhirUrls, response_url: str
) -> dict[str, Any]:
    question = ruleset.question_by_id.get(question_id)
    value = answers.get(question_id)
    shown = ", ".join(_display(question, v, language) for v in (value if isinstance(value, list) else [value]))
    label = pick_text(question.text, language) if question is not None else question_id
    return {
        "code": [{"coding": [{"system": urls.questionnaire, "code": question_id}], "text": f"{label} {shown}"}],
        "detail": [{"reference": response_url, "display": f"Answer to {question_id}"}],
    }


def _detected_issue(
    screening: Mapping[str, Any],
    reason: Mapping[str, Any],
    rule_def: Rule | None,
    ruleset: RuleSet,
    language: str,
    urls: FhirUrls,
) -> dict[str, Any]:
    """One fired rule as a DetectedIssue, with the answers that fired it as evidence."""
    reference = screening["reference"]
    answers: Mapping[str, Any] = screening.get("answers") or {}
    patient_url = _patient_url(urls, screening)
    response_url = _full_url(urls, reference, "QuestionnaireResponse")
    rule = str(reason.get("rule"))
    outcome = str(reason.get("outcome"))
    coding = [{"system": urls.rule_system, "code": rule, "display": rule}]
    # A clinical code (SNOMED CT, ...) where the rule file gives one.
    if rule_def is not None and rule_def.code is not None:
        code = rule_def.code
        coding.append({"system": code.system, "code": code.code, "display": code.display})
    evidence = [
        _evidence(question_id, answers, ruleset, language, urls, response_url)
        for question_id in reason.get("questions") or []
    ]
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "extension": [{"url": f"{urls.extension_base}screening-outcome", "valueCode": outcome}],
        "identifier": [{"system": urls.rule_system, "value": f"{reference}-{rule}"}],
        # A pre-screening aid: the practitioner confirms or overrides.
        "status": "preliminary",
        "code": {"coding": coding, "text": rule},
        "severity": SEVERITY.get(outcome, DEFAULT_SEVERITY),
        "patient": {"reference": patient_url},
        "identifiedDateTime": screening["created_at"],
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
    return issue


def _finding_issue(
    screening: Mapping[str, Any],
    finding: Mapping[str, Any],
    number: int,
    ruleset: RuleSet,
    language: str,
    urls: FhirUrls,
) -> dict[str, Any]:
    """A finding against the same patient's earlier answers (``core.history``) as a DetectedIssue
    implicating the earlier screening (by its reference) and, for a changed answer, this one's answer."""
    reference = screening["reference"]
    response_url = _full_url(urls, reference, "QuestionnaireResponse")
    kind = str(finding["kind"])
    earlier = {"identifier": {"system": urls.reference_system, "value": finding["reference"]}}
    if finding.get("question"):
        question_id = str(finding["question"])
        detail = (
            f"{question_id}: answered {finding['earlier']!r} in screening {finding['reference']}"
            f" on {finding['answered_on']}; now {finding['now']!r}."
        )
        evidence = [_evidence(question_id, screening.get("answers") or {}, ruleset, language, urls, response_url)]
    else:
        detail = (
            f"Screened again before the deferral of screening {finding['reference']}"
            f" (answered on {finding['answered_on']}) ends on {finding['rescreen_after']}."
        )
        evidence = []
    issue: dict[str, Any] = {
        "resourceType": "DetectedIssue",
        "identifier": [{"system": urls.rule_system, "value": f"{reference}-finding-{number}"}],
        # The practitioner decides before any session (it stands in "Needs a decision").
        "status": "preliminary",
        "code": {"coding": [{"system": urls.rule_system, "code": kind, "display": kind}], "text": kind},
        "severity": "moderate",
        "patient": {"reference": _patient_url(urls, screening)},
        "identifiedDateTime": screening["created_at"],
        "implicated": [{"reference": response_url}, earlier],
        "detail": detail,
    }
    if evidence:
        issue["evidence"] = evidence
    return issue


def screening_bundle(
    screening: Mapping[str, Any],
    ruleset: RuleSet,
    language: str,
    urls: FhirUrls,
    timestamp: str,
    sessions: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A stored screening as a FHIR R4 Bundle of type collection.

    The Patient, the QuestionnaireResponse (answers to questions not shown are
    not stored, so they are left out), one DetectedIssue per fired rule, and
    the overall verdict (with the practitioner's decision) as an Observation,
    and a Procedure for each course session given on this screening.
    """
    reference = screening["reference"]
    patient_url = _patient_url(urls, screening)
    response_url = _full_url(urls, reference, "QuestionnaireResponse")
    identifier = {"system": urls.reference_system, "value": reference}
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "language": language,
        "identifier": identifier,
        "questionnaire": f"{urls.questionnaire_of(screening.get('procedure') or '')}|{screening['rules_version']}",
        "status": "completed",
        "subject": {"reference": patient_url},
        "authored": screening["created_at"],
        "item": _response_items(screening.get("answers") or {}, ruleset, language, urls),
    }
    entries = [
        {"fullUrl": patient_url, "resource": _patient(screening, urls)},
        {"fullUrl": response_url, "resource": response},
    ]
    rules_by_id = {r.id: r for r in ruleset.rules}
    # Notes for the session are findings too (severity low); they never change the verdict Observation.
    for reason in [*(screening.get("reasons") or []), *(screening.get("notes") or [])]:
        rule = str(reason.get("rule"))
        issue = _detected_issue(screening, reason, rules_by_id.get(rule), ruleset, language, urls)
        entries.append({"fullUrl": _full_url(urls, reference, f"DetectedIssue/{rule}"), "resource": issue})
    # What the answers contradict in the same patient's earlier screenings, for staff.
    for number, finding in enumerate(screening.get("findings") or [], start=1):
        issue = _finding_issue(screening, finding, number, ruleset, language, urls)
        entries.append({"fullUrl": _full_url(urls, reference, f"DetectedIssue/finding-{number}"), "resource": issue})
    entries.append(
        {"fullUrl": _full_url(urls, reference, "Observation/verdict"), "resource": verdict_observation(screening, urls)}
    )
    for session in sessions:
        entries.append(
            {
                "fullUrl": _full_url(urls, reference, f"Procedure/{session['number']}"),
                "resource": session_procedure(screening, session, urls),
            }
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
    decides, then final with the decided status (which may be an override); the
    rules' verdict stays in an extension, and the re-screen date is the one that counts."""
    reference = screening["reference"]
    decided = screening.get("decided_status") if screening.get("reviewed") else None
    status = current_status(screening)
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [{"system": urls.reference_system, "value": f"{reference}-verdict"}],
        "status": "final" if decided else "preliminary",
        "code": {
            "coding": [{"system": urls.outcome_system, "code": "verdict", "display": "Pre-screening verdict"}],
            "text": "Laser facial rejuvenation pre-screening verdict",
        },
        "subject": {"reference": _patient_url(urls, screening)},
        "effectiveDateTime": screening["created_at"],
        "valueCodeableConcept": {"coding": [{"system": urls.outcome_system, "code": status}], "text": status},
        "derivedFrom": [{"reference": _full_url(urls, reference, "QuestionnaireResponse")}],
    }
    if decided:
        observation["issued"] = screening["reviewed_at"]
        observation["note"] = [{"text": f"Screening verdict {screening['status']}; practitioner decision {decided}."}]
    extensions = [{"url": f"{urls.extension_base}screening-rules-verdict", "valueCode": screening["status"]}]
    rescreen_after = current_rescreen_after(screening)
    if rescreen_after:
        extensions.append({"url": f"{urls.extension_base}screening-rescreen-after", "valueDate": rescreen_after})
    observation["extension"] = extensions
    return observation


# A session's typed settings (m044): (extension name, column, UCUM unit or None for a count or a text).
_SETTING_EXTENSIONS = (
    ("session-wavelength", "wavelength_nm", "nm"),
    ("session-fluence", "fluence_j_cm2", "J/cm2"),
    ("session-pulse-duration", "pulse_ms", "ms"),
    ("session-spot-size", "spot_mm", "mm"),
    ("session-passes", "passes", None),
    ("session-cooling", "cooling", None),
)


def _setting_extensions(session: Mapping[str, Any], urls: FhirUrls) -> list[dict[str, Any]]:
    """The session's settings as extensions: quantities with UCUM units, the passes, the cooling."""
    extensions: list[dict[str, Any]] = []
    for name, key, unit in _SETTING_EXTENSIONS:
        value = session.get(key)
        if value is None:
            continue
        url = f"{urls.extension_base}{name}"
        if unit is not None:
            quantity = {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
            extensions.append({"url": url, "valueQuantity": quantity})
        elif isinstance(value, int):
            extensions.append({"url": url, "valueInteger": value})
        else:
            extensions.append({"url": url, "valueString": str(value)})
    return extensions


def session_procedure(screening: Mapping[str, Any], session: Mapping[str, Any], urls: FhirUrls) -> dict[str, Any]:
    """A course session given on this screening as a completed Procedure, referencing
    the QuestionnaireResponse that cleared it (an extension: Procedure has no element for it)
    and the verdict Observation as its reason."""
    reference = screening["reference"]
    procedure: dict[str, Any] = {
        "resourceType": "Procedure",
        "extension": [
            {
                "url": f"{urls.extension_base}screening-questionnaire-response",
                "valueReference": {"reference": _full_url(urls, reference, "QuestionnaireResponse")},
            },
            {"url": f"{urls.extension_base}course-session-number", "valueInteger": int(session["number"])},
        ],
        "identifier": [{"system": urls.reference_system, "value": f"{reference}-session-{session['number']}"}],
        "status": "completed",
        "code": {"text": f"Laser facial rejuvenation, session {session['number']} of {session['planned_sessions']}"},
        "subject": {"reference": _patient_url(urls, screening)},
        "performedDateTime": session["given_on"],
        "performer": [{"actor": {"display": session["practitioner_name"]}}],
        "reasonReference": [{"reference": _full_url(urls, reference, "Observation/verdict")}],
    }
    notes = [
        text for text in (session.get("note"), session.get("settings") and f"Settings: {session['settings']}") if text
    ]
    if session.get("device"):
        procedure["extension"].extend(_setting_extensions(session, urls))
        procedure["focalDevice"] = [
            {"action": {"text": "used"}, "manipulated": {"display": f"{session['device']}/{session['handpiece']}"}}
        ]
        notes += [
            f"{label}: {session[key]}"
            for label, key in (
                ("Endpoint", "endpoint"),
                ("Immediate reaction", "immediate_reaction"),
                ("Outside the clinic's protocol", "outside_protocol"),
                ("Override reason", "override_reason"),
            )
            if session.get(key)
        ]
    if notes:
        procedure["note"] = [{"text": text} for text in notes]
    return procedure
