"""``Idempotency-Key`` on ``POST /api/v1/screenings``: a client that retries
after a lost response sends the same key and gets the first response back,
not a second screening.

Only hashes are stored. The result link of a keyed submission is derived
from the key and the app's secret key, so a retry can be answered with the
same link although the database keeps no link: a copy of the database alone
still reveals none.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

from flask import current_app, request

from ..storage import hash_token

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


def key_hash(key: str) -> str:
    """The stored form of a key."""
    return hash_token("idempotency:" + key)


def request_hash(body: dict[str, Any]) -> str:
    """A digest of the request body, to tell a retry from another request under the same key."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def result_token(key: str) -> str:
    """The result link's token for a keyed submission (32 bytes, as random to anyone without the secret key)."""
    secret = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    digest = hmac.new(secret, b"result-link:" + key.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
