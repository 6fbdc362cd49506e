"""The queue: screenings newest first, with filters, counts and the chart."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from .. import storage
from ..core.facts import needs_review
from ..web.audit import audit
from ..web.db import get_db, screening_day
from ..web.i18n import current_language
from ..web.procedures import has_several_procedures, procedure_names
from .blueprint import bp
from .chart import chart
from .clock import age, day_bounds, is_expired
from .forms import QueueFilterForm
from .paging import AFTER, next_cursor, page_start

PAGE_SIZE = 50
# A search or a date range is counted up to this many screenings: counting every match of a
# common surname grows with the clinic's records (BENCHMARKS.md, "Scale"); the queue-wide
# counts are kept by triggers and always exact.
COUNT_LIMIT = 1000
# The "Needs a decision" view: its query parameters, and the bare queue's marker for "All"
# (the bare queue opens on the work when there is any).
DECIDE_ARGS = {"reviewed": "decide"}
ALL_ARGS = {"view": "all"}
# Only what the queue's table shows: no answers, no contact details.
QUEUE_COLUMNS = (
    "id, reference, created_at, source, procedure, patient_name, birth_date, status, reviewed, decided_status,"
    " reviewed_at, confirmed_at, flagged, " + storage.DEVICE_NAME_COLUMN  # "taken at reception" on a kiosk's screenings
)


def queue_filter(form: QueueFilterForm) -> storage.ScreeningFilter:
    """The validated filter form as the storage's filter."""
    reviewed = {"yes": True, "no": False}.get(form.reviewed.data or "")
    # "Needs a decision": undecided reviews and undecided screenings flagged by their findings.
    decide = form.reviewed.data == "decide"
    since, until = day_bounds(form.since.data, form.until.data)
    return storage.ScreeningFilter(
        status=form.status.data or None,
        reviewed=reviewed,
        since=since,
        until=until,
        search=(form.q.data or "").strip() or None,
        decide=decide,
        procedure=form.procedure.data or None,
    )


def filter_args(form: QueueFilterForm) -> dict[str, Any]:
    """The filters as query parameters, for links that keep them."""
    args = {
        "status": form.status.data or "",
        "reviewed": form.reviewed.data or "",
        "since": form.since.data.isoformat() if form.since.data else "",
        "until": form.until.data.isoformat() if form.until.data else "",
        "q": (form.q.data or "").strip(),
        "procedure": form.procedure.data or "",
    }
    return {key: value for key, value in args.items() if value}


def shown_count(counts: dict[str, int], status: str | None = None, *, counted: bool = True) -> str:
    """A view's count as the queue shows it: exact, or, when more than ``COUNT_LIMIT`` were
    ``counted`` (a search or a date range), "1000+" for the total and "–" per status (not known)."""
    if counted and sum(counts.values()) > COUNT_LIMIT:
        return "–" if status else f"{COUNT_LIMIT}+"
    return str(counts.get(status, 0) if status else sum(counts.values()))


def queue_views(
    form: QueueFilterForm, args: dict[str, Any], counts: dict[str, int], undecided: int, *, counted: bool
) -> list[dict[str, Any]]:
    """The queue's views, work apart from information: what a practitioner must
    decide, then what the rules decided (deferred, ineligible), then the rest.
    ``counted``: the counts are of a search or date range, up to ``COUNT_LIMIT``."""
    base: dict[str, Any] = {k: v for k, v in args.items() if k not in ("status", "reviewed")}
    views: list[tuple[str, str, dict[str, Any], str]] = [
        (
            "decide",
            _("Needs a decision"),
            DECIDE_ARGS,
            shown_count({"review": undecided}, counted=counted),
        ),
        ("deferred", _("Deferred by rule"), {"status": "deferred"}, shown_count(counts, "deferred", counted=counted)),
        ("ineligible", _("Not eligible"), {"status": "ineligible"}, shown_count(counts, "ineligible", counted=counted)),
        ("eligible", _("Eligible"), {"status": "eligible"}, shown_count(counts, "eligible", counted=counted)),
        ("all", _("All"), {} if base else ALL_ARGS, shown_count(counts, counted=counted)),
    ]
    chosen = {"status": form.status.data or "", "reviewed": form.reviewed.data or ""}
    return [
        {
            "id": view_id,
            "label": label,
            "count": n,
            "url": url_for("practitioner.queue", **base, **params),
            "current": chosen == {"status": params.get("status", ""), "reviewed": params.get("reviewed", "")},
        }
        for view_id, label, params, n in views
    ]


@bp.app_template_filter("procedure_name")
def procedure_name(procedure: str) -> str:
    """A procedure's name in the page's language (its id when the rule file no longer declares it)."""
    return procedure_names(current_language()).get(procedure, procedure)


def listing_details(args: dict[str, Any]) -> dict[str, Any]:
    """The filters as an audit row keeps them: whether there was a search, not its text."""
    return {**{key: value for key, value in args.items() if key != "q"}, "search": "q" in args}


@bp.get("/")
def queue() -> ResponseReturnValue:
    """Screenings newest first, filtered, a page at a time (keyset); the bare queue opens on
    "Needs a decision" when anything waits for one."""
    db = get_db()
    query = request.args
    if not query and storage.count_matches(db, queue_filter(QueueFilterForm(formdata=MultiDict(DECIDE_ARGS))), limit=1):
        query = MultiDict(DECIDE_ARGS)
    form = QueueFilterForm(formdata=query)
    valid = form.validate()
    if not valid:
        # Show the errors, and the unfiltered queue rather than a guess.
        form_filters = storage.ScreeningFilter()
        args: dict[str, Any] = {}
    else:
        form_filters = queue_filter(form)
        args = filter_args(form)
    today = screening_day()
    rows = storage.list_screenings(db, form_filters, before=page_start(), limit=PAGE_SIZE + 1, columns=QUEUE_COLUMNS)
    cursor = next_cursor(rows, PAGE_SIZE, "created_at")
    shown: list[dict[str, Any]] = [
        {
            **row,
            "expired": is_expired(row, today),
            "age": age(row["birth_date"], today),
            "needs_review": needs_review(row["status"], bool(row["reviewed"]), bool(row["flagged"])),
        }
        for row in rows[:PAGE_SIZE]
    ]
    counted = storage.needs_counting(form_filters)
    counts = storage.queue_counts(db, form_filters, limit=COUNT_LIMIT)
    undecided = storage.count_matches(
        db, replace(form_filters, status=None, reviewed=None, decide=True), limit=COUNT_LIMIT
    )
    # Who looked at which list: the filters and how many rows, never a name searched for.
    audit("screening.list", None, {**listing_details(args), "shown": len(shown)})
    return (
        render_template(
            "practitioner/queue.html",
            form=form,
            rows=shown,
            views=queue_views(form, args, counts, undecided, counted=counted),
            count_limit=COUNT_LIMIT if counted and sum(counts.values()) > COUNT_LIMIT else None,
            filter_args=args,
            paged=bool(request.args.get(AFTER)),
            next_url=url_for("practitioner.queue", **args, after=cursor) if cursor else None,
            export_url=url_for("practitioner.export_csv", **args),
            chart=chart(db, today),
            # The treatment column and filter, only when the rule file offers more than one.
            procedure_names=procedure_names(current_language()) if has_several_procedures() else {},
        ),
        200 if valid else 400,
    )
