"""The queue: screenings newest first, with filters, counts and the chart."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from .. import storage
from ..core.facts import needs_review
from ..web.audit import audit
from ..web.db import get_db, screening_day
from .blueprint import bp
from .chart import chart
from .clock import age, day_bounds, is_expired
from .forms import QueueFilterForm
from .paging import AFTER, next_cursor, page_start

PAGE_SIZE = 50
# Only what the queue's table shows: no answers, no contact details.
QUEUE_COLUMNS = (
    "id, reference, created_at, source, patient_name, birth_date, status, reviewed, decided_status,"
    " reviewed_at, confirmed_at"
)


def queue_filter(form: QueueFilterForm) -> storage.ScreeningFilter:
    """The validated filter form as the storage's filter."""
    reviewed = {"yes": True, "no": False}.get(form.reviewed.data or "")
    since, until = day_bounds(form.since.data, form.until.data)
    return storage.ScreeningFilter(
        status=form.status.data or None,
        reviewed=reviewed,
        since=since,
        until=until,
        search=(form.q.data or "").strip() or None,
    )


def filter_args(form: QueueFilterForm) -> dict[str, Any]:
    """The filters as query parameters, for links that keep them."""
    args = {
        "status": form.status.data or "",
        "reviewed": form.reviewed.data or "",
        "since": form.since.data.isoformat() if form.since.data else "",
        "until": form.until.data.isoformat() if form.until.data else "",
        "q": (form.q.data or "").strip(),
    }
    return {key: value for key, value in args.items() if value}


def queue_views(
    form: QueueFilterForm, args: dict[str, Any], counts: dict[str, int], undecided: dict[str, int]
) -> list[dict[str, Any]]:
    """The queue's views, work apart from information: what a practitioner must
    decide, then what the rules decided (deferred, ineligible), then the rest."""
    base: dict[str, Any] = {k: v for k, v in args.items() if k not in ("status", "reviewed")}
    views: list[tuple[str, str, dict[str, Any], int]] = [
        ("decide", _("Needs a decision"), {"status": "review", "reviewed": "no"}, undecided.get("review", 0)),
        ("deferred", _("Deferred by rule"), {"status": "deferred"}, counts.get("deferred", 0)),
        ("ineligible", _("Not eligible"), {"status": "ineligible"}, counts.get("ineligible", 0)),
        ("eligible", _("Eligible"), {"status": "eligible"}, counts.get("eligible", 0)),
        ("all", _("All"), {}, sum(counts.values())),
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


def listing_details(args: dict[str, Any]) -> dict[str, Any]:
    """The filters as an audit row keeps them: whether there was a search, not its text."""
    return {**{key: value for key, value in args.items() if key != "q"}, "search": "q" in args}


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
        form_filters = queue_filter(form)
        args = filter_args(form)
    db = get_db()
    today = screening_day()
    rows = storage.list_screenings(db, form_filters, before=page_start(), limit=PAGE_SIZE + 1, columns=QUEUE_COLUMNS)
    cursor = next_cursor(rows, PAGE_SIZE, "created_at")
    shown: list[dict[str, Any]] = [
        {
            **row,
            "expired": is_expired(row, today),
            "age": age(row["birth_date"], today),
            "needs_review": needs_review(row["status"], bool(row["reviewed"])),
        }
        for row in rows[:PAGE_SIZE]
    ]
    counts = storage.queue_counts(db, form_filters)
    undecided = storage.queue_counts(db, replace(form_filters, reviewed=False))
    # Who looked at which list: the filters and how many rows, never a name searched for.
    audit("screening.list", None, {**listing_details(args), "shown": len(shown)})
    return (
        render_template(
            "practitioner/queue.html",
            form=form,
            rows=shown,
            views=queue_views(form, args, counts, undecided),
            filter_args=args,
            paged=bool(request.args.get(AFTER)),
            next_url=url_for("practitioner.queue", **args, after=cursor) if cursor else None,
            export_url=url_for("practitioner.export_csv", **args),
            chart=chart(db, today),
        ),
        200 if valid else 400,
    )
