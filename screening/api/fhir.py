"""FHIR R4: the ``fhir`` blueprint, serving the rule file as a Questionnaire at
``/fhir/Questionnaire``, and the FHIR builders' public names in one place.

The builders live in ``fhir_common`` (URLs, codings), ``fhir_questionnaire``
and ``fhir_bundle`` (a stored screening; its bearer-protected route is in
``screenings.py``). They are pure functions returning plain dicts; tests
validate them with the R4B models of ``fhir.resources`` (identical to R4 for
these resources).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app

from ..core.model import RuleSet
from ..web.i18n import current_language
from ..web.ruleset import get_rulebook, get_ruleset
from .fhir_bundle import SEVERITY, screening_bundle, verdict_observation
from .fhir_common import (
    FHIR_JSON,
    QUESTIONNAIRE_ID,
    FhirUrls,
    answer_coding,
    fhir_json_response,
    fhir_urls,
    is_boolean,
    item_type,
    now_instant,
    questionnaire_id,
    section_link_id,
)
from .fhir_questionnaire import (
    ENABLE_WHEN_EXPRESSION,
    OPTION_EXCLUSIVE,
    condition_fhirpath,
    enable_when,
    questionnaire_resource,
)

__all__ = [
    "ENABLE_WHEN_EXPRESSION",
    "FHIR_JSON",
    "OPTION_EXCLUSIVE",
    "QUESTIONNAIRE_ID",
    "SEVERITY",
    "FhirUrls",
    "answer_coding",
    "bp",
    "condition_fhirpath",
    "enable_when",
    "fhir_urls",
    "is_boolean",
    "item_type",
    "now_instant",
    "questionnaire_resource",
    "screening_bundle",
    "section_link_id",
    "verdict_observation",
]

bp = Blueprint("fhir", __name__, url_prefix="/fhir")


@bp.get("/Questionnaire")
def questionnaire() -> Response:
    """The default procedure's questionnaire as a FHIR R4 Questionnaire, in the Accept-Language language."""
    return _questionnaire_response(get_ruleset(current_app))


@bp.get("/Questionnaire/<resource_id>")
def questionnaire_by_id(resource_id: str) -> Response:
    """A procedure's Questionnaire at its canonical URL (its FHIR id), or named by the procedure's id."""
    book = get_rulebook()
    for procedure, ruleset in book.procedures.items():
        if resource_id in (procedure, questionnaire_id(procedure, book.default)):
            return _questionnaire_response(ruleset)
    abort(404)


def _questionnaire_response(ruleset: RuleSet) -> Response:
    resource = questionnaire_resource(ruleset, current_language(), fhir_urls())
    response = fhir_json_response(resource)
    response.vary.add("Accept-Language")
    return response
