"""The patient's pages around a session, reached through e-mailed one-time links
(``outbox.session_mail``; only each link's hash is stored):

- ``/check/<check_token>``: before a planned session, the questions whose answers go
  stale (``time_sensitive: true`` in the rule file, with their follow-ups). The rules run
  again on the patient's latest screening with those answers replaced (stable answers
  as confirmed then; hidden follow-ups dropped by the engine's cleaning), and the result
  is stored as a new screening of the same patient and procedure, which the practitioner
  re-confirms on the day of the session. A verdict other than "eligible" is told to the
  patient on the page, marks the planned session and is e-mailed to staff.
- ``/check-in/<check_token>``: after a session, how the skin is (``core.check_in``);
  answers that suggest a complication are e-mailed to staff.

Both links work once; the page then says what was answered.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from .. import storage
from ..core import check_in as core_check_in
from ..core.engine import InvalidAnswers, Verdict, screen
from ..core.model import RuleSet
from ..outbox import wake_sender
from ..outbox.compose import mail_enabled, queue_webhook
from ..outbox.session_mail import base_screening, queue_staff_alert
from ..storage import session_checks as checks
from ..web.audit import audit, screening_target
from ..web.db import get_db, screening_day
from ..web.i18n import current_language, format_iso_date
from ..web.limits import form_rate_limit, limiter
from ..web.ruleset import get_ruleset
from ..web.validators import PlainText
from .forms import answer_message, questions_form_class
from .views import bp


def _expired(row: dict[str, Any]) -> bool:
    return dt.datetime.fromisoformat(row["expires_at"]) <= dt.datetime.now(dt.UTC)


# --- Before a planned session ----------------------------------------------------------------


def asked_questions(ruleset: RuleSet) -> tuple[str, ...]:
    """The questions a pre-session check asks: those whose answers go stale, and every follow-up shown
    by one of them (which is asked afresh with its parent), in questionnaire order."""
    asked = {q.id for q in ruleset.questions if q.time_sensitive}
    grown = True
    while grown:
        follow_ups = {
            q.id for q in ruleset.questions if q.show_if is not None and q.show_if.questions() & asked
        } - asked
        asked |= follow_ups
        grown = bool(follow_ups)
    return tuple(q.id for q in ruleset.questions if q.id in asked)


def _procedure_ruleset(procedure: str | None) -> RuleSet:
    return get_ruleset(current_app, procedure=procedure)


def _check_or_404(check_token: str) -> dict[str, Any]:
    check = checks.get_pre_session_check(get_db(), check_token)
    if check is None:
        abort(404)
    return check


def _outcome_page(check: dict[str, Any], status: int = 200) -> ResponseReturnValue:
    screening = storage.get_screening(get_db(), check["screening_id"]) if check["screening_id"] else None
    return render_template(
        "patient/pre_session_done.html",
        check=check,
        screening=screening,
        planned_on=format_iso_date(check["planned_on"]),
        language=current_language(),
    ), status


@bp.route("/check/<check_token>", methods=["GET", "POST"])
@limiter.limit(form_rate_limit, methods=["POST"])
def pre_session_check(check_token: str) -> ResponseReturnValue:
    """Before a planned session: the questions whose answers go stale; the verdict on the page (Post/Redirect/Get)."""
    db = get_db()
    check = _check_or_404(check_token)
    if check["answered_at"]:
        return _outcome_page(check)
    if _expired(check):
        return render_template("patient/session_link_expired.html"), 410
    course = checks.get_course(db, check["course_id"])
    base = base_screening(db, check["patient_id"], course.get("procedure"))
    if base is None:
        abort(404)  # the record lost its proven screening (erased): nothing to start from
    ruleset = _procedure_ruleset(course.get("procedure"))
    asked = asked_questions(ruleset)
    form_class = questions_form_class(ruleset, current_language(), asked)
    problem = None
    if request.method == "GET":
        form = form_class(formdata=None)
    else:
        form = form_class()
        if not form.validate():
            abort(400)  # a missing or stale CSRF token: nothing changes
        stable = {k: v for k, v in base["answers"].items() if k in ruleset.question_by_id and k not in asked}
        given = {}
        for question_id in asked:
            value = form[question_id].data
            value = value.strip() if isinstance(value, str) else value
            if value not in (None, "", []):
                given[question_id] = value
        try:
            verdict = screen(ruleset, {**stable, **given}, screening_day())
        except InvalidAnswers as error:
            for item in error.problems:
                if item.field in asked:
                    form[item.field].errors = [*form[item.field].errors, str(answer_message(item))]
                else:
                    problem = _("Your earlier answers no longer fit the questionnaire: please call the clinic.")
        else:
            _store_check(db, check, base, verdict, ruleset, check_token)
            return redirect(url_for("patient.pre_session_check", check_token=check_token), 303)
    return render_template(
        "patient/pre_session_check.html",
        form=form,
        ruleset=ruleset,
        questions=[ruleset.question_by_id[q] for q in asked],
        planned_on=format_iso_date(check["planned_on"]),
        problem=problem,
        check_token=check_token,
        today_iso=screening_day().isoformat(),
    ), (200 if request.method == "GET" else 400)


def _store_check(
    db: storage.Database,
    check: dict[str, Any],
    base: storage.ScreeningRecord,
    verdict: Verdict,
    ruleset: RuleSet,
    check_token: str,
) -> None:
    """The new screening, the planned session's mark, the staff's alert and the webhook, in one transaction."""
    patient = storage.Patient(
        name=base["patient_name"] or "", email=base["contact_email"] or "", phone=base["contact_phone"] or ""
    )
    with storage.write_transaction(db):
        saved = storage.save_screening(
            db,
            verdict,
            patient,
            source="pre-session",
            language=current_language(),
            # The consent the patient signed for the screening these answers complete.
            consent_version=base["consent_version"] or "",
            returning_from=base,  # came through the record's own link: proves it
            procedure=ruleset.procedure.id,
        )
        if not checks.answer_pre_session_check(db, check["id"], saved.id, verdict.status):
            return  # answered meanwhile in another tab: the transaction keeps the first
        if verdict.status != "eligible" and mail_enabled():

            def words() -> list[str]:
                return [
                    _(
                        "The patient's answers before session %(number)s, planned for %(date)s, give the verdict "
                        "“%(status)s” (new screening %(reference)s). The planned session is marked; the patient "
                        "was told on the page that the clinic will be in touch.",
                        number=check["number"],
                        date=format_iso_date(check["planned_on"]),
                        status=str(VERDICT_WORDS.get(verdict.status, verdict.status)),
                        reference=saved.reference,
                    )
                ]

            queue_staff_alert(db, "staff.pre_session", saved.id, saved.reference, words)
        queue_webhook(db, "screening.created", saved.id)
    audit(
        "check.pre_session",
        screening_target(saved.reference),
        {"number": check["number"], "status": verdict.status, "link": storage.hash_token(check_token)},
        actor="patient",
    )
    wake_sender()


VERDICT_WORDS = {
    "eligible": _l("nothing stops the session"),
    "deferred": _l("deferred"),
    "review": _l("needs a practitioner's review"),
    "ineligible": _l("not eligible"),
}


# --- After a session ------------------------------------------------------------------------

_YES_NO = [SelectChoice(core_check_in.YES, _l("Yes")), SelectChoice(core_check_in.NO, _l("No"))]


def _yes_no(label: str) -> RadioField:
    """A required yes/no question of the check-in."""
    return RadioField(label, choices=_YES_NO, validators=[InputRequired(_l("Please answer this question."))])


class CheckInForm(FlaskForm):
    """How the skin is after a session (``core.check_in.SYMPTOMS``, pain, a note)."""

    redness = _yes_no(_l("Is the treated skin still red?"))
    swelling = _yes_no(_l("Is it swollen?"))
    blisters = _yes_no(_l("Are there blisters?"))
    crusting = _yes_no(_l("Are there crusts or scabs?"))
    darker_patches = _yes_no(_l("Are there patches darker than your skin around them?"))
    lighter_patches = _yes_no(_l("Are there patches lighter than your skin around them?"))
    pain = RadioField(
        _l("How much does it hurt?"),
        choices=[
            SelectChoice("none", _l("Not at all")),
            SelectChoice("mild", _l("A little")),
            SelectChoice("moderate", _l("Moderately")),
            SelectChoice("severe", _l("A lot")),
        ],
        validators=[InputRequired(_l("Please answer this question."))],
    )
    other = _yes_no(_l("Is anything else worrying you about your skin?"))
    note = TextAreaField(
        _l("Anything you want to tell us (optional)"),
        validators=[Optional(), Length(max=core_check_in.NOTE_MAX), PlainText(multiline=True)],
    )

    def validate(self, extra_validators: Any = None) -> bool:
        """The fields, then a note when "anything else" is yes: staff need to know what."""
        valid = bool(super().validate(extra_validators))
        if self.other.data == core_check_in.YES and not (self.note.data or "").strip() and not self.note.errors:
            self.note.errors = [*self.note.errors, _l("Please tell us what worries you.")]
            valid = False
        return valid

    def answers(self) -> dict[str, Any]:
        """The answers as stored."""
        answers: dict[str, Any] = {name: self[name].data for name in (*core_check_in.SYMPTOMS, "pain")}
        answers["note"] = (self.note.data or "").strip()
        return answers


# The check-in's questions in page order, for the template and the staff's view.
CHECK_IN_FIELDS = (*core_check_in.SYMPTOMS[:-1], "pain", "other", "note")


@bp.route("/check-in/<check_token>", methods=["GET", "POST"])
@limiter.limit(form_rate_limit, methods=["POST"])
def check_in(check_token: str) -> ResponseReturnValue:
    """After a session: how the skin is; staff alerted by e-mail when the answers suggest a complication."""
    db = get_db()
    row = checks.get_check_in(db, check_token)
    if row is None:
        abort(404)
    if row["answered_at"]:
        return render_template("patient/check_in_done.html", row=row)
    if _expired(row):
        return render_template("patient/session_link_expired.html"), 410
    form = CheckInForm(formdata=None) if request.method == "GET" else CheckInForm()
    if request.method == "POST" and form.validate():
        answers = form.answers()
        signs = core_check_in.complication_signs(answers, dt.date.fromisoformat(row["given_on"]), screening_day())
        with storage.write_transaction(db):
            if checks.answer_check_in(db, row["id"], answers, signs) and signs and mail_enabled():

                def words() -> list[str]:
                    return [
                        _(
                            "The patient's check-in after session %(number)s of %(date)s suggests a complication: "
                            "%(signs)s. Please contact the patient.",
                            number=row["number"],
                            date=format_iso_date(row["given_on"]),
                            signs=", ".join(str(SIGN_WORDS[s]) for s in signs),
                        )
                    ]

                queue_staff_alert(db, "staff.check_in", row["screening_id"], row["reference"], words)
        audit(
            "check.check_in",
            screening_target(row["reference"]),
            {"number": row["number"], "signs": signs, "link": storage.hash_token(check_token)},
            actor="patient",
        )
        wake_sender()
        return redirect(url_for("patient.check_in", check_token=check_token), 303)
    return render_template(
        "patient/check_in.html", form=form, given_on=format_iso_date(row["given_on"]), check_token=check_token
    ), (200 if request.method == "GET" else 400)


# The signs of a complication in words (staff's e-mail and the course page).
SIGN_WORDS = {
    "redness": _l("redness"),
    "swelling": _l("swelling after two days"),
    "blisters": _l("blisters"),
    "crusting": _l("crusts"),
    "darker_patches": _l("darker patches"),
    "lighter_patches": _l("lighter patches"),
    "other": _l("something else (see the note)"),
    "pain": _l("severe pain"),
}
