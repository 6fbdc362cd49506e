"""The sealed result token (links themselves come from ``web.links``).

The database keeps a result link's token only as a hash. A patient who asks
to be e-mailed about their screening needs the link again when a practitioner
decides, so for them alone the token is kept encrypted with a key derived
from the app's secret key: a copy of the database still reveals no link.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app


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
