"""The questionnaire as JSON, so another front end can render the same form,
and the OpenAPI document that describes the whole API."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue

from ..core.conditions import ConditionVisitor, fold_condition
from ..core.model import Condition, RuleSet, Test, pick_text
from ..web.errors import json_error
from ..web.i18n import current_language
from ..web.ruleset import get_rulebook, get_ruleset
from .blueprint import bp
from .openapi import openapi_document


class _ConditionJson(ConditionVisitor[dict[str, Any]]):
    """A condition as the ``Condition`` and ``Clause`` schemas of the OpenAPI document."""

    def test(self, test: Test) -> dict[str, Any]:
        if test.date_test == "age_under":
            return {"question": test.question, "age_under": test.amount}
        if test.unit is not None:
            return {"question": test.question, "within": {"unit": test.unit, "amount": test.amount}}
        return {"question": test.question, "in": sorted(test.values)}

    def any_of(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return {"any": parts}

    def any_answer(self, value: str) -> dict[str, Any]:
        return {"any_answer": value}

    def all_of(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return {"all": parts}


def condition_json(condition: Condition) -> dict[str, Any]:
    """A show_if condition as JSON: every clause in ``all`` must hold.

    Clauses: ``{"question", "in": [values]}`` (the answer, or for a multi
    question one of the answers, is one of the values); ``{"question",
    "age_under": years}``; ``{"question", "within": {"unit", "amount"}}`` (the
    date answer is less than amount units ago); ``{"any": [conditions]}``; and
    ``{"any_answer": value}`` (some answer equals value).
    """
    return fold_condition(condition, _ConditionJson())


def questionnaire_json(ruleset: RuleSet, language: str) -> dict[str, Any]:
    """Everything another front end needs to render the same form."""
    procedure = ruleset.procedure
    return {
        "language": language,
        "languages": list(ruleset.languages),
        "rules_version": ruleset.full_version,
        "procedure": {
            "id": procedure.id,
            "name": pick_text(procedure.name, language),
            "description": pick_text(procedure.description, language),
            "course": pick_text(procedure.course, language),
            "preparation": [pick_text(text, language) for text in procedure.preparation],
            "aftercare": [pick_text(text, language) for text in procedure.aftercare],
        },
        "sections": [{"id": s.id, "title": pick_text(s.title, language)} for s in ruleset.sections],
        "questions": [
            {
                "id": q.id,
                "section": q.section,
                "type": q.type,
                "text": pick_text(q.text, language),
                "help": pick_text(q.help, language) if q.help else None,
                "required": q.required,
                "options": [{"value": o.value, "label": pick_text(o.label, language)} for o in q.options],
                "show_if": condition_json(q.show_if) if q.show_if else None,
            }
            for q in ruleset.questions
        ],
    }


@bp.get("/questionnaire")
def questionnaire() -> ResponseReturnValue:
    """The questions, the procedure and the rules version, in the Accept-Language language:
    of ``?procedure=<id>``, else the default procedure."""
    procedure = request.args.get("procedure")
    book = get_rulebook()
    if procedure is not None and procedure not in book.procedures:
        return json_error(
            400,
            "There is no procedure with this id.",
            {"procedure": [f"must be one of the procedure ids: {', '.join(book.procedures)}"]},
        )
    response = jsonify(questionnaire_json(get_ruleset(current_app, procedure), current_language()))
    response.vary.add("Accept-Language")
    return response


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(get_rulebook()))
