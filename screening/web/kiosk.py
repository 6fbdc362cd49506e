"""Kiosk mode: is this browser a reception tablet an administrator registered?

The tablet keeps a long-lived cookie holding a random secret, signed with the
app's secret key (a forged or altered cookie is refused before the database is
asked); the database keeps only the secret's hash. A revoked device's secret
finds no row, so its cookie makes an ordinary visitor from the next request.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from flask import current_app, g, request, session
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from .. import storage
from ..storage import DeviceRecord
from .db import get_db

DEVICE_COOKIE = "kiosk_device"
# Browsers keep a cookie at most 400 days: after that an administrator registers the tablet again.
DEVICE_COOKIE_MAX_AGE = int(dt.timedelta(days=400).total_seconds())
_SALT = "kiosk-device"
# The session's one key on a kiosk: the screening just submitted, its device, and until when it shows.
RESULT_KEY = "kiosk_result"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt=_SALT)


def set_device_cookie(response: Response, secret: str) -> Response:
    """Make the browser of this response a kiosk: HttpOnly, SameSite=Strict, Secure as the session's cookie."""
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer().dumps(secret),
        max_age=DEVICE_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Strict",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


def _device_from_cookie() -> DeviceRecord | None:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        secret = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(secret, str):
        return None
    db = get_db()
    device = storage.find_device(db, secret)
    if device is not None:
        try:
            storage.touch_device(db, device)
        except Exception as error:
            # "Last seen" is a courtesy: a full disk must not turn the patient away.
            if not storage.is_storage_fault(error):
                raise
    return device


def current_device() -> DeviceRecord | None:
    """The registered, unrevoked kiosk this request comes from, or None (read once per request)."""
    if "kiosk_device" not in g:
        g.kiosk_device = _device_from_cookie()
    device: DeviceRecord | None = g.kiosk_device
    return device


def is_kiosk() -> bool:
    """Whether this request comes from a registered kiosk."""
    return current_device() is not None


def idle_seconds() -> int:
    """Seconds without a touch after which a kiosk page clears itself (``KIOSK_IDLE_SECONDS``)."""
    return int(current_app.config["KIOSK_IDLE_SECONDS"])


def forbid_storing(response: Response) -> Response:
    """On a kiosk, no page is kept by the browser: Back refetches it (and the server decides)."""
    if request.endpoint != "static" and is_kiosk():
        response.headers["Cache-Control"] = "no-store"
    return response


def start_fresh() -> None:
    """A new patient: nothing of the previous one stays in the session (their result, their form token)."""
    session.clear()


def remember_result(screening_id: int) -> None:
    """Bind the screening just stored to this device's session, to show until "Done" or the idle time."""
    device = current_device()
    if device is None:
        raise RuntimeError("not a kiosk")
    session.clear()
    session[RESULT_KEY] = {"id": screening_id, "device": device["id"], "until": time.time() + idle_seconds()}


def shown_screening_id() -> int | None:
    """The screening this kiosk session may still show, if any (same device, within the idle time)."""
    entry: Any = session.get(RESULT_KEY)
    device = current_device()
    if not isinstance(entry, dict) or device is None or entry.get("device") != device["id"]:
        return None
    if time.time() > float(entry.get("until", 0)):
        return None
    screening_id = entry.get("id")
    return screening_id if isinstance(screening_id, int) else None
