"""The audit log page: who did what, when and from where."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from .. import storage
from ..web.audit import ACTION_LABELS, practitioner_target, screening_target
from ..web.db import get_db
from .blueprint import bp
from .clock import day_bounds
from .forms import AuditFilterForm, select_choices
from .paging import next_cursor, page_start

AUDIT_PAGE_SIZE = 100


def _audit_filter(form: AuditFilterForm) -> tuple[storage.AuditFilter, dict[str, Any]]:
    """The validated form as the storage's filter, and as query parameters for links that keep it."""
    target = (form.target.data or "").strip()
    targets: tuple[str, ...] = ()
    if target:
        # One box for a reference code, an account email, or a target as stored.
        targets = (target, screening_target(target.upper()), practitioner_target(target))
    since, until = day_bounds(form.since.data, form.until.data)
    filters = storage.AuditFilter(
        action=form.action.data or None,
        practitioner_id=int(form.practitioner.data) if form.practitioner.data else None,
        targets=targets,
        since=since,
        until=until,
    )
    args = {
        "action": form.action.data or "",
        "practitioner": form.practitioner.data or "",
        "target": target,
        "since": form.since.data.isoformat() if form.since.data else "",
        "until": form.until.data.isoformat() if form.until.data else "",
    }
    return filters, {key: value for key, value in args.items() if value}


@bp.get("/audit")
def audit_log() -> ResponseReturnValue:
    """Who did what, when and from where, newest first, with filters."""
    db = get_db()
    practitioners = storage.list_practitioners(db)
    form = AuditFilterForm(formdata=request.args)
    form.action.choices = select_choices(("", _("Any action")), *ACTION_LABELS.items())
    form.practitioner.choices = select_choices(
        ("", _("Anyone")), *[(str(p["id"]), f"{p['name']} ({p['email']})") for p in practitioners]
    )
    valid = form.validate()
    filters, args = _audit_filter(form) if valid else (storage.AuditFilter(), {})
    rows = storage.list_audit(db, filters, before=page_start(), limit=AUDIT_PAGE_SIZE + 1)
    cursor = next_cursor(rows, AUDIT_PAGE_SIZE, "at")
    next_url = url_for("practitioner.audit_log", **args, after=cursor) if cursor else None
    return (
        render_template(
            "practitioner/audit.html",
            form=form,
            rows=rows[:AUDIT_PAGE_SIZE],
            next_url=next_url,
            action_labels=ACTION_LABELS,
        ),
        200 if valid else 400,
    )
