"""Reception tablets as kiosks, for administrators: list them, register the browser
in hand as one, revoke one. Each action is audited.

Registering sets the device cookie (``web.kiosk``) on the browser that sent the
form, so it is done on the tablet itself, and ends the administrator's session in
that browser: a patient never finds a signed-in workspace on it. Revoking makes
the tablet's cookie worthless from its next request.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from .. import storage
from ..web.audit import audit
from ..web.db import get_db
from ..web.kiosk import set_device_cookie
from .blueprint import bp
from .device_forms import DeviceForm
from .forms import LogoutForm


def device_target(device_id: int) -> str:
    """How audit rows name a device."""
    return f"device:{device_id}"


def render_devices(form: DeviceForm | None = None, status: int = 200) -> ResponseReturnValue:
    """The devices page with the registration form."""
    return (
        render_template(
            "practitioner/devices.html",
            devices=storage.list_devices(get_db()),
            form=form or DeviceForm(formdata=None),
            action_form=LogoutForm(),
        ),
        status,
    )


@bp.get("/devices")
def devices() -> ResponseReturnValue:
    """Every registered device: who registered it and when, when it was last seen, whether it is revoked."""
    return render_devices()


@bp.post("/devices")
def register_device() -> ResponseReturnValue:
    """Register this browser as a kiosk: set its device cookie, sign out here, open the start page."""
    form = DeviceForm()
    if not form.validate():
        return render_devices(form, 400)
    db = get_db()
    device_id, secret = storage.register_device(db, form.name.data, current_user.id)
    audit("device.register", device_target(device_id), {"name": form.name.data})
    # The tablet goes to patients next: nothing of the administrator's session stays on it.
    storage.end_session(db, current_user.session_id, "kiosk_registered")
    logout_user()
    session.clear()
    return set_device_cookie(redirect(url_for("patient.index"), 303), secret)


@bp.post("/devices/<int:device_id>/revoke")
def revoke_device(device_id: int) -> ResponseReturnValue:
    """Revoke a device: from its next request it is an ordinary visitor's browser."""
    if not LogoutForm().validate_on_submit():
        abort(400)
    device = storage.get_device(get_db(), device_id)
    if device is None:
        abort(404)
    if storage.revoke_device(get_db(), device_id, current_user.id):
        audit("device.revoke", device_target(device_id), {"name": device["name"]})
        flash(_("%(name)s is no longer a kiosk.", name=device["name"]))
    return redirect(url_for("practitioner.devices"), 303)


@bp.context_processor
def device_names() -> dict[str, Any]:
    """``device_name(id)``: the name of the tablet a screening was taken on (the detail page)."""

    def device_name(device_id: int | None) -> str | None:
        device = storage.get_device(get_db(), device_id) if device_id is not None else None
        return device["name"] if device is not None else None

    return {"device_name": device_name}
