"""The clinic's devices and protocol (``devices.yaml``, re-read when edited) for the session form,
the course page and the chart PDF."""

from __future__ import annotations

from flask import Flask

from ..core.devices import Protocol, load_protocol_for
from .ruleset import get_rulebook, in_force


def get_protocol(app: Flask | None = None) -> Protocol:
    """The devices and protocol in force (of ``app``, or of the current app and request; see ``web.reload``)."""
    protocol: Protocol = in_force("protocol", app)
    return protocol


def init_app(app: Flask) -> None:
    """Load and validate the devices file against the rule file (``DevicesFileError`` refuses start-up)."""
    app.extensions["protocol"] = load_protocol_for(app.config["DEVICES_FILE"], get_rulebook(app))
