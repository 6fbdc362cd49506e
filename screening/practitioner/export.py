"""CSV export of the queue (every matching row), safe to open in a spreadsheet.

UTF-8 with a byte-order mark (so Excel reads Cyrillic names right), a
header row, and every cell that a spreadsheet could run as a formula
neutralised with a leading apostrophe (OWASP's advice on CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from flask import Response, abort, current_app, request, stream_with_context
from flask.typing import ResponseReturnValue

from .. import storage
from ..web.audit import audit
from ..web.db import get_db, screening_day
from .blueprint import bp
from .clock import is_expired, local_time
from .forms import QueueFilterForm
from .queue import filter_args, listing_details, queue_filter

# A cell starting with one of these may be read as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
CHUNK_ROWS = 200


def neutralise(value: Any) -> str:
    """The cell's text, with an apostrophe in front if a spreadsheet could
    take it for a formula (also after leading spaces)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) or text.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _yes_no(value: Any) -> str:
    return "yes" if value else "no"


def _rules(reasons: Any) -> str:
    return " ".join(r["rule"] for r in reasons or [])


Column = tuple[str, Callable[[Mapping[str, Any]], Any]]

# Header (``{tz}`` is the clinic's time zone) and how to read the cell.
EXPORT_COLUMNS: tuple[Column, ...] = (
    ("Reference", lambda r: r["reference"]),
    ("Screened at ({tz})", lambda r: r["local_created_at"]),
    ("Source", lambda r: r["source"]),
    ("Language", lambda r: r["language"]),
    ("Patient name", lambda r: r["patient_name"]),
    ("Date of birth", lambda r: r["birth_date"]),
    ("Email", lambda r: r["contact_email"]),
    ("Phone", lambda r: r["contact_phone"]),
    ("Verdict", lambda r: r["status"]),
    ("Rules fired", lambda r: _rules(r["reasons"])),
    ("Re-screen after", lambda r: r["rescreen_after"]),
    ("Rules version", lambda r: r["rules_version"]),
    ("Reviewed", lambda r: _yes_no(r["reviewed"])),
    ("Current decision", lambda r: r["decided_status"]),
    ("Decided at ({tz})", lambda r: r["local_reviewed_at"]),
    ("Answers confirmed at ({tz})", lambda r: r["local_confirmed_at"]),
    ("Expired", lambda r: _yes_no(r["expired"])),
)


def csv_chunks(rows: Iterable[Mapping[str, Any]], columns: Iterable[Column], timezone: str) -> Iterator[str]:
    """The CSV text in chunks, for a streamed response: BOM, header, rows."""
    columns = tuple(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([neutralise(header.format(tz=timezone)) for header, _ in columns])
    for count, row in enumerate(rows, start=1):
        writer.writerow([neutralise(read(row)) for _, read in columns])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


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

    def rows() -> Iterator[dict[str, Any]]:
        for row in storage.iter_screenings(get_db(), filters):
            yield {
                **row,
                "expired": is_expired(row, today),
                "local_created_at": local_time(row["created_at"]),
                "local_reviewed_at": local_time(row["reviewed_at"]),
                "local_confirmed_at": local_time(row["confirmed_at"]),
            }

    filename = f"screenings-{today.isoformat()}.csv"
    return Response(
        stream_with_context(csv_chunks(rows(), EXPORT_COLUMNS, current_app.config["TIMEZONE"])),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
