"""The local mailbox: e-mail delivered as files instead of over SMTP (``MAIL_TRANSPORT`` "mailbox",
what ``make run`` uses without a server), read by administrators on the deliveries page.

One file per message, ``<delivery id>.eml`` in ``MAIL_FOLDER``, holding the message exactly as
the SMTP path would send it (RFC 5322, CRLF lines). The messages carry result and set-password
links, so they are patient data at rest: the folder is 0700, each file 0600, and a file is written
whole (a temporary file renamed into place) so that a reader never sees half a message.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import os
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from typing import cast

from ..web.db import make_private

SUFFIX = ".eml"


class NoSuchMessage(LookupError):
    """No message with that delivery id in the mailbox (or not a delivery id at all)."""


@dataclass(frozen=True)
class MailboxEntry:
    """One delivered message as the mailbox's list shows it."""

    delivery_id: str
    delivered_at: str  # ISO 8601, UTC: when the file was written
    recipient: str
    subject: str


def _message_path(folder: str, delivery_id: str) -> str:
    """The file of a delivery id; only a UUID names one, so no path can be smuggled in."""
    try:
        canonical = str(uuid.UUID(delivery_id))
    except ValueError:
        raise NoSuchMessage(delivery_id) from None
    if canonical != delivery_id:
        raise NoSuchMessage(delivery_id)
    return os.path.join(folder, canonical + SUFFIX)


def deliver_to_mailbox(folder: str, delivery_id: str, message: EmailMessage) -> str:
    """Write ``message`` as ``<delivery id>.eml`` (0600, in a 0700 folder); the file's path.

    Delivered again (at least once), the same delivery replaces its file.
    """
    path = _message_path(folder, delivery_id)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    make_private(folder, path)
    data = message.as_bytes(policy=email.policy.SMTP)
    temporary = os.path.join(folder, f".{uuid.uuid4().hex}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            # On disk before the outbox marks the message delivered (and clears its body).
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def list_mailbox(folder: str, *, limit: int = 50) -> list[MailboxEntry]:
    """The most recent messages in the mailbox, newest first (none without a folder)."""
    try:
        names = [name for name in os.listdir(folder) if name.endswith(SUFFIX)]
    except FileNotFoundError:
        return []
    files = []
    for name in names:
        try:
            files.append((os.stat(os.path.join(folder, name)).st_mtime, name))
        except FileNotFoundError:
            continue  # removed while listing
    entries = []
    for mtime, name in sorted(files, reverse=True)[:limit]:
        delivery_id = name.removesuffix(SUFFIX)
        try:
            headers = read_mailbox_message(folder, delivery_id, headers_only=True)
        except NoSuchMessage:
            continue  # not a delivery's file, or removed meanwhile
        entries.append(
            MailboxEntry(
                delivery_id=delivery_id,
                delivered_at=dt.datetime.fromtimestamp(mtime, dt.UTC).isoformat(timespec="seconds"),
                recipient=str(headers.get("To", "")),
                subject=str(headers.get("Subject", "")),
            )
        )
    return entries


def read_mailbox_message(folder: str, delivery_id: str, *, headers_only: bool = False) -> EmailMessage:
    """The message of a delivery id, parsed; ``NoSuchMessage`` if there is none."""
    path = _message_path(folder, delivery_id)
    try:
        with open(path, "rb") as handle:
            return BytesParser(policy=email.policy.default).parse(handle, headersonly=headers_only)
    except FileNotFoundError:
        raise NoSuchMessage(delivery_id) from None


def message_text(message: EmailMessage) -> str:
    """The message's plain-text part ("" if it has none)."""
    part = message.get_body(("plain",))
    if part is None:
        return ""
    return str(cast(EmailMessage, part).get_content())
