"""Friendly error pages (and JSON errors under /api) for anything a user can send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, make_response, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, InternalServerError, SecurityError
from werkzeug.http import HTTP_STATUS_CODES

from ..storage import is_storage_fault


def wants_json() -> bool:
    """API and FHIR callers get JSON errors; browsers get pages."""
    return request.path.startswith(("/api/", "/fhir/"))


def json_error(
    status: int,
    message: str,
    errors: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The one JSON error shape: ``{"error", "message"}``, plus ``errors`` by field when given."""
    body: dict[str, Any] = {"error": HTTP_STATUS_CODES.get(status, "Error"), "message": message}
    if errors is not None:
        body["errors"] = dict(errors)
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_http_error(error: HTTPException) -> ResponseReturnValue:
    """Render an HTTP error as a page or as JSON."""
    code = error.code or 500
    if wants_json():
        return json_error(code, error.description or error.name)
    template = f"errors/{code}.html" if code in (400, 403, 404, 405, 413, 429) else "errors/generic.html"
    return render_template(template, error=error), code


RETRY_AFTER_SECONDS = 60


def _no_user_loading() -> None:
    """Settle who is signed in without loading it: loading a staff member writes (the
    session's last use), and that write is what the database just refused."""
    login_manager = getattr(current_app, "login_manager", None)
    if login_manager is not None and "_login_user" not in g:
        # Flask-Login's own setter: the page is drawn for a visitor who is not signed in.
        login_manager._update_request_context_with_user()


def storage_fault_response() -> Response:
    """503 with Retry-After: the database refuses writes (read-only, disk full); nothing was saved."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    current_app.logger.error("The database refuses writes (read-only or disk full) in %s", request.endpoint)
    _no_user_loading()
    if wants_json():
        return json_error(
            503, "The service cannot store anything right now; nothing was saved. Try again later.", headers=headers
        )
    response = make_response(render_template("errors/503.html"), 503)
    response.headers.update(headers)
    return response


def handle_unexpected_error(error: Exception) -> ResponseReturnValue:
    """A bug must not show a traceback: log it and answer 500 (a storage fault: 503)."""
    if is_storage_fault(error):
        return storage_fault_response()
    # The endpoint, not the path: result paths carry a patient's secret token.
    current_app.logger.error("Unhandled error in %s", request.endpoint, exc_info=error)
    return handle_http_error(InternalServerError())


def respond_to_http_error(error: HTTPException) -> Response:
    """``handle_http_error`` plus the error's own headers (Allow on a 405, which
    RFC 9110 requires), keeping our content type."""
    if isinstance(error, SecurityError):
        # A Host outside TRUSTED_HOSTS: no page can be built (its links would
        # need that host), so a plain answer.
        return Response("400 Bad Request: this server does not answer to that host name.\n", 400, mimetype="text/plain")
    response = make_response(handle_http_error(error))
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(HTTPException, respond_to_http_error)
    app.register_error_handler(Exception, handle_unexpected_error)
