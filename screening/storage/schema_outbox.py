"""Migrations m016-m017: the outbox of e-mails and webhooks, and what patients asked to be e-mailed."""

from __future__ import annotations

from sqlite_utils import Database


def m016_outbox(db: Database) -> None:
    """Messages (e-mails, webhooks) written with the change that causes them, delivered later with retries."""
    db.table("outbox").create(
        {
            "id": int,
            "channel": str,  # mail | webhook
            "event": str,  # what caused it: patient.link, screening.created, ...
            "screening_id": int,
            "recipient": str,  # e-mail address(es), or the webhook URL
            "subject": str,
            "body": str,  # plain text, or the webhook's raw JSON body
            "html": str,
            "delivery_id": str,
            "created_at": str,
            "attempts": int,
            "next_attempt_at": str,
            "claimed_by": str,
            "claimed_until": str,
            "delivered_at": str,
            "failed_at": str,
            "last_error": str,
            "resent_from": int,
        },
        pk="id",
        not_null={"channel", "event", "recipient", "body", "delivery_id", "created_at", "attempts", "next_attempt_at"},
        defaults={"attempts": 0},
        foreign_keys=[("screening_id", "screenings", "id")],
    )
    # The sender's one query: pending messages due now.
    db.table("outbox").create_index(["delivered_at", "failed_at", "next_attempt_at"])
    db.table("outbox").create_index(["channel", "id"])
    db.table("outbox").create_index(["screening_id"])
    db.table("outbox").create_index(["delivery_id"], unique=True)


def m017_patient_notices(db: Database) -> None:
    """What a patient asked to be e-mailed: their result link (kept sealed) and a re-screen reminder."""
    db.table("patient_notices").create(
        {
            "screening_id": int,
            "sealed_token": str,  # the result link's token, encrypted with the app's secret key
            "base_url": str,
            "link_requested_at": str,
            "reminder_requested_at": str,
            "reminded_at": str,
        },
        pk="screening_id",
        foreign_keys=[("screening_id", "screenings", "id")],
    )
    db.table("patient_notices").create_index(["reminder_requested_at", "reminded_at"])
