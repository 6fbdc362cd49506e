"""Security settings: headers on every response, production checks, proxies, logs."""

from __future__ import annotations

import logging
import re

import click
from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
WEAK_SECRET_KEYS = {"", "dev", "secret", "changeme", "change-me"}
SECRET_KEY_MIN_LENGTH = 16
RESULT_PATH = re.compile(r"/result/[A-Za-z0-9_-]+")


class ConfigError(Exception):
    """The app is configured in a way it must not be served with."""


def add_security_headers(response: Response) -> Response:
    """No inline code, no framing, no sniffing, no referrer (result URLs hold a token)."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.endpoint != "static":
        # Pages may hold patient data: never keep them in a shared cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def is_serving() -> bool:
    """False while a CLI command other than ``run`` loads the app (``screen``, ``check-rules``...)."""
    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"


def check_production_config(app: Flask) -> None:
    """Refuse to serve requests with a missing or development secret key."""
    if app.debug or app.testing or not is_serving():
        return
    key = str(app.config.get("SECRET_KEY") or "")
    if key in WEAK_SECRET_KEYS or len(key) < SECRET_KEY_MIN_LENGTH:
        raise ConfigError(
            "SCREENING_SECRET_KEY is missing or a development default: set it to a long random value, "
            "e.g. export SCREENING_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
        )


def check_link_config(app: Flask) -> None:
    """Refuse to serve when links would take the visitor's ``Host`` header: neither
    ``PUBLIC_URL`` nor ``TRUSTED_HOSTS`` is set (debug, tests and CLI commands are spared)."""
    if app.debug or app.testing or not is_serving():
        return
    if not app.config.get("PUBLIC_URL") and not app.config.get("TRUSTED_HOSTS"):
        raise ConfigError(
            "SCREENING_PUBLIC_URL is not set, so result links, API locations and FHIR URLs would take the "
            "visitor's Host header: set it to the public address (https://your-host/), "
            "or set SCREENING_TRUSTED_HOSTS to the host names the app answers to"
        )


# Control characters (a decoded %0a ends a log line early and forges the next one).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class RedactResultTokens(logging.Filter):
    """Access logs must not leak the secret links to patients' results, nor
    carry control characters a client sent in a path (forged log lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message with tokens replaced and control characters escaped; never drop the record."""
        message = record.getMessage()
        cleaned = CONTROL_CHARACTERS.sub(lambda m: f"\\x{ord(m.group()):02x}", message)
        if "/result/" in cleaned:
            cleaned = RESULT_PATH.sub("/result/<redacted>", cleaned)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        return True


def init_app(app: Flask) -> None:
    """Check the configuration, trust the configured proxies, register headers and log redaction."""
    check_production_config(app)
    check_link_config(app)
    proxies = int(app.config.get("PROXY_COUNT", 0))
    if proxies > 0:
        # Behind N reverse proxies: take the client address and scheme from their headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    app.after_request(add_security_headers)
    redact = RedactResultTokens()
    for name in ("werkzeug", "gunicorn.access", app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactResultTokens) for f in logger.filters):
            logger.addFilter(redact)
