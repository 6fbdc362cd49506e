"""The rule file's questionnaire as a FHIR R4 Questionnaire, with each
follow-up's show_if as ``enableWhen`` or, where that cannot say it, FHIRPath."""

from __future__ import annotations

from typing import Any

from ..core.conditions import ConditionVisitor, fold_condition
from ..core.model import NONE_OPTION, UNSURE, Condition, Question, RuleSet, Test, pick_text
from .fhir_common import FhirUrls, answer_coding, is_boolean, item_type, questionnaire_id, section_link_id

ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"
ENABLE_WHEN_EXPRESSION = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
# In a multi question, "none of these" and "I'm not sure" cannot be ticked with
# another option; a generic client learns that only from optionExclusive.
EXCLUSIVE_OPTIONS = frozenset({NONE_OPTION, UNSURE})


# --- enableWhen ------------------------------------------------------------------


def _answer_value(question: Question, value: str, language: str, urls: FhirUrls) -> dict[str, Any]:
    if is_boolean(question):
        return {"answerBoolean": value == "yes"}
    return {"answerCoding": answer_coding(question, value, language, urls)}


def _fhirpath_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class _FhirPath(ConditionVisitor[str]):
    """A condition as FHIRPath over the QuestionnaireResponse; every part parenthesised."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset

    def test(self, test: Test) -> str:
        answer = f"%resource.repeat(item).where(linkId = {_fhirpath_string(test.question)}).answer.value"
        if test.date_test == "age_under":
            return f"({answer} > today() - {test.amount} years)"
        if test.unit is not None:
            return f"(({answer} + {test.amount} {test.unit}) > today())"
        question = self.ruleset.question_by_id[test.question]
        if is_boolean(question):
            return (
                "(" + " or ".join(f"{answer} = {'true' if v == 'yes' else 'false'}" for v in sorted(test.values)) + ")"
            )
        values = " | ".join(_fhirpath_string(v) for v in sorted(test.values))
        return f"({answer}.code.where($this in ({values})).exists())"

    def any_of(self, parts: list[str]) -> str:
        return "(" + " or ".join(f"({part})" for part in parts) + ")"

    def any_answer(self, value: str) -> str:
        return f"(%resource.repeat(item).answer.value.code contains {_fhirpath_string(value)})"

    def all_of(self, parts: list[str]) -> str:
        return " and ".join(parts)


def condition_fhirpath(condition: Condition, ruleset: RuleSet) -> str:
    """A show_if condition as a FHIRPath expression over the QuestionnaireResponse."""
    return fold_condition(condition, _FhirPath(ruleset))


def enable_when(condition: Condition, ruleset: RuleSet, language: str, urls: FhirUrls) -> dict[str, Any]:
    """Item keys for a follow-up: ``enableWhen`` when FHIR can say it, else the
    SDC ``enableWhenExpression`` extension (date tests, "any", mixtures)."""
    tests = condition.tests
    simple = not condition.any_of and condition.any_answer is None and all(t.date_test is None for t in tests)
    # enableBehavior applies to every entry, so "any" of one test's values or
    # "all" of single-valued tests; anything else needs FHIRPath.
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


def _help_item(question: Question, language: str) -> dict[str, Any]:
    return {
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


def _answer_option(question: Question, value: str, language: str, urls: FhirUrls) -> dict[str, Any]:
    option: dict[str, Any] = {"valueCoding": answer_coding(question, value, language, urls)}
    if question.type == "multi" and value in EXCLUSIVE_OPTIONS:
        option["extension"] = [{"url": OPTION_EXCLUSIVE, "valueBoolean": True}]
    return option


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
        item["answerOption"] = [_answer_option(question, option.value, language, urls) for option in question.options]
    if question.help:
        item["item"] = [_help_item(question, language)]
    return item


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
        "id": questionnaire_id(ruleset.procedure.id, urls.default_procedure),
        "language": language,
        "url": urls.questionnaire_of(ruleset.procedure.id),
        "version": ruleset.full_version,
        "name": "ContraindicationScreening",
        "title": pick_text(ruleset.procedure.name, language),
        "status": "active",
        "subjectType": ["Patient"],
        "description": pick_text(ruleset.procedure.description, language),
        "item": items,
    }
