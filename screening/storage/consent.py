"""The consent and privacy texts patients signed, kept by their SHA-256.

A text is stored the first time a screening names it and never changed:
the files beside the rule file may be edited, but every screening can
still show the exact words its patient agreed to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypedDict, cast

from ..core.consent import ConsentText
from .connection import Database, query_one, send_query, utc_now


class ConsentTextRecord(TypedDict):
    """A stored text: what a patient read, under its hash."""

    sha256: str
    kind: str
    language: str
    version: str
    body: str
    stored_at: str


def store_consent_text(db: Database, text: ConsentText) -> None:
    """Keep ``text`` under its hash (once: a hash always names the same words)."""
    store_consent_texts(db, [text])


def store_consent_texts(db: Database, texts: Sequence[ConsentText]) -> None:
    """Keep each of ``texts`` under its hash (once: a hash always names the same words)."""
    send_consent_texts(db, texts)()


def send_consent_texts(db: Database, texts: Sequence[ConsentText]) -> Callable[[], None]:
    """Send the look-up of ``texts`` by hash; the function returned stores those not found. Statements
    sent in between share the look-up's round trip on PostgreSQL (see ``send_query``)."""
    # Looked up first, all in one statement: every screening names the texts in force, stored by
    # the first one, and a look-up by hash costs a fraction of an INSERT carrying the whole text
    # to its conflict.
    sql = f"SELECT sha256 FROM consent_texts WHERE sha256 IN ({', '.join('?' for _ in texts)})"  # noqa: S608 - ? marks only
    found = send_query(db, sql, [text.sha256 for text in texts])

    def store_missing() -> None:
        stored = {row["sha256"] for row in found()}
        for text in texts:
            if text.sha256 not in stored:
                _insert_text(db, text)

    return store_missing


def _insert_text(db: Database, text: ConsentText) -> None:
    db.execute(
        "INSERT INTO consent_texts (sha256, kind, language, version, body, stored_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
        [text.sha256, text.kind, text.language, text.version, text.body, utc_now()],
    )


def get_consent_text(db: Database, sha256: str) -> ConsentTextRecord | None:
    """The stored text with this hash, or None."""
    row = query_one(db, "SELECT * FROM consent_texts WHERE sha256 = ?", [sha256.strip().lower()])
    return None if row is None else cast(ConsentTextRecord, row)
