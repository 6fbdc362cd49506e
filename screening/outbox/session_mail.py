"""The e-mails around each session of a course, queued by ``send-reminders``: the check
before a planned session, the check-in after a session given, and the staff's alerts
when either shows something (``patient.session_checks`` takes the answers).

Each planned session gets one pre-session link and each session given one check-in
link, however often the command runs: the link's row is made in the transaction that
queues its e-mail. Like every e-mail of the app, these carry a link, never an answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, cast

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from .. import storage
from ..core.course import next_session_on
from ..core.model import pick_text
from ..storage import Database
from ..storage import session_checks as checks
from ..web.clinic import get_clinic
from ..web.i18n import format_iso_date
from ..web.links import external_url
from ..web.ruleset import get_ruleset
from .compose import queue_mail

# How long a check-in link works: long enough to answer a late worry, no longer.
CHECK_IN_LINK_DAYS = 14
# Sessions given longer ago than this before the check-in's day get no link (the first run after an upgrade).
CHECK_IN_CATCH_UP_DAYS = 7


def _end_of(day: dt.date) -> str:
    """A link for a day works until the end of the day after it, in UTC: the patient may answer on the way in."""
    return dt.datetime.combine(day + dt.timedelta(days=2), dt.time(), dt.UTC).isoformat(timespec="microseconds")


def base_screening(db: Database, patient_id: int, procedure: str | None) -> storage.ScreeningRecord | None:
    """The screening a pre-session check starts from and mails: the patient's latest for the procedure
    whose link to the record is proven (a typed match alone gets no link), with an e-mail address."""
    screenings: list[storage.ScreeningRecord] = storage.list_patient_screenings(db, patient_id)
    for screening in reversed(screenings):
        same_procedure = procedure is None or str(screening.get("procedure") or procedure) == procedure
        if same_procedure and storage.link_is_proven(screening) and screening["contact_email"]:
            return cast(storage.ScreeningRecord, screening)
    return None


def _patient_mail(
    db: Database, event: str, screening: storage.ScreeningRecord, subject: str, paragraphs: list[str], **link: Any
) -> int:
    language = screening["language"] or get_ruleset().languages[0]
    return queue_mail(
        db,
        event,
        str(screening["contact_email"]),
        language,
        screening_id=screening["id"],
        subject=subject,
        paragraphs=paragraphs,
        **link,
    )


def queue_pre_session_checks(db: Database, today: dt.date, *, dry_run: bool) -> list[str]:
    """A link to each patient whose next planned session is 1 to ``PRE_SESSION_CHECK_DAYS`` days
    ahead, asking the questions whose answers go stale; the lines to print."""
    ahead = int(current_app.config["PRE_SESSION_CHECK_DAYS"])
    lines = []
    for course in storage.list_open_courses(db):
        last = dt.date.fromisoformat(course["last_given_on"]) if course["last_given_on"] else None
        planned_on = next_session_on(dt.date.fromisoformat(course["started_on"]), last, course["interval_days"])
        if not 1 <= (planned_on - today).days <= ahead:
            continue
        number = int(course["sessions_given"]) + 1
        screening = base_screening(db, course["patient_id"], course.get("procedure"))
        if screening is None:
            continue  # no proven address: reception calls instead
        if dry_run:
            lines.append(f"{screening['reference']}: pre-session check for session {number} (not sent: dry run)")
            continue
        with storage.write_transaction(db):
            token = checks.create_pre_session_check(
                db, course["id"], number, planned_on.isoformat(), _end_of(planned_on)
            )
            if token is None:
                continue  # this planned session has had its link
            with force_locale(screening["language"] or get_ruleset().languages[0]):
                clinic = pick_text(get_clinic().name, screening["language"] or get_ruleset().languages[0])
                _patient_mail(
                    db,
                    "patient.pre_session",
                    screening,
                    _(
                        "Before your session on %(date)s: has anything changed?",
                        date=format_iso_date(planned_on.isoformat()),
                    ),
                    [
                        _(
                            "Your next session at %(clinic)s is planned for %(date)s. A few answers of your "
                            "questionnaire can change from month to month (a tan, a new medicine, a pregnancy): "
                            "please answer these questions again before you come.",
                            clinic=clinic,
                            date=format_iso_date(planned_on.isoformat()),
                        ),
                        _(
                            "It takes a minute. If something has changed, we will tell you at once whether the "
                            "session can go ahead."
                        ),
                    ],
                    link=external_url("patient.pre_session_check", check_token=token),
                    link_label=_("Answer the questions"),
                )
        lines.append(f"{screening['reference']}: pre-session check queued for session {number} on {planned_on}")
    return lines


def queue_check_ins(db: Database, today: dt.date, *, dry_run: bool) -> list[str]:
    """A check-in link for each session given at least ``CHECK_IN_HOURS`` ago (counted in whole days
    from the session day) and not more than a week before that; the lines to print."""
    wait_days = -(-int(current_app.config["CHECK_IN_HOURS"]) // 24)
    last_day = today - dt.timedelta(days=wait_days)
    first_day = last_day - dt.timedelta(days=CHECK_IN_CATCH_UP_DAYS)
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(days=CHECK_IN_LINK_DAYS)).isoformat(timespec="microseconds")
    lines = []
    for session in checks.list_sessions_without_check_in(db, first_day.isoformat(), last_day.isoformat()):
        if not session["contact_email"]:
            continue
        if dry_run:
            lines.append(f"{session['reference']}: check-in for session {session['number']} (not sent: dry run)")
            continue
        screening = storage.get_screening(db, session["screening_id"])
        assert screening is not None, "a session's screening is erased with it"
        with storage.write_transaction(db):
            token = checks.create_check_in(db, session["id"], session["screening_id"], expires)
            language = screening["language"] or get_ruleset().languages[0]
            with force_locale(language):
                _patient_mail(
                    db,
                    "patient.check_in",
                    screening,
                    _("How is your skin after your session?"),
                    [
                        _(
                            "You had a session at %(clinic)s on %(date)s. Please tell us how your skin is now: "
                            "a few quick questions, so that we can help at once if something is not right.",
                            clinic=pick_text(get_clinic().name, language),
                            date=format_iso_date(session["given_on"]),
                        ),
                        _("If you are worried, do not wait for this form: call the clinic."),
                    ],
                    link=external_url("patient.check_in", check_token=token),
                    link_label=_("Tell us how your skin is"),
                )
        lines.append(f"{session['reference']}: check-in queued for session {session['number']}")
    return lines


def queue_staff_alert(
    db: Database, event: str, screening_id: int, reference: str, words: Callable[[], list[str]]
) -> int | None:
    """Tell the clinic's staff addresses what a pre-session check ("staff.pre_session") or a check-in
    ("staff.check_in") showed; ``words`` gives the paragraphs, in the staff's language (the rule
    file's first). None: no staff addresses."""
    clinic = get_clinic()
    if not clinic.staff_emails:
        return None
    language = get_ruleset().languages[0]
    with force_locale(language):
        subject = (
            _("A pre-session check changed a planned session: %(reference)s", reference=reference)
            if event == "staff.pre_session"
            else _("A check-in after a session needs attention: %(reference)s", reference=reference)
        )
        return queue_mail(
            db,
            event,
            ", ".join(clinic.staff_emails),
            language,
            screening_id=screening_id,
            subject=subject,
            paragraphs=words(),
            link=external_url("practitioner.detail", reference=reference) + "#course",
            link_label=_("Open the screening"),
        )
