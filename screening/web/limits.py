"""Rate limits (Flask-Limiter): per client address, on the public API's writes.

Settings (``SCREENING_`` environment variables in production):

- ``RATELIMIT_ENABLED`` (default true): Flask-Limiter's own switch; false turns
  every limit off.
- ``RATELIMIT_STORAGE_URI`` (default ``sqlite:///<instance>/ratelimits.sqlite``):
  where counts are kept; the SQLite file (limit_storage.py) is shared by every
  worker, so a client cannot multiply its allowance; ``redis://`` for several
  machines; ``memory://`` counts per process.
- ``API_RATE_LIMIT`` (default ``30 per minute``): screenings one client
  address may submit through ``POST /api/v1/screenings``.
- ``FORM_RATE_LIMIT`` (default ``20 per minute``): questionnaire submissions
  (valid or not) one client address may send.
- ``PDF_RATE_LIMIT`` (default ``10 per minute``): patient PDFs one client
  address may download (each takes the server a good part of a second).
- ``LOGIN_RATE_LIMIT`` (default ``10 per minute``) per client address and
  ``LOGIN_ACCOUNT_RATE_LIMIT`` (default ``20 per hour``) per account email
  and client address, on sign-in attempts; repeated failures also pause
  that account-and-address pair with a growing delay (auth.py).

The client address is ``request.remote_addr``; behind a reverse proxy set
``PROXY_COUNT`` (security.py applies ProxyFix) so that this is the client's
address rather than the proxy's, or every client shares one allowance.
"""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from ..core.people import normalise_email
from . import limit_storage  # noqa: F401 - registers the sqlite:// store with the limits library


class SwitchedLimiter(Limiter):
    """Flask-Limiter, doing nothing on a request while it is switched off.

    Switched off (``RATELIMIT_ENABLED`` false), Flask-Limiter finds no limit for any
    endpoint, yet each decorated view still evaluates that empty list (meta limits,
    blueprint exemptions): about a tenth of a millisecond per request for nothing.
    """

    def _check_request_limit(self, callable_name: str | None = None, in_middleware: bool = True) -> None:
        if not (self.enabled and self.initialized):
            return  # the same answer Flask-Limiter reaches: every endpoint is exempt
        super()._check_request_limit(callable_name=callable_name, in_middleware=in_middleware)


# One limiter for the process, configured from the app's config by init_app;
# routes are decorated with ``limiter.limit(...)``.
limiter = SwitchedLimiter(key_func=get_remote_address)


def configured_limit(name: str) -> str:
    """A limit from the config, read per request so tests and settings can change it."""
    return str(current_app.config[name])


def api_rate_limit() -> str:
    """API submissions per client address."""
    return configured_limit("API_RATE_LIMIT")


def form_rate_limit() -> str:
    """Questionnaire submissions per client address."""
    return configured_limit("FORM_RATE_LIMIT")


def pdf_rate_limit() -> str:
    """Patient PDF downloads per client address."""
    return configured_limit("PDF_RATE_LIMIT")


def login_rate_limit() -> str:
    """Sign-in attempts per client address."""
    return configured_limit("LOGIN_RATE_LIMIT")


def login_account_rate_limit() -> str:
    """Sign-in attempts per account."""
    return configured_limit("LOGIN_ACCOUNT_RATE_LIMIT")


def login_account_key() -> str:
    """The account a sign-in attempt names (normalised) together with the sender's
    address: a count per account alone would let anyone lock its holder out."""
    email = normalise_email(request.form.get("email") or "")[:254]
    return f"login:{email}:{get_remote_address()}"


def init_app(app: Flask) -> None:
    """Configure the limiter for ``app`` (its settings are in ``settings``)."""
    limiter.init_app(app)
