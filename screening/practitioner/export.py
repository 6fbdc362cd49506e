"""CSV export of the queue, safe to open in a spreadsheet.

UTF-8 with a byte-order mark (so Excel reads Cyrillic names right), a
header row, and every cell that a spreadsheet could run as a formula
neutralised with a leading apostrophe (OWASP's advice on CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

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
