"""The one page-cursor codec: the API's lists, the queue and the audit log.

A cursor is the (timestamp, row id) of the last row of a page, so the next
page starts strictly after it (keyset pagination); it is opaque to callers.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

MAX_ROW_ID = 2**63 - 1  # SQLite's and PostgreSQL's largest integer key


def encode_cursor(timestamp: str, row_id: int) -> str:
    """An opaque cursor for the row at (timestamp, row_id)."""
    raw = json.dumps([timestamp, row_id], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int] | None:
    """The (timestamp, row id) a cursor stands for, or None if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (ValueError, UnicodeError, binascii.Error, RecursionError):
        return None
    if not (isinstance(value, list) and len(value) == 2):
        return None
    timestamp, row_id = value
    if not isinstance(timestamp, str) or not isinstance(row_id, int) or isinstance(row_id, bool):
        return None
    if not timestamp.isascii():  # a lone surrogate could not even be sent to the database
        return None
    if not 0 <= row_id <= MAX_ROW_ID:
        return None
    try:
        dt.datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return timestamp, row_id
