"""Delivering the outbox: e-mails over SMTP (or into the local mailbox), webhooks as signed HTTP POSTs.

Each round claims the messages due (``storage.claim_messages``), delivers
them and marks each one delivered or failed; a failure waits
``OUTBOX_RETRY_SECONDS``, doubling with each attempt up to
``OUTBOX_MAX_RETRY_SECONDS``. Delivery is at least once: a sender killed
between the SMTP server's acceptance and the mark sends that one message
again once its claim expires.

Who runs the rounds: ``flask --app app send-mail`` (for cron), and, unless
``OUTBOX_BACKGROUND`` is false, a thread in every served worker that wakes
when a message is queued and when a retry is due.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import smtplib
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from flask import Flask, current_app

from .. import storage
from ..storage import Database
from ..web.clinic import get_clinic
from .compose import DIGEST_EVENT, mail_transport, render_digest
from .mailbox import deliver_to_mailbox

log = logging.getLogger(__name__)
USER_AGENT = "screening-webhooks/1"


@dataclass
class Round:
    """What one delivery round did."""

    delivered: int = 0
    retrying: int = 0
    abandoned: int = 0
    errors: list[str] = field(default_factory=list)


def backoff_seconds(attempts: int, config: Mapping[str, Any]) -> float:
    """How long to wait after the ``attempts``-th failure: doubling, capped."""
    base = float(config["OUTBOX_RETRY_SECONDS"])
    return float(min(base * 2 ** max(0, attempts - 1), float(config["OUTBOX_MAX_RETRY_SECONDS"])))


def sign_delivery(body: bytes, delivery_id: str, secret: str, timestamp: int) -> str:
    """The ``X-Screening-Signature`` value: ``t=<unix time>,v1=<hex>``, the HMAC-SHA256 of
    ``"<t>.<delivery id>.<raw body>"``.

    The time and the delivery id are signed with the body so that a receiver can
    refuse a captured delivery sent again: late (the time) or twice (the id).
    """
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    return f"t={timestamp},v1=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def build_email(message: storage.OutboxRecord, sender: str) -> EmailMessage:
    """The e-mail of an outbox row: plain text with an HTML alternative."""
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message["recipient"]
    email["Subject"] = message["subject"] or ""
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(idstring=message["delivery_id"].replace("-", ""))
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message["body"])
    if message["html"]:
        email.add_alternative(message["html"], subtype="html")
    return email


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook is delivered to the configured URL only; a redirect counts as a failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post_webhook(message: storage.OutboxRecord, secret: str, timeout: float) -> None:
    """POST one webhook; raise ``OSError`` (``urllib.error.URLError``, ``HTTPError``) unless it gets a 2xx."""
    if not secret:
        raise ValueError("SCREENING_WEBHOOK_SECRET is not set: deliveries are never sent unsigned")
    body = message["body"].encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - the URL is checked to be http(s) at start-up
        message["recipient"],
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Screening-Event": message["event"],
            "X-Screening-Delivery": message["delivery_id"],
            # Signed at each attempt: a retry carries the same id and a fresh time.
            "X-Screening-Signature": sign_delivery(body, message["delivery_id"], secret, int(time.time())),
        },
    )
    with _opener.open(request, timeout=timeout) as response:
        if not 200 <= response.status < 300:
            raise OSError(f"HTTP {response.status}")


class _Smtp:
    """One SMTP connection per round, opened at the first e-mail."""

    def __init__(self, config: Mapping[str, Any]):
        self.config = config
        self.connection: smtplib.SMTP | None = None

    def send(self, email: EmailMessage, delivery_id: str) -> None:
        if not self.config["MAIL_SERVER"]:
            raise smtplib.SMTPException("SCREENING_MAIL_SERVER is not set")
        if self.connection is None:
            connection = smtplib.SMTP(
                self.config["MAIL_SERVER"], int(self.config["MAIL_PORT"]), timeout=float(self.config["MAIL_TIMEOUT"])
            )
            try:
                if self.config["MAIL_USE_TLS"]:
                    connection.starttls(context=ssl.create_default_context())
                if self.config["MAIL_USERNAME"]:
                    connection.login(self.config["MAIL_USERNAME"], self.config["MAIL_PASSWORD"])
            except BaseException:
                connection.close()
                raise
            self.connection = connection
        self.connection.send_message(email)

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self.connection.close()
            self.connection = None


class _Mailbox:
    """The local mailbox (``MAIL_TRANSPORT`` "mailbox"): each e-mail a file in ``MAIL_FOLDER``."""

    def __init__(self, config: Mapping[str, Any]):
        self.folder = str(config["MAIL_FOLDER"])

    def send(self, email: EmailMessage, delivery_id: str) -> None:
        deliver_to_mailbox(self.folder, delivery_id, email)

    def close(self) -> None:
        pass


def deliver_due(db: Database, *, limit: int = 50) -> Round:
    """Deliver the messages due now (one round); needs the app context."""
    config = current_app.config
    name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    result = Round()
    messages = storage.claim_messages(db, name, limit=limit)
    if not messages:
        return result
    sender = config["MAIL_DEFAULT_SENDER"] or get_clinic().email
    digest = [m for m in messages if m["event"] == DIGEST_EVENT]
    if digest:
        # The first item's time has come: every item held so far goes in one message.
        held = storage.claim_messages(db, name, event=DIGEST_EVENT, limit=500)
        digest = sorted({m["id"]: m for m in [*digest, *held]}.values(), key=lambda m: m["id"])
    batches = [[m] for m in messages if m["event"] != DIGEST_EVENT] + ([digest] if digest else [])
    # The same round, retries and deliveries page whichever way e-mail goes.
    mail: _Smtp | _Mailbox = _Mailbox(config) if mail_transport(config) == "mailbox" else _Smtp(config)
    try:
        for batch in batches:
            try:
                if batch is digest:
                    mail.send(build_digest(batch, sender), batch[0]["delivery_id"])
                elif batch[0]["channel"] == "mail":
                    mail.send(build_email(batch[0], sender), batch[0]["delivery_id"])
                else:
                    post_webhook(batch[0], str(config["WEBHOOK_SECRET"]), float(config["WEBHOOK_TIMEOUT"]))
            except (smtplib.SMTPException, OSError, ValueError) as error:
                mail.close()  # a broken connection is opened afresh for the next e-mail
                _record_failure(db, batch, name, error, result)
            else:
                result.delivered += sum(storage.mark_delivered(db, m["id"], name) for m in batch)
    finally:
        mail.close()
    return result


def build_digest(items: list[storage.OutboxRecord], sender: str) -> EmailMessage:
    """One staff e-mail for every held digest item."""
    subject, text, html = render_digest([m["body"] for m in items])
    first = items[0]
    return build_email({**first, "subject": subject, "body": text, "html": html}, sender)


def _record_failure(
    db: Database, batch: list[storage.OutboxRecord], name: str, error: Exception, result: Round
) -> None:
    config = current_app.config
    reason = f"{type(error).__name__}: {error}"
    result.errors.append(reason)
    for message in batch:
        given_up = storage.mark_failed(
            db,
            message["id"],
            name,
            reason,
            retry_after=backoff_seconds(message["attempts"] + 1, config),
            max_attempts=int(config["OUTBOX_MAX_ATTEMPTS"]),
        )
        # The event and the id only: recipients and bodies are patient data.
        log.warning("outbox message %s (%s) failed: %s", message["id"], message["event"], type(error).__name__)
        if given_up:
            result.abandoned += 1
        else:
            result.retrying += 1


class BackgroundSender:
    """A daemon thread per worker process that runs delivery rounds.

    It wakes when ``wake`` is called (a message was queued), when the next
    retry is due, and at least every ``poll`` seconds (messages queued by
    another worker or a command).
    """

    def __init__(self, app: Flask, poll: float = 30):
        self.app, self.poll = app, poll
        self.event = threading.Event()
        self.pid = 0
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def ensure_running(self) -> None:
        """Start the thread in this process if it is not running (after a fork it is not)."""
        if self.pid == os.getpid() and self.thread is not None and self.thread.is_alive():
            return
        with self.lock:
            if self.pid != os.getpid() or self.thread is None or not self.thread.is_alive():
                self.pid = os.getpid()
                self.event = threading.Event()
                self.thread = threading.Thread(target=self._run, name="outbox-sender", daemon=True)
                self.thread.start()

    def wake(self) -> None:
        """Run a round soon: a message was queued."""
        self.event.set()

    def _run(self) -> None:
        db = storage.connect(self.app.config["DATABASE"], self.app.config["SQLITE_SYNCHRONOUS"])
        while True:
            wait = self.poll
            try:
                with self.app.app_context():
                    while deliver_due(db).delivered:
                        pass
                    due = storage.next_attempt_in(db)
                if due is not None:
                    wait = min(wait, max(due, 0.05))
            except Exception:
                log.exception("outbox round failed")
            self.event.wait(wait)
            self.event.clear()
