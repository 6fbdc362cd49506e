"""Reception tablets registered as kiosks: register, find by the cookie's secret, revoke, list.

The device's cookie carries a random secret; only its hash is kept (as for sign-in
sessions), and a revoked device's secret finds nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import cast

from .connection import Database, hash_token, insert_row, query_one, utc_now
from .records import DeviceRecord

# The queue's column naming the device a screening was taken on (a correlated read of
# one row per screening shown, by primary key), for ``list_screenings(columns=...)``.
DEVICE_NAME_COLUMN = "(SELECT name FROM devices WHERE devices.id = screenings.device_id) AS device_name"
# "Last seen" is written at most this often, not on every request of a busy tablet.
LAST_SEEN_EVERY = dt.timedelta(minutes=1)


def register_device(db: Database, name: str, practitioner_id: int | None) -> tuple[int, str]:
    """A new device; returns its id and the secret its cookie carries (shown once, stored hashed)."""
    secret = secrets.token_urlsafe(32)
    device_id = insert_row(
        db,
        "INSERT INTO devices (name, secret_hash, registered_by, registered_at) VALUES (?, ?, ?, ?)",
        [name, hash_token(secret), practitioner_id, utc_now()],
    )
    return device_id, secret


def find_device(db: Database, secret: str) -> DeviceRecord | None:
    """The device this secret opens: None when unknown or revoked."""
    row = query_one(db, "SELECT * FROM devices WHERE secret_hash = ? AND revoked_at IS NULL", [hash_token(secret)])
    return cast(DeviceRecord | None, row)


def get_device(db: Database, device_id: int) -> DeviceRecord | None:
    """The device with this id (revoked or not), or None."""
    return cast(DeviceRecord | None, query_one(db, "SELECT * FROM devices WHERE id = ?", [device_id]))


def touch_device(db: Database, device: DeviceRecord) -> None:
    """Note that the device was seen now (at most once a minute)."""
    now = utc_now()
    last = device["last_seen_at"]
    if last is not None and dt.datetime.fromisoformat(now) - dt.datetime.fromisoformat(last) < LAST_SEEN_EVERY:
        return
    db.execute("UPDATE devices SET last_seen_at = ? WHERE id = ?", [now, device["id"]])


def revoke_device(db: Database, device_id: int, practitioner_id: int | None) -> bool:
    """Revoke a device now: its cookie opens nothing from the next request. False if it was revoked already."""
    cursor = db.execute(
        "UPDATE devices SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL",
        [utc_now(), practitioner_id, device_id],
    )
    return cursor.rowcount == 1


def list_devices(db: Database) -> list[DeviceRecord]:
    """Every device with who registered and revoked it, live ones first, newest first."""
    rows = db.query(
        "SELECT devices.*, registrar.name AS registered_by_name, revoker.name AS revoked_by_name FROM devices"
        " LEFT JOIN practitioners AS registrar ON registrar.id = devices.registered_by"
        " LEFT JOIN practitioners AS revoker ON revoker.id = devices.revoked_by"
        " ORDER BY revoked_at IS NOT NULL, registered_at DESC, devices.id DESC"
    )
    return [cast(DeviceRecord, row) for row in rows]
