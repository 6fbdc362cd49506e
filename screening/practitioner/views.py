"""The practitioner workspace: queue, screening detail, decisions,
day-of-session re-confirmation, rules page, audit log and export.

Every page but the login page needs a signed-in practitioner; the check is a
``before_request`` on the blueprint, so a new page cannot forget it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from .. import storage
from ..core.conditions import describe_condition
from ..core.engine import InvalidAnswers, age_on, clean_answers, evaluate, screen, visible_questions
from ..core.model import OUTCOMES, Question, RuleSet, pick_text
from ..web.audit import ACTIONS, audit, practitioner_target, screening_target
from ..web.db import get_db, screening_day
from ..web.i18n import current_language, format_iso_date
from ..web.limits import limiter, login_account_key, login_account_rate_limit, login_rate_limit
from ..web.ruleset import get_ruleset
from . import auth
from .export import EXPORT_COLUMNS, csv_chunks
from .forms import (
    OUTCOME_LABELS,
    OVERRIDE_REASONS,
    AuditFilterForm,
    LoginForm,
    LogoutForm,
    QueueFilterForm,
    ReconfirmForm,
    ReviewForm,
    changed_answers_form_class,
    select_choices,
    try_rules_form_class,
)

URL_PREFIX = "/practitioner"
bp = Blueprint("practitioner", __name__, url_prefix=URL_PREFIX)

PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 100
CHART_DAYS = 30
OUTCOME_COLOURS = {"eligible": "#1d6b35", "review": "#7a4b00", "deferred": "#0a58a8", "ineligible": "#9b1c1c"}
QUEUE_COLUMNS = (
    "id, reference, created_at, source, patient_name, birth_date, status, reviewed, decided_status,"
    " reviewed_at, confirmed_at"
)
# Endpoints an anonymous visitor may reach.
PUBLIC_ENDPOINTS = frozenset({"practitioner.login"})


LAST_SEEN = "last_seen"


@bp.before_request
def require_login() -> ResponseReturnValue | None:
    """Send anonymous visitors to the login page, remembering where they were going."""
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    if current_user.is_authenticated:
        now = time.time()
        # Clinic computers are shared: an idle session ends (checked here, on the server).
        if now - session.get(LAST_SEEN, now) > int(current_app.config["IDLE_TIMEOUT"]):
            logout_user()
            session.clear()
            flash(_("You were signed out after a period without activity. Please sign in again."))
            return redirect(url_for("practitioner.login", next=target))
        session[LAST_SEEN] = now
        return None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    return redirect(url_for("practitioner.login", next=target))


def init_app(app: Flask) -> None:
    """Sign-in and the workspace's pages."""
    auth.init_app(app)
    app.register_blueprint(bp)


# --- Time ------------------------------------------------------------------------


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def _to_local(timestamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(timestamp).astimezone(_zone())


def local_time(timestamp: str | None) -> str:
    """A stored UTC timestamp as the clinic's wall-clock time."""
    return _to_local(timestamp).strftime("%Y-%m-%d %H:%M") if timestamp else ""


def day_start(day: dt.date) -> str:
    """The UTC timestamp at which the clinic's ``day`` begins, as stored."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=_zone()).astimezone(dt.UTC)
    return start.isoformat(timespec="microseconds")


def valid_until(screening: Mapping[str, Any]) -> dt.date:
    """The last day the answers count as current (``VALID_DAYS`` after they
    were given or last confirmed)."""
    anchor = screening.get("confirmed_at") or screening["created_at"]
    return _to_local(anchor).date() + dt.timedelta(days=int(current_app.config["VALID_DAYS"]))


def is_expired(screening: Mapping[str, Any], today: dt.date) -> bool:
    """Older than ``VALID_DAYS``: the patient must confirm the answers again."""
    return today > valid_until(screening)


def machine_time(timestamp: str | None) -> str:
    """A stored timestamp for a <time datetime> attribute (milliseconds at most)."""
    return dt.datetime.fromisoformat(timestamp).isoformat(timespec="milliseconds") if timestamp else ""


@bp.context_processor
def template_helpers() -> dict[str, Any]:
    """Helpers for the workspace's templates."""
    return {
        "local_time": local_time,
        "describe_condition": describe_condition,
        "machine_time": machine_time,
        "outcome_labels": OUTCOME_LABELS,
        "override_reasons": OVERRIDE_REASONS,
        "logout_form": LogoutForm() if current_user.is_authenticated else None,
        "timezone_name": current_app.config["TIMEZONE"],
    }


# --- Sign-in -------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Only a path inside the workspace: the login page is no open redirect."""
    default = url_for("practitioner.queue")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or not target.startswith(URL_PREFIX + "/"):
        return default
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
@limiter.limit(login_account_rate_limit, key_func=login_account_key, methods=["POST"])
def login() -> ResponseReturnValue:
    """Email and password; one message for every kind of failure."""
    if current_user.is_authenticated:
        return redirect(url_for("practitioner.queue"))
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        user = auth.authenticate(form.email.data, form.password.data)
        if user is not None:
            # A new session: nothing from before sign-in carries over.
            session.clear()
            login_user(user)
            session[LAST_SEEN] = time.time()
            return redirect(_safe_next(request.args.get("next")), 303)
        failed = True
    status = 400 if request.method == "POST" and not failed else 200
    return render_template("practitioner/login.html", form=form, failed=failed), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out (a POST with the CSRF token)."""
    if not LogoutForm().validate_on_submit():
        abort(400)
    audit("logout", practitioner_target(current_user.email))
    logout_user()
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("practitioner.login"), 303)


# --- Queue ---------------------------------------------------------------------------


def _encode_cursor(created_at: str, row_id: int) -> str:
    return base64.urlsafe_b64encode(f"{created_at}|{row_id}".encode()).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[str, int] | None:
    """The (timestamp, id) a page starts after; 400 for a damaged cursor."""
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        timestamp, _sep, row_id = text.partition("|")
        dt.datetime.fromisoformat(timestamp)
        number = int(row_id)
    except (ValueError, binascii.Error):
        abort(400)
    if not 0 <= number <= storage.MAX_ROW_ID:
        abort(400)
    return timestamp, number


def _queue_filter(form: QueueFilterForm) -> storage.ScreeningFilter:
    reviewed = {"yes": True, "no": False}.get(form.reviewed.data or "")
    return storage.ScreeningFilter(
        status=form.status.data or None,
        reviewed=reviewed,
        since=day_start(form.since.data) if form.since.data else None,
        until=day_start(form.until.data + dt.timedelta(days=1)) if form.until.data else None,
        search=(form.q.data or "").strip() or None,
    )


def _filter_args(form: QueueFilterForm) -> dict[str, Any]:
    """The filters as query parameters, for links that keep them."""
    args = {
        "status": form.status.data or "",
        "reviewed": form.reviewed.data or "",
        "since": form.since.data.isoformat() if form.since.data else "",
        "until": form.until.data.isoformat() if form.until.data else "",
        "q": (form.q.data or "").strip(),
    }
    return {key: value for key, value in args.items() if value}


def _age(birth_date: str | None, today: dt.date) -> int | None:
    return age_on(dt.date.fromisoformat(birth_date), today) if birth_date else None


@bp.get("/")
def queue() -> ResponseReturnValue:
    """Screenings newest first, filtered, a page at a time (keyset)."""
    form = QueueFilterForm(formdata=request.args)
    valid = form.validate()
    if not valid:
        # Show the errors, and the unfiltered queue rather than a guess.
        form_filters = storage.ScreeningFilter()
        args: dict[str, Any] = {}
    else:
        form_filters = _queue_filter(form)
        args = _filter_args(form)
    db = get_db()
    today = screening_day()
    rows = storage.list_screenings(
        db, form_filters, before=_decode_cursor(request.args.get("after")), limit=PAGE_SIZE + 1, columns=QUEUE_COLUMNS
    )
    next_cursor = (
        _encode_cursor(rows[PAGE_SIZE - 1]["created_at"], rows[PAGE_SIZE - 1]["id"]) if len(rows) > PAGE_SIZE else None
    )
    rows = rows[:PAGE_SIZE]
    for row in rows:
        row["expired"] = is_expired(row, today)
        row["age"] = _age(row["birth_date"], today)
        row["needs_review"] = not row["reviewed"] and row["status"] in ("review", "deferred")
    counts = storage.queue_counts(db, form_filters)
    return (
        render_template(
            "practitioner/queue.html",
            form=form,
            rows=rows,
            counts=[(status, counts.get(status, 0)) for status in OUTCOMES],
            total=sum(counts.values()),
            filter_args=args,
            paged=bool(request.args.get("after")),
            next_url=url_for("practitioner.queue", **args, after=next_cursor) if next_cursor else None,
            export_url=url_for("practitioner.export_csv", **args),
            chart=_chart(db, today),
        ),
        200 if valid else 400,
    )


@dataclasses.dataclass(frozen=True)
class Bar:
    """One coloured segment of a day's column in the chart."""

    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


def _chart(db: Any, today: dt.date) -> dict[str, Any]:
    """Screenings per day and outcome over the last ``CHART_DAYS`` days, laid
    out as SVG shapes (no script, no inline style)."""
    days = [today - dt.timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    bounds = [(day.isoformat(), day_start(day), day_start(day + dt.timedelta(days=1))) for day in days]
    counts = storage.daily_status_counts(db, bounds)
    totals = [sum(counts.get((day.isoformat(), s), 0) for s in OUTCOMES) for day in days]
    top = max([*totals, 1])
    scale = _nice_ceiling(top)
    width, height, left, bottom, top_pad = 640.0, 200.0, 36.0, 24.0, 8.0
    plot_height = height - bottom - top_pad
    step = (width - left) / len(days)
    bars: list[Bar] = []
    for index, day in enumerate(days):
        y = height - bottom
        for status in OUTCOMES:
            n = counts.get((day.isoformat(), status), 0)
            if not n:
                continue
            h = plot_height * n / scale
            y -= h
            label = _("%(day)s: %(n)d %(outcome)s", day=day.isoformat(), n=n, outcome=OUTCOME_LABELS[status])
            bars.append(
                Bar(left + index * step + 2, round(y, 2), step - 4, round(h, 2), OUTCOME_COLOURS[status], label)
            )
    labels = [
        {"x": left + index * step + step / 2, "text": day.strftime("%d %b")}
        for index, day in enumerate(days)
        if (len(days) - 1 - index) % 7 == 0  # today, and a week apart before it
    ]
    by_status = {s: sum(counts.get((d.isoformat(), s), 0) for d in days) for s in OUTCOMES}
    return {
        "width": width,
        "height": height,
        "left": left,
        "baseline": height - bottom,
        "top": top_pad,
        "scale": scale,
        "bars": bars,
        "labels": labels,
        "legend": [(s, OUTCOME_LABELS[s], OUTCOME_COLOURS[s], by_status[s]) for s in OUTCOMES],
        "table": [
            (day, [counts.get((day.isoformat(), s), 0) for s in OUTCOMES], total)
            for day, total in zip(days, totals, strict=True)
        ],
        "total": sum(totals),
        "first": days[0],
        "last": days[-1],
    }


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 ... that is at least ``value``."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if magnitude * factor >= value:
                return magnitude * factor
        magnitude *= 10


# --- Screening detail -------------------------------------------------------------------


def _screening_or_404(reference: str) -> dict[str, Any]:
    screening = storage.get_screening_by_reference(get_db(), reference)
    if screening is None:
        abort(404)
    return screening


def answer_label(question: Question, value: Any, language: str) -> str:
    """An answer as the questionnaire offered it, in the reader's language."""
    if question.type == "date":
        try:
            return format_iso_date(value)
        except (TypeError, ValueError):  # stored under an older rule file
            return str(value)
    labels = {o.value: pick_text(o.label, language) for o in question.options}
    values = value if isinstance(value, list) else [value]
    return ", ".join(labels.get(v, str(v)) for v in values)


def _screening_day_of(screening: Mapping[str, Any]) -> dt.date:
    return _to_local(screening.get("confirmed_at") or screening["created_at"]).date()


def _answer_rows(screening: Mapping[str, Any], ruleset: RuleSet, language: str) -> list[dict[str, Any]]:
    """Every answer in questionnaire order, with the rules it made fire;
    then answers to questions the rule file no longer has."""
    answers: dict[str, Any] = screening["answers"]
    fired: dict[str, list[str]] = {}
    for reason in screening["reasons"]:
        for question_id in reason["questions"]:
            fired.setdefault(question_id, []).append(reason["rule"])
    try:
        # The answers as the engine reads them, to tell follow-ups not asked.
        parsed = clean_answers(ruleset, answers, _screening_day_of(screening), partial=True)
    except InvalidAnswers:  # stored under an older rule file
        parsed = {}
    shown = visible_questions(ruleset, parsed, _screening_day_of(screening))
    rows = []
    for question in ruleset.questions:
        value = answers.get(question.id)
        asked = question.id in shown
        rows.append(
            {
                "id": question.id,
                "text": pick_text(question.text, language),
                "answered": value not in (None, "", []),
                "asked": asked or question.id in answers,
                "label": answer_label(question, value, language) if value not in (None, "", []) else "",
                "rules": fired.get(question.id, []),
                "follow_up": question.show_if is not None,
            }
        )
    for key, value in answers.items():
        if key not in ruleset.question_by_id:
            rows.append(
                {
                    "id": key,
                    "text": key,
                    "answered": True,
                    "asked": True,
                    "label": ", ".join(value) if isinstance(value, list) else str(value),
                    "rules": fired.get(key, []),
                    "follow_up": False,
                    "removed": True,
                }
            )
    return rows


def _label(ruleset: RuleSet, question_id: str, value: Any, language: str) -> str:
    if value in (None, "", []):
        return "—"
    question = ruleset.question_by_id.get(question_id)
    if question is None:
        return ", ".join(value) if isinstance(value, list) else str(value)
    return answer_label(question, value, language)


def _answer_changes(
    before: Mapping[str, Any], after: Mapping[str, Any], ruleset: RuleSet, language: str
) -> list[tuple[str, str, str]]:
    """(question, old answer, new answer) for every answer that differs."""
    order = [q.id for q in ruleset.questions]
    keys = order + sorted((set(before) | set(after)) - set(order))
    texts = {q.id: pick_text(q.text, language) for q in ruleset.questions}
    return [
        (
            texts.get(key, key),
            _label(ruleset, key, before.get(key), language),
            _label(ruleset, key, after.get(key), language),
        )
        for key in keys
        if before.get(key) != after.get(key)
    ]


def _history(
    screening: Mapping[str, Any],
    reviews: list[dict[str, Any]],
    reconfirmations: list[dict[str, Any]],
    ruleset: RuleSet,
    language: str,
) -> list[dict[str, Any]]:
    """Decisions and re-confirmations, newest first, ending with the screening itself.

    Each re-confirmation shows the answers it changed: its own copy of the
    answers before, against the next one's (or the current answers).
    """
    # The newest decision is the current one unless a changed verdict set it aside.
    entries: list[dict[str, Any]] = [
        {**r, "kind": "review", "at": r["created_at"], "current": index == 0 and bool(screening["reviewed"])}
        for index, r in enumerate(reviews)
    ]
    ascending = list(reversed(reconfirmations))
    for index, entry in enumerate(ascending):
        after = ascending[index + 1]["previous_answers"] if index + 1 < len(ascending) else screening["answers"]
        changes = _answer_changes(entry["previous_answers"], after, ruleset, language)
        entries.append({**entry, "kind": "reconfirmation", "at": entry["created_at"], "changes": changes})
    entries.sort(key=lambda e: (e["at"], e["id"]), reverse=True)
    original = ascending[0]["previous_status"] if ascending else screening["status"]
    entries.append(
        {"kind": "screened", "at": screening["created_at"], "source": screening["source"], "status": original}
    )
    return entries


def render_detail(
    screening: dict[str, Any],
    review_form: ReviewForm | None = None,
    reconfirm_form: ReconfirmForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The screening page with its decision and re-confirmation forms."""
    ruleset = get_ruleset(current_app)
    db = get_db()
    language = current_language()
    today = screening_day()
    revision = storage.screening_revision(screening)
    if review_form is None:
        review_form = ReviewForm(formdata=None, verdict_status=screening["status"], revision=revision)
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
            answers=_answer_rows(screening, ruleset, language),
            question_text={q.id: pick_text(q.text, language) for q in ruleset.questions},
            answer_labels={
                q.id: answer_label(q, screening["answers"][q.id], language)
                for q in ruleset.questions
                if q.id in screening["answers"]
            },
            goals=answer_label(goals_question, goals, language) if goals_question and goals else "",
            age=_age(dob, today),
            age_at_screening=age_on(dt.date.fromisoformat(dob), _to_local(screening["created_at"]).date())
            if dob
            else None,
            version_differs=screening["rules_version"] != ruleset.full_version,
            expired=is_expired(screening, today),
            valid_until=valid_until(screening),
            current_review=reviews[0] if reviews and screening["reviewed"] else None,
            history=_history(screening, reviews, reconfirmations, ruleset, language),
            review_form=review_form,
            reconfirm_form=reconfirm_form,
            revision=revision,
        ),
        status,
    )


@bp.get("/screening/<reference>")
def detail(reference: str) -> ResponseReturnValue:
    """Everything about one screening, for the decision and the paper file."""
    screening = _screening_or_404(reference)
    audit("screening.view", screening_target(screening["reference"]))
    return render_detail(screening)


def _stale(screening: Mapping[str, Any]) -> ResponseReturnValue:
    flash(
        _(
            "Nothing was recorded: this screening changed while you were looking at it "
            "(another decision or re-confirmation). Please check it again."
        ),
        "error",
    )
    return redirect(url_for("practitioner.detail", reference=screening["reference"]), 303)


@bp.post("/screening/<reference>/review")
def review(reference: str) -> ResponseReturnValue:
    """Record a decision: confirm the verdict, or override it with a reason."""
    screening = _screening_or_404(reference)
    form = ReviewForm(verdict_status=screening["status"])
    if not form.validate():
        return render_detail(screening, review_form=form, status=400)
    decision = form.decision.data
    status = screening["status"] if decision == "confirm" else form.status.data
    try:
        storage.review_screening(
            get_db(),
            screening["id"],
            current_user.id,
            form.revision.data,
            decision=decision,
            status=status,
            reason_code=form.reason_code.data or None,
            comment=(form.comment.data or "").strip() or None,
            notes=(form.notes.data or "").strip() or None,
        )
    except storage.StaleScreening:
        return _stale(screening)
    details = {"verdict": screening["status"], "status": status}
    if decision == "override":
        details["reason"] = form.reason_code.data
    audit(f"review.{decision}", screening_target(screening["reference"]), details)
    flash(_("Your decision is recorded."))
    return redirect(url_for("practitioner.detail", reference=screening["reference"]), 303)


def _record_reconfirmation(screening: Mapping[str, Any], revision: str, verdict: Any) -> ResponseReturnValue:
    try:
        result = storage.reconfirm_screening(get_db(), screening["id"], current_user.id, revision, verdict)
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
    return redirect(url_for("practitioner.detail", reference=screening["reference"]), 303)


@bp.post("/screening/<reference>/reconfirm")
def reconfirm(reference: str) -> ResponseReturnValue:
    """Day-of-session check, "nothing has changed": re-run the engine on the
    stored answers today, with the rule file in force today."""
    screening = _screening_or_404(reference)
    form = ReconfirmForm()
    if not form.validate():
        return render_detail(screening, reconfirm_form=form, status=400)
    try:
        verdict = screen(get_ruleset(current_app), screening["answers"], screening_day())
    except InvalidAnswers:
        flash(
            _(
                "The questionnaire has changed since this screening, so the stored answers no longer fit it. "
                "Please go through the answers with the patient and enter them here."
            ),
            "warning",
        )
        return redirect(url_for("practitioner.answers", reference=screening["reference"]), 303)
    return _record_reconfirmation(screening, form.revision.data, verdict)


@bp.route("/screening/<reference>/answers", methods=["GET", "POST"])
def answers(reference: str) -> ResponseReturnValue:
    """Day-of-session check with changed answers: re-enter them and re-run the engine."""
    screening = _screening_or_404(reference)
    ruleset = get_ruleset(current_app)
    form_class = changed_answers_form_class(ruleset, current_language())
    status = 200
    if request.method == "GET":
        known = {k: v for k, v in screening["answers"].items() if k in ruleset.question_by_id}
        form = form_class(formdata=None, data={**known, "revision": storage.screening_revision(screening)})
    else:
        form = form_class()
        status = 400
        if form.validate():
            try:
                verdict = screen(ruleset, form.raw_answers(ruleset), screening_day())
            except InvalidAnswers as error:
                form.add_answer_errors(error)
            else:
                return _record_reconfirmation(screening, form.revision.data or "", verdict)
    return render_template("practitioner/answers.html", screening=screening, form=form, ruleset=ruleset), status


# --- Rules --------------------------------------------------------------------------


@bp.route("/rules", methods=["GET", "POST"])
def rules() -> ResponseReturnValue:
    """The rule set in words, and a form to try any answer set (nothing is stored)."""
    ruleset = get_ruleset(current_app)
    language = current_language()
    form_class = try_rules_form_class(ruleset, language)
    today = screening_day()
    result = None
    status = 200
    if request.method == "GET":
        form = form_class(formdata=None, data={"screening_day": today})
    else:
        form = form_class()
        day = form.screening_day.data or today
        if not form.validate():
            status = 400
        else:
            try:
                answers = clean_answers(ruleset, form.raw_answers(ruleset), day, partial=True)
            except InvalidAnswers as error:
                form.add_answer_errors(error)
                status = 400
            else:
                result = _try_result(ruleset, answers, day, language)
    return render_template("practitioner/rules.html", ruleset=ruleset, form=form, result=result, today=today), status


def _try_result(ruleset: RuleSet, answers: dict[str, Any], day: dt.date, language: str) -> dict[str, Any]:
    verdict = evaluate(ruleset, answers, day)
    rules_by_id = {r.id: r for r in ruleset.rules}
    reasons = []
    for reason in verdict.reasons:
        because = []
        for question_id in reason.questions:
            question = ruleset.question_by_id[question_id]
            because.append((pick_text(question.text, language), answer_label(question, answers[question_id], language)))
        reasons.append(
            {
                "rule": reason.rule,
                "outcome": reason.outcome,
                "condition": describe_condition(rules_by_id[reason.rule].condition),
                "because": because,
                "practitioner": pick_text(reason.practitioner, language),
                "rescreen_after": reason.rescreen_after,
            }
        )
    shown = visible_questions(ruleset, answers, day)
    unanswered = [
        pick_text(q.text, language) for q in ruleset.questions if q.required and q.id not in answers and q.id in shown
    ]
    return {"verdict": verdict, "reasons": reasons, "unanswered": unanswered, "day": day}


# --- Audit log ----------------------------------------------------------------------


def _encode_audit_cursor(row: Mapping[str, Any]) -> str:
    return _encode_cursor(row["at"], row["id"])


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    """Who did what, when and from where, newest first, with filters."""
    db = get_db()
    practitioners = storage.list_practitioners(db)
    form = AuditFilterForm(formdata=request.args)
    form.action.choices = select_choices(("", _("Any action")), *[(a, a) for a in ACTIONS])
    form.practitioner.choices = select_choices(
        ("", _("Anyone")), *[(str(p["id"]), f"{p['name']} ({p['email']})") for p in practitioners]
    )
    valid = form.validate()
    filters = storage.AuditFilter()
    args: dict[str, Any] = {}
    if valid:
        target = (form.target.data or "").strip()
        targets: tuple[str, ...] = ()
        if target:
            targets = (target, screening_target(target.upper()), practitioner_target(target))
        filters = storage.AuditFilter(
            action=form.action.data or None,
            practitioner_id=int(form.practitioner.data) if form.practitioner.data else None,
            targets=targets,
            since=day_start(form.since.data) if form.since.data else None,
            until=day_start(form.until.data + dt.timedelta(days=1)) if form.until.data else None,
        )
        args = {
            key: value
            for key, value in {
                "action": form.action.data or "",
                "practitioner": form.practitioner.data or "",
                "target": target,
                "since": form.since.data.isoformat() if form.since.data else "",
                "until": form.until.data.isoformat() if form.until.data else "",
            }.items()
            if value
        }
    rows = storage.list_audit(db, filters, before=_decode_cursor(request.args.get("after")), limit=AUDIT_PAGE_SIZE + 1)
    next_url = None
    if len(rows) > AUDIT_PAGE_SIZE:
        next_url = url_for("practitioner.audit_log", **args, after=_encode_audit_cursor(rows[AUDIT_PAGE_SIZE - 1]))
    return (
        render_template("practitioner/audit.html", form=form, rows=rows[:AUDIT_PAGE_SIZE], next_url=next_url),
        200 if valid else 400,
    )


# --- Export -------------------------------------------------------------------------


@bp.get("/export.csv")
def export_csv() -> ResponseReturnValue:
    """The filtered queue as CSV (every matching row, not one page)."""
    form = QueueFilterForm(formdata=request.args)
    if not form.validate():
        abort(400)
    filters = _queue_filter(form)
    args = _filter_args(form)
    # No search text in the audit row: it may be a patient's name.
    audit("export.csv", None, {**{k: v for k, v in args.items() if k != "q"}, "search": "q" in args})
    today = screening_day()

    def rows() -> Any:
        for row in storage.iter_screenings(get_db(), filters):
            row["expired"] = is_expired(row, today)
            row["local_created_at"] = local_time(row["created_at"])
            row["local_reviewed_at"] = local_time(row["reviewed_at"])
            row["local_confirmed_at"] = local_time(row["confirmed_at"])
            yield row

    filename = f"screenings-{today.isoformat()}.csv"
    return Response(
        stream_with_context(csv_chunks(rows(), EXPORT_COLUMNS, current_app.config["TIMEZONE"])),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
