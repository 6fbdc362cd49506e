"""Absolute links for messages read outside the site, and the sealed result token.

The database keeps a result link's token only as a hash. A patient who asks
to be e-mailed about their screening needs the link again when a practitioner
decides, so for them alone the token is kept encrypted with a key derived
from the app's secret key: a copy of the database still reveals no link.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, has_request_context, request


def base_url() -> str:
    """Where links start: ``PUBLIC_URL``, else the address of the current request."""
    configured = str(current_app.config.get("PUBLIC_URL") or "")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.url_root.rstrip("/")
    raise RuntimeError("SCREENING_PUBLIC_URL is needed to build links outside a request")


def external_url(endpoint: str, base: str | None = None, **values: object) -> str:
    """The absolute URL of ``endpoint`` under ``base`` (default ``base_url()``); works outside requests."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return (base or base_url()).rstrip("/") + path


def _fernet() -> Fernet:
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    key = hashlib.sha256(b"screening.result-link\0" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal_token(token: str) -> str:
    """The result token encrypted with the app's key, for ``patient_notices``."""
    return _fernet().encrypt(token.encode("utf-8")).decode("ascii")


def unseal_token(sealed: str | None) -> str | None:
    """The result token back, or None (nothing sealed, or the secret key has changed since)."""
    if not sealed:
        return None
    try:
        return _fernet().decrypt(sealed.encode("ascii")).decode("utf-8")
    except InvalidToken:
        return None
