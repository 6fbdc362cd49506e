"""The devices page's form: a reception tablet's name, given when it is registered as a kiosk."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..web.validators import PlainText

# Short enough for a queue row ("Taken at reception: Front desk tablet").
DEVICE_NAME_MAX = 60


class DeviceForm(FlaskForm):
    """Register the browser this form is sent from as a kiosk, under a name staff recognise."""

    name = StringField(
        _l("Device name"),
        description=_l("How staff will recognise it in the queue, e.g. “Front desk tablet”."),
        validators=[
            DataRequired(_l("Enter a name for this device.")),
            Length(max=DEVICE_NAME_MAX, message=_l("Use at most %(n)d characters.", n=DEVICE_NAME_MAX)),
            PlainText(required=_l("Enter a name for this device.")),
        ],
    )
