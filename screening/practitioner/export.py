"""CSV export of the queue (every matching row), safe to open in a spreadsheet.

UTF-8 with a byte-order mark (so Excel reads Cyrillic names right), a
header row, and every cell that a spreadsheet could run as a formula
neutralised with a leading apostrophe (OWASP's advice on CSV injection).
A phone number (only digits, spaces, brackets, dashes and a leading +, as
``core.people`` checks it) cannot hold a formula, but a spreadsheet would
still compute "+7 912 ..."; it is led by an invisible word joiner instead of
the apostrophe, so it reads as typed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any, TypeVar

from flask import Response, abort, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_login import current_user

from .. import storage
from ..core.people import PHONE_PATTERN
from ..web.audit import audit
from ..web.clinic import get_clinic
from ..web.db import get_db, screening_day
from ..web.roles import may_open
from ..web.ruleset import get_rulebook
from .blueprint import bp
from .clock import is_expired, local_time
from .forms import OVERRIDE_REASONS, QueueFilterForm
from .queue import filter_args, listing_details, queue_filter
from .words import rule_titles

# A cell starting with one of these may be read as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# Invisible, and not a character a spreadsheet reads as the start of a formula.
WORD_JOINER = "\u2060"
CHUNK_ROWS = 200
T = TypeVar("T")


def neutralise(value: Any) -> str:
    """The cell's text, with an apostrophe in front if a spreadsheet could
    take it for a formula (also after leading spaces)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) or text.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + text
    return text


def phone_cell(value: Any) -> str:
    """A phone number as a spreadsheet shows it unchanged; anything else as ``neutralise`` makes it."""
    text = "" if value is None else str(value)
    if PHONE_PATTERN.match(text) and text.startswith(FORMULA_STARTS):
        return WORD_JOINER + text
    return neutralise(text)


def _yes_no(value: Any) -> str:
    return "yes" if value else "no"


def _rules(row: Mapping[str, Any]) -> str:
    titles: dict[str, str] = row["rule_titles"]
    return "; ".join(titles.get(r["rule"], r["rule"]) for r in row["reasons"] or [])


def _review(row: Mapping[str, Any], key: str) -> Any:
    review = row["review"]
    return review[key] if review else None


Column = tuple[str, Callable[[Mapping[str, Any]], Any]]

# Header (``{tz}`` is the clinic's time zone) and how to read the cell.
EXPORT_COLUMNS: tuple[Column, ...] = (
    ("Reference", lambda r: r["reference"]),
    ("Screened at ({tz})", lambda r: r["local_created_at"]),
    ("Procedure", lambda r: r["procedure"]),
    ("Source", lambda r: r["source"]),
    ("Language", lambda r: r["language"]),
    ("Patient name", lambda r: r["patient_name"]),
    ("Date of birth", lambda r: r["birth_date"]),
    ("Email", lambda r: r["contact_email"]),
    ("Phone", lambda r: r["contact_phone"]),
    ("Verdict", lambda r: r["status"]),
    ("Rules fired", _rules),
    ("Re-screen after", lambda r: r["rescreen_after"]),
    ("Rules version", lambda r: r["rules_version"]),
    ("Reviewed", lambda r: _yes_no(r["reviewed"])),
    ("Current decision", lambda r: r["decided_status"]),
    ("Deferred until (decision)", lambda r: r["decided_defer_until"]),
    ("Decision", lambda r: {"confirm": "confirmed", "override": "overridden"}.get(_review(r, "decision") or "", "")),
    ("Decided by", lambda r: _review(r, "practitioner_name")),
    ("Decided at ({tz})", lambda r: r["local_reviewed_at"]),
    ("Override reason", lambda r: r["reason_words"].get(_review(r, "reason_code") or "", _review(r, "reason_code"))),
    ("Comment", lambda r: _review(r, "comment")),
    ("Answers confirmed at ({tz})", lambda r: r["local_confirmed_at"]),
    ("Expired", lambda r: _yes_no(r["expired"])),
)
# What a screening's answer page shows and the queue does not: the rules that
# fired and the practitioner's reasoning. Exported only to roles that may open
# that page (the role table), as reception's and administrators' pages hold none of it.
ANSWER_PAGE = "practitioner.answers"
CLINICAL_COLUMNS = frozenset({"Rules fired", "Override reason", "Comment"})


def export_columns(role: str | None) -> tuple[Column, ...]:
    """The columns an account with ``role`` may export: the clinical ones only if it opens the answer pages."""
    clinical = may_open(role, ANSWER_PAGE)
    return tuple(column for column in EXPORT_COLUMNS if clinical or column[0] not in CLINICAL_COLUMNS)


def csv_chunks(rows: Iterable[Mapping[str, Any]], columns: Iterable[Column], timezone: str) -> Iterator[str]:
    """The CSV text in chunks, for a streamed response: BOM, header, rows."""
    columns = tuple(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([neutralise(header.format(tz=timezone)) for header, _ in columns])
    for count, row in enumerate(rows, start=1):
        writer.writerow(
            [phone_cell(read(row)) if header == "Phone" else neutralise(read(row)) for header, read in columns]
        )
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def batched(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """``rows`` in lists of ``size`` (itertools.batched arrives with Python 3.12)."""
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def export_row(
    row: Mapping[str, Any], review: Mapping[str, Any] | None, titles: dict[str, str], today: dt.date
) -> dict[str, Any]:
    """A screening with what its CSV row also shows: expiry, local times, the current decision, rule titles."""
    return {
        **row,
        "expired": is_expired(row, today),
        "local_created_at": local_time(row["created_at"], with_zone=False),
        "local_reviewed_at": local_time(row["reviewed_at"], with_zone=False),
        "local_confirmed_at": local_time(row["confirmed_at"], with_zone=False),
        "review": review,
        "rule_titles": titles,
    }


@bp.get("/export.csv")
def export_csv() -> ResponseReturnValue:
    """The filtered queue as CSV (every matching row, not one page)."""
    form = QueueFilterForm(formdata=request.args)
    if not form.validate():
        abort(400)
    filters = queue_filter(form)
    args = filter_args(form)
    # No search text in the audit row: it may be a patient's name.
    audit("export.csv", None, listing_details(args))
    today = screening_day()

    # The export is in English, like its header; each procedure titles its own rules.
    book = get_rulebook()
    titles = {procedure: rule_titles(ruleset, "en") for procedure, ruleset in book.procedures.items()}
    with force_locale("en"):
        reasons = {code: str(label) for code, label in OVERRIDE_REASONS.items()}

    def rows() -> Iterator[dict[str, Any]]:
        db = get_db()
        for batch in batched(storage.iter_screenings(db, filters), CHUNK_ROWS):
            # The current decision's maker, reason and comment: one query per batch.
            reviews = storage.latest_reviews(db, [row["id"] for row in batch if row["reviewed"]])
            for row in batch:
                own = titles.get(row["procedure"]) or titles[book.default]
                yield {**export_row(row, reviews.get(row["id"]), own, today), "reason_words": reasons}

    filename = f"screenings-{today.isoformat()}.csv"
    return Response(
        stream_with_context(csv_chunks(rows(), export_columns(current_user.role), get_clinic().timezone)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
