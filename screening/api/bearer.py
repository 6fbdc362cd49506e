"""Bearer-token reads: only a live API token of an active practitioner gets
through, it reaches what its scopes name and its owner's role allows now (the
role table, ``web.roles``), and the token is who the audit trail names."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

from flask import Response, g, request
from flask.typing import ResponseReturnValue

from ..storage import ApiTokenRecord, get_api_token, touch_api_token
from ..web.audit import audit
from ..web.db import get_db
from ..web.errors import json_error
from ..web.roles import may_use_scope

P = ParamSpec("P")


def _unauthorized(message: str, token_given: bool) -> Response:
    # RFC 6750: say invalid_token only when a token was sent, so a client
    # that sent none knows to ask for one rather than to replace it.
    challenge = 'Bearer realm="screening"'
    if token_given:
        challenge += ', error="invalid_token"'
    return json_error(401, message, headers={"WWW-Authenticate": challenge})


def check_bearer_token() -> ApiTokenRecord | Response:
    """The live token the request carries (its last use noted), or the 401 to send."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        audit("access.denied", None, {"via": "api", "page": request.endpoint, "reason": "no token"}, actor="anonymous")
        return _unauthorized("This needs an API token: send Authorization: Bearer <token>.", bool(header))
    db = get_db()
    row = get_api_token(db, token)
    if row is None:
        audit("access.denied", None, {"via": "api", "page": request.endpoint, "reason": "bad token"}, actor="anonymous")
        return _unauthorized("The API token is not valid, has expired or has been revoked.", True)
    touch_api_token(db, row["id"])
    return row


def _forbidden(message: str, scope: str) -> Response:
    return json_error(
        403,
        message,
        headers={"WWW-Authenticate": f'Bearer realm="screening", error="insufficient_scope", scope="{scope}"'},
    )


def bearer_required(scope: str) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """Let the request through only with a live token that carries ``scope`` and
    whose owner's role, as it is now, may use it (``g.api_token``)."""

    def decorate(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            checked = check_bearer_token()
            if isinstance(checked, Response):
                return checked
            if scope not in checked["scopes"].split():
                audit("access.denied", None, {"via": "api", "page": request.endpoint, "reason": "scope"}, token=checked)
                return _forbidden(f"This API token may not do this: it needs the scope {scope}.", scope)
            role = checked["practitioner_role"]
            if not may_use_scope(role, scope):
                # The owner's role may have changed since the token was made: the role decides now.
                audit(
                    "access.denied",
                    None,
                    {"via": "api", "page": request.endpoint, "reason": "role", "role": role},
                    token=checked,
                )
                return _forbidden(
                    f"This API token may not do this: its owner's role ({role}) may not use the scope {scope}.", scope
                )
            g.api_token = checked
            return view(*args, **kwargs)

        return wrapped

    return decorate


def api_token() -> ApiTokenRecord:
    """The token ``bearer_required`` let through for this request."""
    token: ApiTokenRecord = g.api_token
    return token
