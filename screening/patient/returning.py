"""A returning patient's next screening: "Has anything changed?"

From the result page, a patient starts a new screening on which the answers
the rule file lets carry over (``carry_over: true``) are filled in from that
screening, to be confirmed with one tick per section. A carried answer sent
back unchanged and unconfirmed is dropped before the engine, so it is asked
again: its section then gets one error naming the tick, and its questions are
shown empty with the last answer as a hint (the date of birth stays filled in).
A ticked section confirms its hinted answers too. Every other question starts
empty. The link is the result link's secret token (``/result/<token>/again``),
never the reference code; it opens on the deferral's date (the clinic's day)
and never after an "ineligible".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..core.carry_over import carried_answers
from ..core.engine import InvalidAnswers, screen
from ..core.model import Question, RuleSet, pick_text
from ..storage import ScreeningRecord, link_is_proven
from ..web.course import course_progress
from ..web.db import get_db, screening_day
from ..web.i18n import current_language, format_iso_date
from ..web.limits import form_rate_limit, limiter
from ..web.procedures import ruleset_of
from .forms import ScreeningFormBase, screening_form_class
from .linked import linked_screening
from .notices import effective_status
from .views import CONFIRM_PREFIX, bp, questionnaire_html, store_submission

# Per section, the carried answers the page showed filled in (the others were hints).
PREFILLED_PREFIX = "prefilled_"


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


def prefilled_answers(posted: Mapping[str, str], sections: Mapping[str, list[str]]) -> set[str]:
    """The carried answers the posted page showed filled in (the others were hints).

    A section the post does not describe counts as all filled in: the reading
    under which an unconfirmed answer is dropped, never used.
    """
    shown: set[str] = set()
    for section, question_ids in sections.items():
        listed = posted.get(PREFILLED_PREFIX + section)
        shown.update(question_ids if listed is None else set(listed.split()) & set(question_ids))
    return shown


def drop_unconfirmed(
    raw: dict[str, Any],
    carried: Mapping[str, Any],
    sections: Mapping[str, list[str]],
    confirmed: set[str],
    prefilled: set[str] | None = None,
) -> list[str]:
    """Remove from ``raw`` each carried answer shown filled in (``prefilled``, default all) and sent
    back unchanged in a section not confirmed; return their ids."""
    dropped = []
    for section, question_ids in sections.items():
        if section in confirmed:
            continue
        for question_id in question_ids:
            shown = prefilled is None or question_id in prefilled
            if shown and question_id in raw and _same(raw[question_id], carried[question_id]):
                del raw[question_id]
                dropped.append(question_id)
    return dropped


def take_confirmed(
    raw: dict[str, Any],
    carried: Mapping[str, Any],
    sections: Mapping[str, list[str]],
    confirmed: set[str],
    prefilled: set[str],
) -> list[str]:
    """Put into ``raw`` the carried answer of each question a confirmed section showed as a hint
    and the patient left unanswered: the tick confirms it. Return their ids."""
    taken = []
    for section in confirmed:
        for question_id in sections.get(section, []):
            if question_id not in prefilled and question_id not in raw:
                raw[question_id] = carried[question_id]
                taken.append(question_id)
    return taken


def last_answer_words(question: Question, value: Any) -> str:
    """A carried answer as the patient reads it: the options' labels, or the date."""
    if question.type == "date":
        return format_iso_date(str(value))
    labels = {o.value: pick_text(o.label, current_language()) or o.value for o in question.options}
    return ", ".join(labels.get(v, str(v)) for v in (value if isinstance(value, list) else [value]))


def _field_answer(form: ScreeningFormBase, question_id: str) -> Any:
    value = form[question_id].data
    return value.strip() if isinstance(value, str) else value


class _Carried:
    """What a returning patient's page shows of the carried answers: the ticks, the answers
    shown filled in, the hints and the one error of each section left unticked."""

    def __init__(self, carried: Mapping[str, Any], sections: Mapping[str, list[str]], confirmed: set[str]):
        self.carried, self.sections, self.confirmed = carried, sections, confirmed
        self.shown: set[str] = set(carried)
        self.section_errors: dict[str, str] = {}

    def reshow(
        self,
        form: ScreeningFormBase,
        ruleset: RuleSet,
        prefilled: set[str],
        dropped: list[str],
        taken: list[str],
        error: InvalidAnswers | None,
    ) -> None:
        """Prepare ``form`` to be shown again after a refused post.

        An unticked section's unconfirmed answers are shown empty with the last
        answer as a hint (the date of birth stays filled in) and give the section
        one error naming the tick instead of one per question.
        """
        missing = {p.field for p in error.problems if p.code == "required"} if error else set()
        for section, question_ids in self.sections.items():
            if section not in self.confirmed and missing & set(question_ids):
                title = pick_text(next(s.title for s in ruleset.sections if s.id == section), current_language())
                self.section_errors[section] = _(
                    "Tick “Still true” for “%(section)s”, or answer its questions.", section=title
                )
        unconfirmed = {q for s in self.section_errors for q in self.sections[s]}
        if error:
            form.add_answer_errors(InvalidAnswers([p for p in error.problems if p.field not in unconfirmed]))
        self.shown = set()
        for question_id, value in self.carried.items():
            question, field = ruleset.question_by_id[question_id], form[question_id]
            if question_id in dropped and question.role != "birth_date":
                field.data = [] if question.type == "multi" else None
                field.raw_data = []
            elif question_id in taken:
                field.data = value
                self.shown.add(question_id)
            elif question_id in prefilled and _same(_field_answer(form, question_id), value):
                self.shown.add(question_id)
            if question_id not in self.shown:
                hint = _("Last time you answered: %(answer)s", answer=last_answer_words(question, value))
                field.description = f"{field.description} {hint}" if field.description else hint


def _page(form: ScreeningFormBase, token: str, carried: _Carried, ruleset: RuleSet) -> str:
    return questionnaire_html(
        form,
        ruleset=ruleset,
        notice=_(
            "Welcome back. Answers that usually stay the same are filled in from your last screening: "
            "check them, change any that are no longer right, and tick “Still true” under each section. "
            "Everything else is asked afresh."
        ),
        form_action=url_for("patient.again", token=token),
        carried=carried.sections,
        confirmed_sections=carried.confirmed,
        confirm_prefix=CONFIRM_PREFIX,
        prefilled_prefix=PREFILLED_PREFIX,
        prefilled=carried.shown,
        section_errors=carried.section_errors,
    )


def answer_again_from(screening: ScreeningRecord) -> dt.date | None:
    """The first day (the clinic's) a deferred patient may answer again: the practitioner's deferral date
    once they decided one, else the rules'; None when nothing says to wait."""
    if effective_status(screening) != "deferred":
        return None
    decided = screening.get("decided_defer_until") if screening["reviewed"] else None
    day = decided or screening["rescreen_after"]
    return dt.date.fromisoformat(day) if day else None


@bp.app_template_global()
def again_offer(screening: ScreeningRecord) -> dict[str, Any]:
    """What the result page offers next: no new screening after an "ineligible" (``offered``);
    after a deferral, the link from its date on (``open``; ``opens_on`` in words while it is ahead)."""
    if effective_status(screening) == "ineligible":
        return {"offered": False, "open": False, "opens_on": ""}
    day = answer_again_from(screening)
    if day is None or day <= screening_day():
        return {"offered": True, "open": True, "opens_on": ""}
    return {"offered": True, "open": False, "opens_on": format_iso_date(day.isoformat())}


@bp.route("/result/<token>/again", methods=["GET", "POST"])
@limiter.limit(form_rate_limit, methods=["POST"])
def again(token: str) -> ResponseReturnValue:
    """The next screening of a returning patient, carry-over answers filled in for confirmation."""
    source = linked_screening(token)
    offer = again_offer(source)
    if not offer["open"]:
        # Before the deferral's date, or after an "ineligible": why, and the clinic; never the form.
        return render_template("patient/again_closed.html", screening=source, token=token, **offer), 403
    ruleset = ruleset_of(source)  # the next screening is for the same procedure
    carried = carried_answers(ruleset.questions, source["answers"])
    sections = carried_sections(ruleset, carried)
    form_class = screening_form_class(ruleset, current_language())
    if request.method == "GET":
        details = {
            "patient_name": source["patient_name"] or "",
            "email": source["contact_email"] or "",
            "phone": source["contact_phone"] or "",
        }
        form = form_class(formdata=None, data={**carried, **details})
        return _page(form, token, _Carried(carried, sections, set()), ruleset)
    form = form_class()
    page = _Carried(carried, sections, {s for s in sections if request.form.get(CONFIRM_PREFIX + s)})
    prefilled = prefilled_answers(request.form, sections)
    raw = form.raw_answers(ruleset)
    dropped = drop_unconfirmed(raw, carried, sections, page.confirmed, prefilled)
    taken = take_confirmed(raw, carried, sections, page.confirmed, prefilled)
    details_ok = form.validate()
    try:
        verdict = screen(ruleset, raw, screening_day())
    except InvalidAnswers as error:
        page.reshow(form, ruleset, prefilled, dropped, taken, error)
        return _page(form, token, page, ruleset), 400
    if not details_ok:
        page.reshow(form, ruleset, prefilled, dropped, taken, None)
        return _page(form, token, page, ruleset), 400
    return store_submission(form, verdict, source=source)  # came through their own link: proves the record


@bp.app_template_global()
def course_for_patient(screening: ScreeningRecord) -> dict[str, Any] | None:
    """The course of the screening's patient as the result page shows it: sessions given, planned, next due.

    Only a record the screening's own token proves (``link_is_proven``): a match on typed
    e-mail or phone and date of birth alone shows the submitter nothing of the record.
    """
    if not link_is_proven(screening):
        return None
    progress = course_progress(get_db(), screening.get("patient_id"), screening["procedure"])
    if progress["course"] is None:
        return None
    return {"given": len(progress["sessions"]), "planned": progress["course"]["planned_sessions"], **progress}
