"""Keyset paging for the workspace's lists (queue and audit log), through the
app's one cursor codec."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import abort, request

from ..web.cursors import decode_cursor, encode_cursor

# The query parameter that carries the cursor of the previous page's last row.
AFTER = "after"


def page_start() -> tuple[str, int] | None:
    """The (timestamp, id) the requested page starts after; None for the first
    page, 400 for a cursor that is not one of ours."""
    cursor = request.args.get(AFTER)
    if not cursor:
        return None
    start = decode_cursor(cursor)
    if start is None:
        abort(400)
    return start


def next_cursor(rows: Sequence[Mapping[str, Any]], page_size: int, timestamp_key: str) -> str | None:
    """The cursor of the next page if ``rows`` (fetched ``page_size + 1``) has one."""
    if len(rows) <= page_size:
        return None
    last = rows[page_size - 1]
    return encode_cursor(last[timestamp_key], last["id"])
