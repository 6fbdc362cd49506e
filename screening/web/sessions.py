"""Flask's signed-cookie sessions, without their work on a request that has no session.

Flask builds the cookie's signing serializer (key derivation, a salted signer) for every
request before it looks for a cookie, and every response is marked ``Vary: Cookie`` because
Flask-Login asks the session whether to renew a remember cookie. The public API is called
without a cookie (its reads carry a bearer token), so an API request with no session cookie
gets an empty session that is neither signed nor marked; anything a view writes to it is
still saved as Flask would.
"""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer

API_PREFIX = "/api/"


class CookielessApiSession(SecureCookieSession):
    """The empty session of an API request that carried no session cookie."""


class LazySessionInterface(SecureCookieSessionInterface):
    """Signed-cookie sessions whose signer is built once per key, and only when a cookie is read or written."""

    def __init__(self) -> None:
        self._serializer: tuple[tuple[object, ...], URLSafeTimedSerializer] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Flask's serializer, kept while the secret key and its fallbacks stay the same."""
        if not app.secret_key:
            return None
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = self._serializer
        if kept is not None and kept[0] == keys:
            return kept[1]
        serializer = super().get_signing_serializer(app)
        assert serializer is not None  # the secret key is set
        self._serializer = (keys, serializer)
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """The request's session; an empty one, unsigned, when it carries no session cookie."""
        if not app.secret_key:
            return None  # Flask's NullSession: "no secret key" on a write
        if request.cookies.get(self.get_cookie_name(app)):
            return super().open_session(app, request)
        if request.path.startswith(API_PREFIX):
            return CookielessApiSession()
        return self.session_class()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        """Set, renew or delete the cookie as Flask does; an API request's untouched empty session adds nothing."""
        if isinstance(session, CookielessApiSession) and not session and not session.modified:
            return  # no cookie came, none goes, and the API's answers never depend on one
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    """Use the lazy session interface for ``app``."""
    app.session_interface = LazySessionInterface()
