"""Absolute links the app hands out (result links, API locations, FHIR URLs):
under ``PUBLIC_URL`` when it is set, so a forged ``Host`` header cannot put
another site into a link a patient or a clinic system will follow."""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for


def public_root() -> str:
    """The site's public address with a trailing slash: ``PUBLIC_URL``, else this request's."""
    configured = current_app.config.get("PUBLIC_URL")
    return str(configured).rstrip("/") + "/" if configured else request.url_root


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` under the public address."""
    return public_root() + url_for(endpoint, **values).lstrip("/")
