"""One screening: its page, the practitioner's decision, and the
day-of-session re-confirmation (nothing changed, or changed answers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from .. import storage
from ..core.decisions import DECIDED_STATUSES, decision_kind
from ..core.engine import InvalidAnswers, Verdict, screen
from ..core.model import RuleSet, pick_text
from ..core.rules_diff import differing_rules, fired_rules
from ..outbox import queue_screening_reviewed, wake_sender
from ..web.audit import audit, screening_target
from ..web.consent import request_signature
from ..web.db import get_db, screening_day
from ..web.i18n import current_language
from ..web.procedures import ruleset_of
from .answer_rows import answer_label, answer_rows, history
from .blueprint import bp
from .clock import age, is_expired, to_local, valid_until
from .forms import (
    DECISION_LABELS,
    OUTCOME_LABELS,
    ReconfirmForm,
    ReviewForm,
    changed_answers_form_class,
    check_patient_signature,
)
from .review_flow import hidden_queue_fields, neighbours, next_undecided_url, queue_url, request_queue


def screening_or_404(reference: str) -> storage.ScreeningRecord:
    """The screening with this reference code, or a 404."""
    screening = storage.get_screening_by_reference(get_db(), reference)
    if screening is None:
        abort(404)
    return screening


def _to_detail(screening: Mapping[str, Any]) -> ResponseReturnValue:
    _filters, args = request_queue()
    return redirect(url_for("practitioner.detail", reference=screening["reference"], **args), 303)


def answer_context(screening: storage.ScreeningRecord, language: str) -> dict[str, Any]:
    """The answers as the detail page and the chart PDF show them."""
    ruleset = ruleset_of(screening)
    return {
        "answers": answer_rows(screening, ruleset, language),
        "question_text": {q.id: pick_text(q.text, language) for q in ruleset.questions},
        "answer_labels": {
            q.id: answer_label(q, screening["answers"][q.id], language)
            for q in ruleset.questions
            if q.id in screening["answers"]
        },
    }


def render_detail(
    screening: storage.ScreeningRecord,
    review_form: ReviewForm | None = None,
    reconfirm_form: ReconfirmForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The screening page with its decision and re-confirmation forms; every
    rendering shows the answers, so every one is audited (a 400 too)."""
    audit("screening.view", screening_target(screening["reference"]), {"status": status} if status != 200 else None)
    ruleset = ruleset_of(screening)
    db = get_db()
    language = current_language()
    today = screening_day()
    revision = storage.screening_revision(screening)
    if review_form is None:
        review_form = ReviewForm(formdata=None, verdict_status=screening["status"], today=today, revision=revision)
    if reconfirm_form is None:
        reconfirm_form = ReconfirmForm(formdata=None, revision=revision)
    reviews = storage.list_reviews(db, screening["id"])
    reconfirmations = storage.list_reconfirmations(db, screening["id"])
    goals_id = ruleset.role_question("treatment_goals")
    goals_question = ruleset.question_by_id.get(goals_id) if goals_id else None
    goals = screening.get("goals") or []
    dob = screening.get("birth_date")
    return (
        render_template(
            "practitioner/detail.html",
            screening=screening,
            ruleset=ruleset,
            **answer_context(screening, language),
            integrity=storage.integrity_matches(db, screening),
            goals=answer_label(goals_question, goals, language) if goals_question and goals else "",
            age=age(dob, today),
            age_at_screening=age(dob, to_local(screening["created_at"]).date()),
            version_differs=screening["rules_version"] != ruleset.full_version,
            current_rules=current_rules_verdict(screening, ruleset),
            expired=is_expired(screening, today),
            valid_until=valid_until(screening),
            current_review=reviews[0] if reviews and screening["reviewed"] else None,
            history=history(screening, reviews, reconfirmations, ruleset, language),
            review_form=review_form,
            decisions=decision_buttons(screening, review_form),
            decision_keys=DECISION_KEYS,
            today_iso=today.isoformat(),
            reconfirm_form=reconfirm_form,
            revision=revision,
            nav=neighbours(screening),
            queue_fields=hidden_queue_fields(),
        ),
        status,
    )


# The key that presses each decision's button on the detail page (app.js's shortcuts).
DECISION_KEYS = {"eligible": "e", "deferred": "d", "ineligible": "i"}


def decision_buttons(screening: storage.ScreeningRecord, form: ReviewForm) -> list[dict[str, Any]]:
    """The decisions the page offers, one button each: the verdict's own status needs
    only the click; another asks for the fields ``core.decisions`` requires (``needs``:
    a keyboard shortcut goes to the first one left empty rather than press the button)."""
    verdict = screening["status"]
    # On a definite verdict nobody has decided, the one-click confirmation above takes the key.
    confirm_above = not screening["reviewed"] and verdict in DECIDED_STATUSES
    buttons = []
    for status in DECIDED_STATUSES:
        same = status == verdict
        with_date = status == "deferred" and not same
        buttons.append(
            {
                "status": status,
                "label": DECISION_LABELS[status],
                "same": same,
                "key": None if same and confirm_above else DECISION_KEYS[status],
                "needs": [] if same else [*([form.defer_until.id] if with_date else []), form.reason_code.id],
                "with_date": with_date,
            }
        )
    return buttons


def current_rules_verdict(screening: storage.ScreeningRecord, ruleset: RuleSet) -> dict[str, Any] | None:
    """For a screening decided under another rule version: the verdict the rules in
    force give on its answers and its own day, and the rules that decide differently."""
    if screening["rules_version"] == ruleset.full_version:
        return None
    try:
        verdict = screen(ruleset, screening["answers"], to_local(screening["created_at"]).date())
    except InvalidAnswers:
        return {"status": None, "same": False, "rules": []}
    stored = {r["rule"]: r["outcome"] for r in (*screening["reasons"], *(screening["notes"] or []))}
    return {
        "status": verdict.status,
        "same": verdict.status == screening["status"],
        "rules": differing_rules(stored, fired_rules(verdict)),
    }


@bp.get("/screening/<reference>")
def detail(reference: str) -> ResponseReturnValue:
    """Everything about one screening, for the decision and the paper file."""
    return render_detail(screening_or_404(reference))


def _stale(screening: Mapping[str, Any]) -> ResponseReturnValue:
    flash(
        _(
            "Nothing was recorded: this screening changed while you were looking at it "
            "(another decision or re-confirmation). Please check it again."
        ),
        "error",
    )
    return _to_detail(screening)


@bp.post("/screening/<reference>/review")
def review(reference: str) -> ResponseReturnValue:
    """Record a decision: eligible, deferred (until a date) or ineligible; the verdict's own
    status in one click, another with a reason (and a comment where the rules decided)."""
    screening = screening_or_404(reference)
    today = screening_day()
    form = ReviewForm(verdict_status=screening["status"], today=today)
    if not form.validate():
        return render_detail(screening, review_form=form, status=400)
    status = form.status.data
    decision = decision_kind(screening["status"], status)
    defer_until = form.defer_until.data.isoformat() if status == "deferred" and form.defer_until.data else None
    db = get_db()
    try:
        # The decision and the messages it sets off (patient, webhook) commit together.
        with storage.write_transaction(db):
            storage.review_screening(
                db,
                screening["id"],
                current_user.id,
                form.revision.data,
                today=today,
                status=status,
                reason_code=form.reason_code.data or None,
                comment=(form.comment.data or "").strip() or None,
                notes=(form.notes.data or "").strip() or None,
                defer_until=defer_until,
            )
            queue_screening_reviewed(db, screening["id"])
    except storage.StaleScreening:
        return _stale(screening)
    wake_sender()
    details = {"verdict": screening["status"], "status": status}
    if decision == "override":
        details["reason"] = form.reason_code.data
        if defer_until:
            details["defer_until"] = defer_until
    audit(f"review.{decision}", screening_target(screening["reference"]), details)
    # On to the next screening nobody has decided, in the queue the practitioner came from.
    following = next_undecided_url(screening)
    if following is None:
        flash(_("Your decision is recorded. No screening in this view waits for a decision."))
        return redirect(queue_url(), 303)
    flash(
        _(
            "Your decision on %(reference)s is recorded. This is the next screening to decide.",
            reference=screening["reference"],
        )
    )
    return redirect(following, 303)


def _record_reconfirmation(
    screening: Mapping[str, Any], revision: str, verdict: Verdict, typed_signature: str
) -> ResponseReturnValue:
    try:
        result = storage.reconfirm_screening(
            get_db(),
            screening["id"],
            current_user.id,
            revision,
            verdict,
            patient_signature=request_signature(typed_signature),
            practitioner_name=current_user.name,
        )
    except storage.StaleScreening:
        return _stale(screening)
    audit(
        "screening.reconfirm",
        screening_target(screening["reference"]),
        {
            "answers_changed": result.answers_changed,
            "verdict_changed": result.verdict_changed,
            "previous_status": screening["status"],
            "status": verdict.status,
        },
    )
    if result.verdict_changed:
        flash(
            _(
                "The answers are confirmed for today, and the verdict changed from %(old)s to %(new)s: "
                "the earlier decision no longer applies. Please review the screening again.",
                old=OUTCOME_LABELS[screening["status"]],
                new=OUTCOME_LABELS[verdict.status],
            ),
            "warning",
        )
    elif result.answers_changed:
        flash(
            _(
                "The changed answers are saved and the verdict stayed %(status)s, but the earlier decision "
                "was taken on other answers. Please review the screening again.",
                status=OUTCOME_LABELS[verdict.status],
            ),
            "warning",
        )
    else:
        flash(_("The answers are confirmed for today; the verdict is unchanged."))
    return _to_detail(screening)


@bp.post("/screening/<reference>/reconfirm")
def reconfirm(reference: str) -> ResponseReturnValue:
    """Day-of-session check, "nothing has changed": re-run the engine on the
    stored answers today, with the rule file in force today."""
    screening = screening_or_404(reference)
    form = ReconfirmForm()
    valid = form.validate()  # first: validate() starts every field's errors afresh
    if not check_patient_signature(form.patient_signature, screening["patient_name"] or "") or not valid:
        return render_detail(screening, reconfirm_form=form, status=400)
    try:
        verdict = screen(ruleset_of(screening), screening["answers"], screening_day())
    except InvalidAnswers:
        flash(
            _(
                "The questionnaire has changed since this screening, so the stored answers no longer fit it. "
                "Please go through the answers with the patient and enter them here."
            ),
            "warning",
        )
        return redirect(url_for("practitioner.answers", reference=screening["reference"]), 303)
    return _record_reconfirmation(screening, form.revision.data, verdict, form.patient_signature.data)


@bp.route("/screening/<reference>/answers", methods=["GET", "POST"])
def answers(reference: str) -> ResponseReturnValue:
    """Day-of-session check with changed answers: re-enter them and re-run the engine."""
    screening = screening_or_404(reference)
    ruleset = ruleset_of(screening)
    form_class = changed_answers_form_class(ruleset, current_language())
    status = 200
    if request.method == "GET":
        known = {k: v for k, v in screening["answers"].items() if k in ruleset.question_by_id}
        form = form_class(formdata=None, data={**known, "revision": storage.screening_revision(screening)})
    else:
        form = form_class()
        status = 400
        valid = form.validate()
        signed = check_patient_signature(form.patient_signature, screening["patient_name"] or "")
        if valid:
            try:
                verdict = screen(ruleset, form.raw_answers(ruleset), screening_day())
            except InvalidAnswers as error:
                form.add_answer_errors(error)
            else:
                if signed:
                    return _record_reconfirmation(
                        screening, form.revision.data or "", verdict, form.patient_signature.data
                    )
    audit("screening.view", screening_target(screening["reference"]), {"part": "answers", "status": status})
    return (
        render_template(
            "practitioner/answers.html",
            screening=screening,
            form=form,
            ruleset=ruleset,
            only=_questions_to_change(ruleset, request.values.get("question", "")),
        ),
        status,
    )


def _questions_to_change(ruleset: RuleSet, question_id: str) -> set[str] | None:
    """The question a practitioner changes (``?question=``) and the follow-ups it
    may show; None for the whole questionnaire."""
    if question_id not in ruleset.question_by_id:
        return None
    return {question_id} | {
        q.id for q in ruleset.questions if q.show_if is not None and question_id in q.show_if.questions()
    }
