"""Messages out of the app: e-mails to patients and staff, webhooks to the
clinic's systems, queued in the database and delivered with retries.

- ``compose``: what each event queues, in the transaction of the change
- ``sender``: delivery rounds (SMTP or the local mailbox, signed webhooks) and the background thread
- ``mailbox``: the local mailbox, one ``.eml`` file per message, for running without SMTP
- ``commands``: ``send-mail`` and ``send-reminders``
- ``links``: absolute links and the sealed result token
"""

from __future__ import annotations

from flask import Flask, current_app

from ..core.clinic import is_web_url
from ..web.security import ConfigError, is_serving
from .commands import send_mail_command, send_reminders_command
from .compose import MAIL_TRANSPORTS, mail_enabled, mail_transport, queue_screening_created, queue_screening_reviewed
from .sender import BackgroundSender

__all__ = ["init_app", "queue_screening_created", "queue_screening_reviewed", "wake_sender"]


def check_outbox_config(app: Flask) -> None:
    """Refuse a webhook or public URL that is not http(s), a webhook without its secret, and an
    unknown mail transport or SMTP without a server."""
    config = app.config
    for name in ("WEBHOOK_URL", "PUBLIC_URL"):
        value = str(config.get(name) or "")
        if value and not is_web_url(value):
            raise ConfigError(f"SCREENING_{name} must be an http:// or https:// address, not {value!r}")
    if config.get("WEBHOOK_URL") and not config.get("WEBHOOK_SECRET"):
        raise ConfigError("SCREENING_WEBHOOK_SECRET must be set with SCREENING_WEBHOOK_URL: every delivery is signed")
    transport = mail_transport(config)
    if transport not in MAIL_TRANSPORTS:
        raise ConfigError(
            f"SCREENING_MAIL_TRANSPORT must be one of {', '.join(MAIL_TRANSPORTS)} (or empty), not {transport!r}"
        )
    if transport == "smtp" and not config.get("MAIL_SERVER"):
        raise ConfigError("SCREENING_MAIL_TRANSPORT=smtp needs SCREENING_MAIL_SERVER")
    sending = transport != "none" or bool(config.get("WEBHOOK_URL"))
    if sending and not config.get("PUBLIC_URL") and is_serving() and not (app.debug or app.testing):
        # Links would otherwise take the request's Host header, which a visitor chooses.
        raise ConfigError("SCREENING_PUBLIC_URL must be set when e-mail or webhooks are on (https://your-host/)")


def wake_sender() -> None:
    """Tell this worker's background sender that a message was queued."""
    sender: BackgroundSender | None = current_app.extensions.get("outbox_sender")
    if sender is not None and sender.thread is not None:
        sender.wake()


def init_app(app: Flask) -> None:
    """Check the settings, register the commands and, when serving, the background sender."""
    check_outbox_config(app)
    app.cli.add_command(send_mail_command)
    app.cli.add_command(send_reminders_command)
    app.add_template_global(mail_enabled)
    if not app.config["OUTBOX_BACKGROUND"] or app.testing or not is_serving():
        return
    sender = BackgroundSender(app)
    app.extensions["outbox_sender"] = sender

    @app.before_request
    def start_sender() -> None:
        # Started in the worker, not at import: gunicorn forks after loading the app, and threads do not survive.
        if mail_transport(app.config) != "none" or app.config.get("WEBHOOK_URL"):
            sender.ensure_running()
