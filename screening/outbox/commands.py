"""The outbox's commands: ``send-mail`` delivers what is due (for cron), and
``send-reminders`` queues the re-screen reminders whose day has come."""

from __future__ import annotations

import datetime as dt

import click
from flask.cli import with_appcontext

from .. import storage
from ..web.db import get_db, screening_day
from .compose import mail_enabled, queue_reminder
from .sender import deliver_due
from .session_mail import queue_check_ins, queue_pre_session_checks


@click.command("send-mail")
@with_appcontext
def send_mail_command() -> None:
    """Deliver every queued e-mail and webhook that is due (run it from cron, e.g. every minute)."""
    db = get_db()
    delivered = retrying = abandoned = 0
    errors: set[str] = set()
    while True:
        result = deliver_due(db)
        delivered, retrying, abandoned = (
            delivered + result.delivered,
            retrying + result.retrying,
            abandoned + result.abandoned,
        )
        errors.update(result.errors)
        if not result.delivered:
            break
    for error in sorted(errors):
        click.echo(f"failed: {error}", err=True)
    click.echo(f"{delivered} delivered, {retrying} to retry later, {abandoned} given up.")


@click.command("send-reminders")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="List the reminders that are due without queueing them.")
@click.option("--today", type=click.DateTime(["%Y-%m-%d"]), help="The day to count from (default: the clinic's today).")
def send_reminders_command(dry_run: bool, today: dt.datetime | None) -> None:
    """Queue a reminder to each deferred patient who asked for one and whose re-screen date has come,
    the pre-session check of each planned session ``PRE_SESSION_CHECK_DAYS`` ahead and the
    check-in of each session given ``CHECK_IN_HOURS`` ago.

    Each patient is reminded once: a second run the same day queues nothing.
    """
    if not mail_enabled():
        raise click.UsageError(
            "e-mail is not configured: set SCREENING_MAIL_SERVER (or SCREENING_MAIL_TRANSPORT=mailbox)"
        )
    db = get_db()
    day = (today.date() if today else screening_day()).isoformat()
    queued = 0
    for screening_id in storage.due_reminders(db, day):
        screening = storage.get_screening(db, screening_id)
        notice = storage.get_patient_notice(db, screening_id)
        if screening is None or notice is None:
            continue
        if dry_run:
            click.echo(f"{screening['reference']}: re-screen from {screening['rescreen_after']} (not sent: dry run)")
            continue
        # Marked and queued together: a second run, or a crash between the two, never sends twice.
        with storage.write_transaction(db):
            if storage.mark_reminded(db, [screening_id]) and queue_reminder(db, screening, notice["base_url"]):
                queued += 1
        click.echo(f"{screening['reference']}: reminder queued")
    # Around each course session: the check before a planned one, the check-in after one given.
    session_lines = [
        *queue_pre_session_checks(db, dt.date.fromisoformat(day), dry_run=dry_run),
        *queue_check_ins(db, dt.date.fromisoformat(day), dry_run=dry_run),
    ]
    for line in session_lines:
        click.echo(line)
    if not dry_run:
        click.echo(f"{queued} reminder(s) queued; `send-mail` (or the background sender) delivers them.")
