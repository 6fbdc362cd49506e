"""Absolute links the app hands out (result links, API locations, FHIR URLs, e-mails,
webhooks): under ``PUBLIC_URL`` when it is set, so a forged ``Host`` header cannot put
another site into a link a patient or a clinic system will follow."""

from __future__ import annotations

from flask import current_app, g, has_request_context, request
from werkzeug.routing import MapAdapter


def base_url() -> str:
    """Where links start, without a trailing slash: ``PUBLIC_URL``, else the current request's address."""
    configured = str(current_app.config.get("PUBLIC_URL") or "")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.url_root.rstrip("/")
    raise RuntimeError("SCREENING_PUBLIC_URL is needed to build links outside a request")


def public_root() -> str:
    """The site's public address with a trailing slash."""
    return base_url() + "/"


def external_url(endpoint: str, base: str | None = None, **values: object) -> str:
    """The absolute URL of ``endpoint`` under ``base`` (default ``base_url()``); works outside requests too."""
    # One link builder per app context (a request, a CLI command): binding the URL map is most
    # of a link's cost, and a 201 builds two.
    adapter: MapAdapter | None = g.get("_link_builder")
    if adapter is None:
        adapter = g._link_builder = current_app.url_map.bind("localhost")
    path = adapter.build(endpoint, values)
    return (base or base_url()).rstrip("/") + path
