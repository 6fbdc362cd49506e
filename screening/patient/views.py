"""Patient pages: landing, questionnaire, result, language switch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from ..core.conditions import simple_trigger
from ..core.engine import InvalidAnswers, Verdict, screen, screen_each
from ..core.history import review_verdict
from ..core.model import RuleSet, Section, UnknownProcedure, pick_text
from ..outbox import queue_screening_created, wake_sender
from ..storage import (
    SavedScreening,
    ScreeningRecord,
    is_storage_fault,
    new_submission,
    save_screening,
    write_transaction,
)
from ..web.clinic import get_clinic
from ..web.consent import signed_consent
from ..web.db import get_db, screening_day
from ..web.history import flag_stored_screening, proven_findings, record_findings
from ..web.i18n import LANGUAGE_COOKIE, available_languages, current_language
from ..web.kiosk import current_device, is_kiosk, remember_result, start_fresh
from ..web.limits import form_rate_limit, limiter
from ..web.procedures import PROCEDURE_FIELD, chosen_procedures, ruleset_of
from ..web.redirects import has_control_characters, local_path
from ..web.ruleset import get_rulebook, get_ruleset
from .forms import PATIENT_FIELDS, ScreeningFormBase, screening_form_class

bp = Blueprint("patient", __name__)

# Sent by the start page's treatment choice, so that a choice with every box unticked is told
# apart from a plain link to the questionnaire (which means the default treatment).
CHOSE_FIELD = "chose"

# A returning patient's "still true" tick of a section: this prefix and the section's id.
CONFIRM_PREFIX = "confirm_"


@bp.get("/")
def index() -> ResponseReturnValue:
    """The procedure (or the procedures to choose from) in a few lines and the way in; a booking
    link's ``?procedure=<id>`` ticks its treatment."""
    if is_kiosk():
        start_fresh()  # the next patient at the reception tablet
    named = request.args.getlist(PROCEDURE_FIELD)
    try:
        chosen = chosen_procedures(named) if named else ()
    except UnknownProcedure as error:
        return start_page(unknown=error.procedure), 404
    return start_page(chosen)


def start_page(chosen: tuple[str, ...] = (), unknown: str | None = None, none_chosen: bool = False) -> str:
    """The start page with ``chosen`` ticked (the default alone when none is), and why a named
    treatment was not found (``unknown``) or the choice was refused (``none_chosen``: nothing ticked)."""
    book = get_rulebook()
    return render_template(
        "patient/index.html",
        ruleset=get_ruleset(current_app),
        procedures=list(book.procedures.values()),
        chosen=() if none_chosen else chosen or (book.default,),
        unknown=unknown,
        none_chosen=none_chosen,
        chose_field=CHOSE_FIELD,
    )


def request_procedures() -> tuple[str, ...]:
    """The procedures this request's questionnaire is for (form fields on a POST, else the query);
    the default alone when none is named. Raise ``UnknownProcedure``."""
    source = request.form if request.method == "POST" else request.args
    return chosen_procedures(source.getlist(PROCEDURE_FIELD))


def questionnaire_ruleset(procedures: tuple[str, ...] | None = None) -> RuleSet:
    """The questionnaire of the chosen procedures: one procedure's questions, or the union of several."""
    if procedures is None:
        try:
            procedures = request_procedures()
        except UnknownProcedure:
            procedures = ()  # the view refused it already; a language switch falls back to the default
    if not procedures:
        return get_ruleset(current_app)
    return get_rulebook().combined(procedures)


def _new_form() -> ScreeningFormBase:
    return screening_form_class(questionnaire_ruleset(), current_language())()


def questionnaire_html(
    form: ScreeningFormBase,
    notice: str | None = None,
    section_errors: Mapping[str, str] | None = None,
    ruleset: RuleSet | None = None,
    **context: Any,
) -> str:
    """The questionnaire page, with any errors listed at the top (``section_errors``: one per section id,
    listed after its questions; ``context``: more for the template)."""
    book = get_rulebook()
    if ruleset is None:
        ruleset = questionnaire_ruleset()
        procedures = _procedures_or_default()
    else:
        procedures = (ruleset.procedure.id,)  # a returning patient's: the procedure of their last screening
    return render_template(
        "patient/questionnaire.html",
        form=form,
        ruleset=ruleset,
        # Carried in the form: only when not the default alone, so that page stays as it was.
        procedure_ids=() if procedures == (book.default,) else procedures,
        procedure_titles=[book.get(p).procedure.name for p in procedures],
        error_list=_error_list(form, ruleset, section_errors or {}),
        section_errors=section_errors or {},
        notice=notice,
        follow_up_triggers=_follow_up_triggers(ruleset),
        today_iso=screening_day().isoformat(),
        **context,
    )


def _procedures_or_default() -> tuple[str, ...]:
    try:
        return request_procedures()
    except UnknownProcedure:
        return (get_rulebook().default,)


def render_questionnaire(form: ScreeningFormBase, status: int = 200, notice: str | None = None) -> ResponseReturnValue:
    """The questionnaire page as a response."""
    return questionnaire_html(form, notice), status


# Stands in for the CSRF token in a cached blank page; replaced on every request.
TOKEN_PLACEHOLDER = "csrf-token-placeholder-7f3a9c"  # noqa: S105 - not a secret


def blank_questionnaire() -> str:
    """The empty questionnaire page.

    Rendering ~120 form controls takes milliseconds, and the blank page is the
    same for every visitor on a given day in a given language except for the
    CSRF token, so it is rendered once and the visitor's own token put in.
    """
    # The rule set's digest too: a page is never served from a cache made on another rule file.
    key = (current_language(), screening_day().isoformat(), get_ruleset().digest)
    cache: dict[tuple[str, str, str], str] = current_app.extensions.setdefault("blank_questionnaire", {})
    page = cache.get(key)
    if page is None:
        form = _new_form()
        if hasattr(form, "csrf_token"):
            form.csrf_token.current_token = TOKEN_PLACEHOLDER
        page = questionnaire_html(form)
        for stale in [k for k in cache if k[1:] != key[1:]]:
            del cache[stale]  # only today's pages of this rule file are kept, in every language
        cache[key] = page
    if TOKEN_PLACEHOLDER in page:
        page = page.replace(TOKEN_PLACEHOLDER, generate_csrf())
    return page


@bp.route("/screening", methods=["GET", "POST"])
@limiter.limit(form_rate_limit, methods=["POST"])
def questionnaire() -> ResponseReturnValue:
    """Show the questionnaire of the chosen procedures; on a valid answer set, screen each
    procedure on it, store one screening per procedure and show the result."""
    try:
        procedures = request_procedures()
    except UnknownProcedure as error:
        return start_page(unknown=error.procedure), 404
    if request.method == "GET" and request.args.get(CHOSE_FIELD) and not request.args.getlist(PROCEDURE_FIELD):
        # The start page's choice sent with every box unticked: say so there rather than
        # screen the patient for a treatment they did not pick.
        return start_page(none_chosen=True), 400
    if request.method == "GET":
        if is_kiosk():
            # A fresh form and session for each patient; the shared page has no data-kiosk.
            start_fresh()
            return render_questionnaire(_new_form())
        # The query string reaches the page (the language switch's link back), so only a plain URL is shared.
        if request.query_string or current_app.debug:
            return render_questionnaire(_new_form())
        return blank_questionnaire()
    switch = request.form.get("switch_language")
    if switch is not None:
        return _switch_language(switch)
    form = _new_form()
    ruleset = questionnaire_ruleset(procedures)
    details_ok = form.validate()
    try:
        raw, today = form.raw_answers(ruleset), screening_day()
        if len(procedures) == 1:  # one procedure: its questionnaire is its rule set
            verdicts = {procedures[0]: screen(ruleset, raw, today)}
        else:
            verdicts = screen_each(get_rulebook(), list(procedures), raw, today)
    except InvalidAnswers as error:
        form.add_answer_errors(error)
        return render_questionnaire(form, 400)
    if not details_ok:
        return render_questionnaire(form, 400)
    return store_submission(form, verdicts)


def store_submission(
    form: ScreeningFormBase, verdicts: Mapping[str, Verdict] | Verdict, source: ScreeningRecord | None = None
) -> ResponseReturnValue:
    """Store a valid questionnaire (first or returning) with its signed consent and the
    messages it sets off, then send the patient to their result.

    ``verdicts``: each chosen procedure's verdict on the answers (a lone verdict: the
    procedure of ``source``, else the default's); several are stored as one screening per
    procedure sharing one ``submission``, and the result page shows each.
    ``source``: the screening whose result link a returning patient came through, whose
    patient record the new screening joins (``storage.find_or_add_patient``).

    The answers are checked against the same patient's earlier ones (``web.history``). Only a
    patient proven by their own result link sees what that changes (the verdict "review");
    a match on typed contact details and date of birth is shown to staff alone, so the page
    tells a stranger nothing of another person's screenings.
    """
    if not isinstance(verdicts, Mapping):
        lone = (ruleset_of(source) if source is not None else get_ruleset(current_app)).procedure.id
        verdicts = {lone: verdicts}
    consent = signed_consent(current_language(), form.signature.data)
    db, patient = get_db(), form.patient()
    device = current_device()  # a reception tablet: staff see where it was taken
    today = screening_day()
    submission = new_submission() if len(verdicts) > 1 else None
    stored: list[SavedScreening] = []
    try:
        # The screenings and the messages they set off commit together: none is lost, none is sent for nothing.
        with write_transaction(db):
            for procedure, verdict in verdicts.items():
                ruleset = get_ruleset(procedure=procedure)
                proven = None
                if source is not None:
                    proven = proven_findings(db, ruleset, verdict, source["patient_id"], today)
                    verdict = review_verdict(ruleset, verdict, proven)
                saved = save_screening(
                    db,
                    verdict,
                    patient,
                    source="web" if device is None else "kiosk",
                    device_id=None if device is None else device["id"],
                    language=current_language(),
                    consent_version=consent.consent.version,
                    consent=consent,
                    returning_from=source,
                    procedure=procedure,
                    submission=submission,
                    read_earlier=proven is None,
                )
                if proven is not None:
                    record_findings(db, saved.id, proven)
                    findings = proven
                else:
                    findings = flag_stored_screening(db, ruleset, verdict, saved, today)
                queue_screening_created(
                    db,
                    saved,
                    verdict.status,
                    patient.email,
                    current_language(),
                    # One e-mailed link: its result page shows every procedure of the submission.
                    send_link=form.wants_link() and not stored,
                    flagged=bool(findings),
                )
                stored.append(saved)
    except Exception as error:
        if not is_storage_fault(error):
            raise
        # The patient keeps every answer and is told plainly that nothing was saved.
        notice = _(
            "We could not save your answers just now, so nothing was stored. Your answers are still filled in "
            "below: please try sending them again in a minute, or call the clinic."
        )
        response = make_response(render_questionnaire(form, 503, notice))
        response.headers["Retry-After"] = "60"
        return response
    wake_sender()
    first = stored[0]
    if device is not None:
        # No result link on a shared tablet: a view of this result bound to the device's session.
        remember_result(first.id)
        return redirect(url_for("patient.kiosk_result"), 303)
    # Post/Redirect/Get: reloading the result page never submits twice.
    return redirect(url_for("patient.result", token=first.token), 303)


@bp.get("/clinic-logo")
def clinic_logo() -> ResponseReturnValue:
    """The clinic's logo named in clinic.yaml."""
    logo = get_clinic().logo
    if logo is None:
        abort(404)
    return send_file(logo, max_age=3600)


@bp.get("/language/<code>")
def set_language(code: str) -> ResponseReturnValue:
    """Remember the patient's language and go back to the page they were on."""
    if code not in available_languages():
        abort(404)
    if has_control_characters(request.args.get("next")):
        abort(400)  # a forged link (CR/LF header injection)
    # Only local paths: the switch must not become an open redirect.
    target = local_path(request.args.get("next")) or url_for("patient.index")
    return _remember_language(redirect(target, 303), code)


def _switch_language(code: str) -> ResponseReturnValue:
    """The questionnaire again in another language, with every answer sent so far, not yet checked."""
    if code not in available_languages():
        abort(404)
    with force_locale(code):
        page = questionnaire_html(_new_form())
    return _remember_language(make_response(page), code)


def _remember_language(response: Response, code: str) -> Response:
    response.set_cookie(
        LANGUAGE_COOKIE,
        code,
        max_age=365 * 24 * 3600,
        samesite="Lax",
        httponly=True,
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


def _error_list(form: ScreeningFormBase, ruleset: RuleSet, section_errors: Mapping[str, str]) -> list[dict[str, str]]:
    """Errors for the summary at the top, in page order, each linking to its field (a section's
    error, to the "still true" tick under its questions)."""
    entries = []
    # The page shows the details first, then the questions by section, then the signed consent.
    *details, signature, consent = PATIENT_FIELDS
    names: list[str | Section] = ["csrf_token", *details]
    for section in ruleset.sections:
        names += [q.id for q in ruleset.questions if q.section == section.id]
        names.append(section)
    for name in [*names, signature, consent]:
        if isinstance(name, Section):
            if name.id in section_errors:
                label = str(pick_text(name.title, current_language()))
                entries.append({"anchor": CONFIRM_PREFIX + name.id, "label": label, "message": section_errors[name.id]})
            continue
        field = getattr(form, name, None)
        if field is None or not field.errors:
            continue
        anchor = f"{field.id}-0" if field.type in ("RadioField", "MultiCheckboxField") else field.id
        label, message = str(field.label.text), str(field.errors[0])
        if name == "csrf_token":
            # The patient reads neither the token's name nor its error: only what to do.
            anchor, label, message = (
                "submit",
                str(_("Form")),
                str(
                    _(
                        "This form expired for your security. Your answers are kept: "
                        "please check them and send the form again."
                    )
                ),
            )
        entries.append({"anchor": anchor, "label": label, "message": message})
    return entries


def _follow_up_triggers(ruleset: RuleSet) -> dict[str, dict[str, Any]]:
    """For each follow-up whose trigger is simple answers, what shows it (used by the script)."""
    triggers: dict[str, dict[str, Any]] = {}
    for question in ruleset.questions:
        trigger = simple_trigger(question.show_if) if question.show_if is not None else None
        if trigger is not None:
            triggers[question.id] = trigger
    return triggers
