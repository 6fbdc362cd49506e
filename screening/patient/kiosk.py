"""Kiosk mode on the patient's pages: a reception tablet hands one patient after another
the questionnaire, and shows each only their own verdict, once.

On a kiosk (``web.kiosk``) every page is ``no-store`` and carries ``data-kiosk``
(the script then keeps no answers in the browser and clears the page when idle);
each start page begins a fresh session; token routes are refused (no result link
is opened, and so left in the history, on a shared tablet). A submission is
stored with source "kiosk" and its device, and the patient is sent to
``/kiosk/result``: the verdict in their words, bound to this device's session
until "Done" or ``KIOSK_IDLE_SECONDS``, with nothing to copy.
"""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from ..storage import get_screening
from ..web.audit import audit, screening_target
from ..web.db import get_db
from ..web.i18n import LANGUAGE_COOKIE
from ..web.kiosk import current_device, forbid_storing, idle_seconds, is_kiosk, shown_screening_id, start_fresh
from ..web.procedures import ruleset_of
from . import notices
from .result import sibling_results
from .views import bp


class DoneForm(FlaskForm):
    """Only the CSRF token: "Done" is a POST another page cannot forge."""


@bp.get("/kiosk/result")
def kiosk_result() -> ResponseReturnValue:
    """The verdict of the patient who just answered, in their words; once cleared, never again."""
    if not is_kiosk():
        abort(404)
    screening_id = shown_screening_id()
    screening = None if screening_id is None else get_screening(get_db(), screening_id)
    if screening is None:
        start_fresh()
        return render_template("patient/kiosk_result.html", screening=None, done_form=DoneForm()), 410
    device = current_device()
    siblings = sibling_results(screening)  # the other treatments screened from the same answers
    for shown in [screening, *(sibling["screening"] for sibling in siblings)]:
        audit(
            "screening.view",
            screening_target(shown["reference"]),
            {"via": "kiosk", "device": device["name"] if device else None},
            actor="patient",
        )
    return render_template(
        "patient/kiosk_result.html",
        screening=screening,
        ruleset=ruleset_of(screening),
        siblings=siblings,
        done_form=DoneForm(),
    )


@bp.post("/kiosk/done")
def kiosk_done() -> ResponseReturnValue:
    """The patient is done (or the page was idle): forget their result and language, back to the start."""
    if not DoneForm().validate_on_submit():
        abort(400)
    start_fresh()
    response = redirect(url_for("patient.index"), 303)
    response.delete_cookie(LANGUAGE_COOKIE)
    # Pages the browser kept for Back (bfcache) go too, on browsers that honour it.
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


def refuse_result_links() -> ResponseReturnValue | None:
    """On a kiosk, a result link is not opened (it would stay in the tablet's history): the start page."""
    if "token" in (request.view_args or {}) and is_kiosk():
        return redirect(url_for("patient.index"), 303)
    return None


def kiosk_context() -> dict[str, Any]:
    """What the templates need to know of the kiosk: the device, the idle time, where Done posts."""
    if not is_kiosk():
        return {"kiosk": None}
    return {"kiosk": {"idle": idle_seconds(), "start": url_for("patient.index"), "done": url_for("patient.kiosk_done")}}


def _no_store(response: Response) -> Response:
    return forbid_storing(response)


for _blueprint in (bp, notices.bp):
    _blueprint.before_request(refuse_result_links)
    _blueprint.after_request(_no_store)
bp.context_processor(kiosk_context)
