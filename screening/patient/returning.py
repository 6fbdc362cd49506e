"""A returning patient's next screening: "Has anything changed?"

From the result page, a patient starts a new screening on which the answers
the rule file lets carry over (``carry_over: true``) are filled in from that
screening, to be confirmed with one tick per section. A carried answer sent
back unchanged and unconfirmed is dropped before the engine, so it is asked
again; every other question starts empty. The link is the result link's
secret token (``/result/<token>/again``), never the reference code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort, current_app, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..core.carry_over import carried_answers
from ..core.engine import InvalidAnswers, screen
from ..core.model import RuleSet
from ..storage import ScreeningRecord, get_screening_by_token
from ..web.course import course_progress
from ..web.db import get_db, screening_day
from ..web.i18n import current_language
from ..web.limits import form_rate_limit, limiter
from ..web.ruleset import get_ruleset
from .forms import ScreeningFormBase, screening_form_class
from .views import bp, questionnaire_html, store_submission

CONFIRM_PREFIX = "confirm_"


def _source_or_404(token: str) -> ScreeningRecord:
    screening = get_screening_by_token(get_db(), token)
    if screening is None:
        abort(404)
    return screening


def carried_sections(ruleset: RuleSet, carried: Mapping[str, Any]) -> dict[str, list[str]]:
    """Section id -> the ids of its questions with a carried answer, in questionnaire order."""
    sections: dict[str, list[str]] = {}
    for question in ruleset.questions:
        if question.id in carried:
            sections.setdefault(question.section, []).append(question.id)
    return sections


def _same(sent: Any, carried: Any) -> bool:
    if isinstance(sent, list) and isinstance(carried, list):
        return sorted(sent) == sorted(carried)
    return bool(sent == carried)


def drop_unconfirmed(
    raw: dict[str, Any], carried: Mapping[str, Any], sections: Mapping[str, list[str]], confirmed: set[str]
) -> list[str]:
    """Remove from ``raw`` each carried answer sent back unchanged in a section not confirmed; return their ids."""
    dropped = []
    for section, question_ids in sections.items():
        if section in confirmed:
            continue
        for question_id in question_ids:
            if question_id in raw and _same(raw[question_id], carried[question_id]):
                del raw[question_id]
                dropped.append(question_id)
    return dropped


def _page(form: ScreeningFormBase, token: str, sections: Mapping[str, list[str]], confirmed: set[str]) -> str:
    return questionnaire_html(
        form,
        notice=_(
            "Welcome back. Answers that usually stay the same are filled in from your last screening: "
            "check them, change any that are no longer right, and tick “Still true” under each section. "
            "Everything else is asked afresh."
        ),
        form_action=url_for("patient.again", token=token),
        carried=sections,
        confirmed_sections=confirmed,
        confirm_prefix=CONFIRM_PREFIX,
    )


@bp.route("/result/<token>/again", methods=["GET", "POST"])
@limiter.limit(form_rate_limit, methods=["POST"])
def again(token: str) -> ResponseReturnValue:
    """The next screening of a returning patient, carry-over answers filled in for confirmation."""
    source = _source_or_404(token)
    ruleset = get_ruleset(current_app)
    carried = carried_answers(ruleset.questions, source["answers"])
    sections = carried_sections(ruleset, carried)
    form_class = screening_form_class(ruleset, current_language())
    if request.method == "GET":
        details = {
            "patient_name": source["patient_name"] or "",
            "email": source["contact_email"] or "",
            "phone": source["contact_phone"] or "",
        }
        return _page(form_class(formdata=None, data={**carried, **details}), token, sections, set())
    form = form_class()
    confirmed = {s for s in sections if request.form.get(CONFIRM_PREFIX + s)}
    raw = form.raw_answers(ruleset)
    dropped = drop_unconfirmed(raw, carried, sections, confirmed)
    for question_id in dropped:
        # Shown empty again: an answer the patient did not confirm is asked afresh.
        form[question_id].data = [] if ruleset.question_by_id[question_id].type == "multi" else None
        form[question_id].raw_data = []
    details_ok = form.validate()
    try:
        verdict = screen(ruleset, raw, screening_day())
    except InvalidAnswers as error:
        form.add_answer_errors(error)
        return _page(form, token, sections, confirmed), 400
    if not details_ok:
        return _page(form, token, sections, confirmed), 400
    return store_submission(form, verdict)


@bp.app_template_global()
def course_for_patient(screening: ScreeningRecord) -> dict[str, Any] | None:
    """The course of the screening's patient as the result page shows it: sessions given, planned, next due."""
    progress = course_progress(get_db(), screening.get("patient_id"))
    if progress["course"] is None:
        return None
    return {"given": len(progress["sessions"]), "planned": progress["course"]["planned_sessions"], **progress}
