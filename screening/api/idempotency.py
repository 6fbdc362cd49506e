"""``Idempotency-Key`` on ``POST /api/v1/screenings``: a client that retries
after a lost response sends the same key and gets the first response back,
not a second screening.

Keys are scoped by client: the API token the request carries (its id), else
the client address. The same key from another client is another key: that
request is a new screening with its own link, so a caller who did not create a
screening never receives its ``result_url``.

Only hashes are stored. The result link of a keyed submission is derived
from the client, the key and the app's secret key, so a retry can be answered
with the same link although the database keeps no link: a copy of the
database alone still reveals none.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

from flask import current_app, request

from ..storage import get_api_token, hash_token
from ..web.db import get_db

HEADER = "Idempotency-Key"
_KEY = re.compile(r"\A[\x21-\x7e]{1,255}\Z")


class BadIdempotencyKey(ValueError):
    """A header that is not a key this API accepts."""


def idempotency_key() -> str | None:
    """The request's key, or None; ``BadIdempotencyKey`` if it is malformed."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not _KEY.match(key):
        raise BadIdempotencyKey("must be 1 to 255 visible ASCII characters, e.g. a UUID")
    return key


def client_scope() -> str:
    """Whose keys this request's are: ``token:<id>`` for a live API token, else ``address:<client address>``."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        token = get_api_token(get_db(), secret.strip())
        if token is not None:
            return f"token:{token['id']}"
    # Behind PROXY_COUNT proxies this is the client's own address (ProxyFix).
    return f"address:{request.remote_addr or 'unknown'}"


def key_hash(key: str, scope: str) -> str:
    """The stored form of a key sent by the client ``scope``."""
    return hash_token(f"idempotency:{scope}\n{key}")


def request_hash(body: dict[str, Any]) -> str:
    """A digest of the request body, to tell a retry from another request under the same key."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def result_token(key: str, scope: str) -> str:
    """The result link's token for a keyed submission of the client ``scope``
    (32 bytes, as random to anyone without the secret key)."""
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    message = f"result-link:{scope}\n{key}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
