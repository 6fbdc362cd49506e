"""PDF documents made from HTML templates (``templates/documents/``) with WeasyPrint.

The documents embed the DejaVu font the project ships in
``screening/static/fonts`` (Cyrillic included), styled by ``document.css``
beside this file, and fetch nothing else: the URL fetcher refuses every
address outside the fonts' folder, so a document can never reach the
network or read another file.
"""

from __future__ import annotations

import atexit
import functools
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Response, render_template
from markupsafe import Markup

from .. import storage
from ..core.consent import ConsentText, text_identity
from ..web.clinic import get_clinic, readable_time
from ..web.db import get_db

FONT_FOLDER = Path(__file__).resolve().parent.parent / "static" / "fonts"
STYLESHEET = Path(__file__).resolve().parent / "document.css"
PDF_MIMETYPE = "application/pdf"


class RefusedResource(ValueError):
    """A document asked for something other than the shipped fonts."""


def shipped_font(url: str) -> Path:
    """The shipped font file ``url`` names; ``RefusedResource`` for any other address."""
    parts = urlsplit(url)
    path = Path(unquote(parts.path)).resolve() if parts.scheme == "file" and not parts.netloc else None
    if path is None or not path.is_relative_to(FONT_FOLDER):
        raise RefusedResource(f"documents load only the shipped fonts, not {url[:200]}")
    return path


@functools.cache
def _fetcher_class() -> Any:
    from weasyprint.urls import URLFetcher  # WeasyPrint takes ~0.5 s to import: only when a PDF is made

    class ShippedFontsOnly(URLFetcher):
        """Fetches the shipped fonts; refuses every other address."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            return super().fetch(shipped_font(url).as_uri(), headers)

    return ShippedFontsOnly


def url_fetcher() -> Any:
    """WeasyPrint's URL fetcher for one document (it keeps per-request state): the shipped fonts only."""
    return _fetcher_class()(allowed_protocols=("file",), fail_on_errors=False)


class _Styles(threading.local):
    """The parsed stylesheet and its loaded fonts, once per thread: parsing them
    and registering the fonts is a sixth of a document's time, and WeasyPrint's
    font configuration is not meant to be shared between threads."""

    loaded: tuple[Any, Any] | None = None


_styles = _Styles()


@atexit.register
def _forget_styles() -> None:
    # WeasyPrint's font configuration deletes its temporary copy of the fonts when
    # collected: let that happen before the interpreter tears its modules down.
    _styles.loaded = None


def _stylesheet() -> tuple[Any, Any]:
    """(stylesheet, font configuration) of this thread, parsed on first use."""
    if _styles.loaded is None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        fonts = FontConfiguration()
        css = CSS(
            string=STYLESHEET.read_text(encoding="utf-8"),
            base_url=FONT_FOLDER.as_uri() + "/",
            url_fetcher=url_fetcher(),
            font_config=fonts,
        )
        _styles.loaded = (css, fonts)
    return _styles.loaded


def css_string(value: Any) -> Markup:
    """``value`` as a quoted CSS string, safe inside a <style> element (footer texts)."""
    text = str(value)
    escaped = "".join(c if c.isalnum() or c in " .,:;-–·()/+#" else f"\\{ord(c):x} " for c in text)
    return Markup(f'"{escaped}"')  # noqa: S704 - every character outside a safe set is a CSS escape


def document_time(timestamp: str | None) -> str:
    """A stored UTC timestamp in the clinic's time zone, as the reader's locale writes it, with the zone."""
    return readable_time(timestamp)


def _text(record: storage.ConsentTextRecord | None) -> ConsentText | None:
    return ConsentText(record["kind"], record["language"], record["version"], record["body"]) if record else None


def consent_context(screening: Mapping[str, Any]) -> dict[str, Any]:
    """What the documents show of the consent a screening's patient signed: the
    stored text (by its hash, whatever the files say today) and both identities."""
    db = get_db()
    signed = storage.get_consent_text(db, screening["consent_sha256"]) if screening.get("consent_sha256") else None
    privacy = storage.get_consent_text(db, screening["privacy_sha256"]) if screening.get("privacy_sha256") else None
    return {
        "signed_text": _text(signed),
        "signed_privacy": _text(privacy),
        "consent_identity": text_identity(screening.get("consent_version"), screening.get("consent_sha256")),
        "privacy_identity": text_identity(privacy["version"] if privacy else None, screening.get("privacy_sha256")),
    }


def render_pdf(template: str, **context: Any) -> bytes:
    """The template rendered to an A4 PDF (the template sets the page)."""
    html = render_template(
        template,
        css_string=css_string,
        document_time=document_time,
        clinic=get_clinic(),
        **context,
    )
    from weasyprint import HTML

    css, fonts = _stylesheet()
    pdf: bytes = HTML(string=html, url_fetcher=url_fetcher()).write_pdf(stylesheets=[css], font_config=fonts)
    return pdf


def pdf_response(pdf: bytes, filename: str) -> Response:
    """A PDF download (never cached: it holds patient data)."""
    response = Response(pdf, mimetype=PDF_MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
