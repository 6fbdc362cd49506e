"""Moving through the queue from a screening's page: the queue's filter
travels with the practitioner (in the query string, and in the decision
forms as ``queue-`` fields), so "next", "previous" and the screening that
opens after a decision follow the queue they came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flask import request, url_for
from werkzeug.datastructures import MultiDict

from .. import storage
from ..web.db import get_db
from .forms import QueueFilterForm
from .queue import filter_args, queue_filter

# The decision forms carry the queue's filter as hidden fields with this prefix.
QUEUE_PREFIX = "queue"


def queue_from(formdata: MultiDict[str, str], prefix: str = "") -> tuple[storage.ScreeningFilter, dict[str, Any]]:
    """The queue's filter (and its query parameters) read from ``formdata``; unfiltered if not valid."""
    form = QueueFilterForm(formdata=formdata, prefix=prefix)
    if not form.validate():
        return storage.ScreeningFilter(), {}
    return queue_filter(form), filter_args(form)


def request_queue() -> tuple[storage.ScreeningFilter, dict[str, Any]]:
    """The queue's filter of this request: from the decision form on a POST, else the query string."""
    if request.method == "POST":
        return queue_from(request.form, QUEUE_PREFIX)
    return queue_from(request.args)


def neighbours(screening: Mapping[str, Any]) -> dict[str, str | None]:
    """Links to the newer and the older screening in the queue's filter, and to the queue itself."""
    filters, args = request_queue()
    at = (screening["created_at"], screening["id"])
    db = get_db()
    newer = storage.adjacent_reference(db, filters, at, newer=True)
    older = storage.adjacent_reference(db, filters, at, newer=False)
    return {
        "previous": url_for("practitioner.detail", reference=newer, **args) if newer else None,
        "next": url_for("practitioner.detail", reference=older, **args) if older else None,
        "queue": url_for("practitioner.queue", **args),
    }


def hidden_queue_fields() -> list[tuple[str, str]]:
    """(name, value) of the hidden fields that carry the queue's filter in a decision form."""
    _filters, args = request_queue()
    return [(f"{QUEUE_PREFIX}-{key}", str(value)) for key, value in args.items()]


def next_undecided_url(screening: Mapping[str, Any]) -> str | None:
    """The screening to open after a decision: the next older one nobody has
    decided in the queue's filter, else the nearest newer one; None when none is left."""
    filters, args = request_queue()
    undecided = replace(filters, reviewed=False)
    db = get_db()
    at = (screening["created_at"], screening["id"])
    reference = storage.adjacent_reference(db, undecided, at, newer=False)
    if reference is None:
        reference = storage.adjacent_reference(db, undecided, at, newer=True)
    return url_for("practitioner.detail", reference=reference, **args) if reference else None


def queue_url() -> str:
    """The queue with the filter the practitioner came from."""
    _filters, args = request_queue()
    return url_for("practitioner.queue", **args)
