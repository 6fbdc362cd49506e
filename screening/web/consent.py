"""The consent texts of the running app, and signatures taken from a request."""

from __future__ import annotations

from flask import Flask, request

from ..core.consent import (
    USER_AGENT_MAX,
    ConsentSet,
    ConsentText,
    Signature,
    SignedConsent,
    load_consent,
    text_identity,
)
from ..storage import utc_now
from .i18n import current_language
from .ruleset import get_ruleset, in_force


def get_consent(app: Flask | None = None) -> ConsentSet:
    """The consent and privacy texts in force (loaded at start-up, re-read when edited: ``web.reload``)."""
    consent: ConsentSet = in_force("consent", app)
    return consent


def consent_text(kind: str) -> ConsentText:
    """The text of ``kind`` ("consent" or "privacy") in the current language (a template global)."""
    return get_consent().text(kind, current_language())


def request_signature(typed_name: str) -> Signature:
    """A typed signature made now, from this request's client address and browser."""
    user_agent = request.headers.get("User-Agent", "")[:USER_AGENT_MAX] or None
    return Signature(
        typed_name=typed_name.strip(), signed_at=utc_now(), client_address=request.remote_addr, user_agent=user_agent
    )


def signed_consent(language: str, typed_name: str | None) -> SignedConsent:
    """The texts in ``language`` the patient agreed to, signed by ``typed_name`` if given."""
    texts = get_consent()
    signature = request_signature(typed_name) if typed_name else None
    return SignedConsent(texts.text("consent", language), texts.text("privacy", language), signature)


def init_app(app: Flask) -> None:
    """Load the texts in every language of the rule file; ``ConsentFileError`` stops the start-up."""
    app.extensions["consent"] = load_consent(app.config["CONSENT_FOLDER"], get_ruleset(app).languages)
    app.add_template_global(consent_text)
    app.add_template_global(text_identity)
