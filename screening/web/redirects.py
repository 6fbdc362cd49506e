"""Where a ``next=`` parameter may send a visitor: a local path, nothing else."""

from __future__ import annotations

from urllib.parse import urlsplit


def local_path(target: str | None, prefix: str = "/") -> str | None:
    """``target`` if it is a path on this site under ``prefix``, else None.

    Refused: other sites (``//host``, ``https://``, backslashes browsers read
    as slashes) and control characters, which would break the Location header.
    """
    if not target or not target.startswith(prefix) or target.startswith("//") or "\\" in target:
        return None
    if has_control_characters(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def has_control_characters(target: str | None) -> bool:
    """Whether a ``next=`` address holds control characters (CR/LF header injection):
    such a request is refused with 400 before anything else happens."""
    return bool(target) and any(ord(ch) < 32 or ord(ch) == 127 for ch in target or "")
