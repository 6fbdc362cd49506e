"""What the FHIR Questionnaire and the screening Bundle share: the URLs that
name things, the item type of a question, and answer codings.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app

from ..core.model import Question, pick_text
from ..web.links import public_root
from ..web.ruleset import get_rulebook

FHIR_JSON = "application/fhir+json; charset=utf-8"
QUESTIONNAIRE_ID = "screening"


def questionnaire_id(procedure: str, default: str | None) -> str:
    """The FHIR id of a procedure's Questionnaire: the default procedure's keeps ``screening``
    (its canonical URL before there were several procedures, named in stored Bundles); another
    procedure's is its id with "-" for "_" (a FHIR id has no "_"). ``default`` None: URLs made
    without the rule file in force (a builder called alone), where every Questionnaire is the default's."""
    if default is None or procedure in ("", default):
        return QUESTIONNAIRE_ID
    return procedure.replace("_", "-")


@dataclass(frozen=True)
class FhirUrls:
    """Canonical URLs and systems, all under one base ending in "/"."""

    base: str
    # The rule file's default procedure, whose Questionnaire is ``Questionnaire/screening``
    # (None: not known, see ``questionnaire_id``).
    default_procedure: str | None = None

    @property
    def questionnaire(self) -> str:
        """The default procedure's Questionnaire's canonical URL (also the system of question codes)."""
        return f"{self.base}Questionnaire/{QUESTIONNAIRE_ID}"

    def questionnaire_of(self, procedure: str) -> str:
        """The canonical URL of ``procedure``'s Questionnaire."""
        return f"{self.base}Questionnaire/{questionnaire_id(procedure, self.default_procedure)}"

    @property
    def rule_system(self) -> str:
        """Code system of rule ids."""
        return f"{self.base}CodeSystem/screening-rule"

    @property
    def reference_system(self) -> str:
        """Identifier system of screening reference codes."""
        return f"{self.base}NamingSystem/screening-reference"

    @property
    def patient_system(self) -> str:
        """Identifier system of patient records (one person's linked screenings)."""
        return f"{self.base}NamingSystem/screening-patient"

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
    base = current_app.config.get("FHIR_BASE_URL") or f"{public_root()}fhir/"
    return FhirUrls(base if base.endswith("/") else f"{base}/", get_rulebook().default)


def now_instant() -> str:
    """The current time as a FHIR instant."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def fhir_json_response(resource: Mapping[str, Any]) -> Response:
    """A resource as an ``application/fhir+json`` response (non-ASCII text kept as is)."""
    return Response(json.dumps(resource, ensure_ascii=False), status=200, content_type=FHIR_JSON)


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


def section_link_id(section_id: str) -> str:
    """The linkId of a section's group (question ids cannot contain "-")."""
    return f"section-{section_id}"
