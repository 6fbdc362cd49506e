"""The outbox: e-mails and webhooks written in the transaction of the change
that causes them, then claimed, delivered and marked by a sender; and what a
patient asked to be e-mailed (``patient_notices``).

A message is claimed before it is sent: the claim is one UPDATE under the
write lock, so two senders never hold the same message, and a claim expires
(``lease`` seconds) so a sender killed mid-delivery loses nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TypedDict, cast

from .connection import Database, insert_row, query_one, utc_now, write_transaction

CHANNELS = ("mail", "webhook")


class OutboxRecord(TypedDict):
    """One queued, delivered or abandoned message."""

    id: int
    channel: str
    event: str
    screening_id: int | None
    recipient: str
    subject: str | None
    body: str
    html: str | None
    delivery_id: str
    created_at: str
    attempts: int
    next_attempt_at: str
    claimed_by: str | None
    claimed_until: str | None
    delivered_at: str | None
    failed_at: str | None
    last_error: str | None
    resent_from: int | None


class PatientNoticeRecord(TypedDict):
    """What a patient asked to be e-mailed about one screening."""

    screening_id: int
    sealed_token: str | None
    base_url: str | None
    link_requested_at: str | None
    reminder_requested_at: str | None
    reminded_at: str | None


def _at(seconds: float = 0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def enqueue_message(
    db: Database,
    channel: str,
    event: str,
    recipient: str,
    body: str,
    *,
    screening_id: int | None = None,
    subject: str | None = None,
    html: str | None = None,
    resent_from: int | None = None,
    delay: float = 0,
) -> int:
    """Queue a message for delivery now (or in ``delay`` seconds); it commits with the caller's transaction."""
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    now = utc_now()
    with write_transaction(db):
        new_id = insert_row(
            db,
            "INSERT INTO outbox (channel, event, screening_id, recipient, subject, body, html, delivery_id,"
            " created_at, attempts, next_attempt_at, resent_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
            [
                channel,
                event,
                screening_id,
                recipient,
                subject,
                body,
                html,
                str(uuid.uuid4()),
                now,
                _at(delay),
                resent_from,
            ],
        )
    return new_id


def claim_messages(
    db: Database, sender: str, *, limit: int = 20, lease: float = 120, event: str | None = None
) -> list[OutboxRecord]:
    """Claim up to ``limit`` messages due now for ``sender`` (a unique name) and return them.

    A message is due when it is neither delivered nor abandoned, its next
    attempt has come, and no live claim holds it. With ``event``, every
    pending message of that event is claimed, due or not (a digest's items).
    """
    now = utc_now()
    due = "event = ?" if event is not None else "next_attempt_at <= ?"
    with write_transaction(db):
        db.execute(
            "UPDATE outbox SET claimed_by = ?, claimed_until = ? WHERE id IN (SELECT id FROM outbox"  # noqa: S608
            f" WHERE delivered_at IS NULL AND failed_at IS NULL AND {due}"
            " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY next_attempt_at, id LIMIT ?)",
            [sender, _at(lease), event if event is not None else now, now, limit],
        )
        rows = db.query(
            "SELECT * FROM outbox WHERE claimed_by = ? AND claimed_until > ? AND delivered_at IS NULL ORDER BY id",
            [sender, now],
        )
        return [cast(OutboxRecord, row) for row in rows]


def mark_delivered(db: Database, message_id: int, sender: str) -> bool:
    """Record a delivery by the sender holding the claim; False if it no longer held it.

    A delivered e-mail's body is cleared: it held the patient's result link,
    which the database otherwise keeps only as a hash.
    """
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, claimed_by = NULL, claimed_until = NULL,"
            " last_error = NULL, body = CASE WHEN channel = 'mail' THEN '' ELSE body END,"
            " html = CASE WHEN channel = 'mail' THEN NULL ELSE html END"
            " WHERE id = ? AND claimed_by = ? AND delivered_at IS NULL",
            [utc_now(), message_id, sender],
        )
    return cursor.rowcount == 1


def mark_failed(
    db: Database, message_id: int, sender: str, error: str, *, retry_after: float, max_attempts: int
) -> bool:
    """Record a failed attempt: retry after ``retry_after`` seconds, or give up after ``max_attempts``.

    Returns True when the message was given up.
    """
    now = utc_now()
    with write_transaction(db):
        row = query_one(db, "SELECT attempts FROM outbox WHERE id = ? AND claimed_by = ?", [message_id, sender])
        if row is None:
            return False
        give_up = int(row["attempts"]) + 1 >= max_attempts
        db.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?, failed_at = ?,"
            " claimed_by = NULL, claimed_until = NULL WHERE id = ?",
            [error[:500], _at(retry_after), now if give_up else None, message_id],
        )
    return give_up


def next_attempt_in(db: Database) -> float | None:
    """Seconds until the next pending message is due (0 if one is due now), or None if none is pending."""
    row = query_one(
        db,
        # A message held by another sender's claim is due when the claim expires.
        # (CASE, not max(a, b): PostgreSQL spells the two-argument max GREATEST.)
        "SELECT min(CASE WHEN claimed_until > next_attempt_at THEN claimed_until ELSE next_attempt_at END) AS due"
        " FROM outbox"
        " WHERE delivered_at IS NULL AND failed_at IS NULL",
    )
    if row is None or row["due"] is None:
        return None
    due = dt.datetime.fromisoformat(row["due"]) - dt.datetime.now(dt.UTC)
    return max(0.0, due.total_seconds())


def list_outbox(db: Database, channel: str, *, limit: int = 50) -> list[OutboxRecord]:
    """The most recent messages of a channel, newest first."""
    rows = db.query("SELECT * FROM outbox WHERE channel = ? ORDER BY id DESC LIMIT ?", [channel, limit])
    return [cast(OutboxRecord, row) for row in rows]


def get_outbox_message(db: Database, key: int | str) -> OutboxRecord | None:
    """One message by its id or its delivery id, or None."""
    column = "id" if isinstance(key, int) else "delivery_id"
    return cast(OutboxRecord | None, query_one(db, f"SELECT * FROM outbox WHERE {column} = ?", [key]))  # noqa: S608


def resend_message(db: Database, message_id: int) -> int | None:
    """Queue a copy of a message as a new delivery (its own delivery id); None if unknown."""
    with write_transaction(db):
        original = get_outbox_message(db, message_id)
        if original is None:
            return None
        return enqueue_message(
            db,
            original["channel"],
            original["event"],
            original["recipient"],
            original["body"],
            screening_id=original["screening_id"],
            subject=original["subject"],
            html=original["html"],
            resent_from=original["id"],
        )


def save_patient_notice(
    db: Database,
    screening_id: int,
    *,
    sealed_token: str | None = None,
    base_url: str | None = None,
    link: bool = False,
    reminder: bool = False,
) -> None:
    """Record that the patient asked for their link and/or a reminder (earlier requests are kept)."""
    now = utc_now()
    with write_transaction(db):
        db.execute(
            "INSERT INTO patient_notices (screening_id, sealed_token, base_url, link_requested_at,"
            " reminder_requested_at) VALUES (:id, :token, :base, :link, :reminder)"
            " ON CONFLICT (screening_id) DO UPDATE SET sealed_token = coalesce(:token, sealed_token),"
            " base_url = coalesce(:base, base_url), link_requested_at = coalesce(link_requested_at, :link),"
            " reminder_requested_at = coalesce(reminder_requested_at, :reminder)",
            {
                "id": screening_id,
                "token": sealed_token,
                "base": base_url,
                "link": now if link else None,
                "reminder": now if reminder else None,
            },
        )


def get_patient_notice(db: Database, screening_id: int) -> PatientNoticeRecord | None:
    """What the patient asked to be e-mailed about this screening, or None."""
    row = query_one(db, "SELECT * FROM patient_notices WHERE screening_id = ?", [screening_id])
    return cast(PatientNoticeRecord | None, row)


# A screening's re-screen date that counts, in SQL.
_RESCREEN_AFTER = (
    "CASE WHEN screenings.reviewed = 1 AND screenings.decided_status IS NOT NULL"
    " THEN screenings.decided_defer_until ELSE screenings.rescreen_after END"
)


def due_reminders(db: Database, today: str) -> list[int]:
    """Screenings whose patient asked for a reminder, whose re-screen date has come, not yet reminded.

    The date that counts is the practitioner's once they decided (none unless they deferred),
    else the rules' (``core.facts.current_rescreen_after``).
    """
    rows = db.execute(
        f"SELECT screenings.id FROM patient_notices JOIN screenings ON screenings.id = patient_notices.screening_id"  # noqa: S608 - constant SQL
        f" WHERE reminder_requested_at IS NOT NULL AND reminded_at IS NULL AND {_RESCREEN_AFTER} <= ?"
        f" ORDER BY {_RESCREEN_AFTER}, screenings.id",
        [today],
    ).fetchall()
    return [int(row[0]) for row in rows]


def mark_reminded(db: Database, screening_ids: Sequence[int]) -> int:
    """Record the reminders as sent (queued); returns how many were not already."""
    if not screening_ids:
        return 0
    with write_transaction(db):
        marks = ",".join("?" * len(screening_ids))
        cursor = db.execute(
            f"UPDATE patient_notices SET reminded_at = ? WHERE reminded_at IS NULL AND screening_id IN ({marks})",  # noqa: S608
            [utc_now(), *screening_ids],
        )
    return cursor.rowcount
