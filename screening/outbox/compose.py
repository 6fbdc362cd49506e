"""What the app tells patients, staff and the clinic's systems, queued in the
transaction of the change that causes it (``storage.enqueue_message``).

E-mails carry a link and a reference code, never a condition or an answer;
patients get them in the language they used, staff in the rule file's first.
Webhook bodies carry the verdict's status and times and the API URL to fetch
the rest with a token, never answers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from .. import storage
from ..core.facts import current_status, needs_review
from ..core.model import pick_text
from ..storage import Database
from ..web.clinic import get_clinic, readable_time
from ..web.links import base_url, external_url
from ..web.ruleset import get_ruleset
from .links import seal_token, unseal_token

MAIL_TRANSPORTS = ("smtp", "mailbox", "none")


def mail_transport(config: Mapping[str, Any]) -> str:
    """Where e-mail goes: ``MAIL_TRANSPORT`` when set, else "smtp" with a ``MAIL_SERVER`` and "none" without."""
    chosen = str(config.get("MAIL_TRANSPORT") or "").strip().lower()
    if chosen:
        return chosen
    return "smtp" if config.get("MAIL_SERVER") else "none"


def mail_enabled() -> bool:
    """Whether e-mail is on (over SMTP or into the local mailbox); without it nothing is queued or offered."""
    return mail_transport(current_app.config) != "none"


def webhooks_enabled() -> bool:
    """Whether a webhook URL is configured."""
    return bool(current_app.config.get("WEBHOOK_URL"))


def queue_mail(
    db: Database,
    event: str,
    recipient: str,
    language: str,
    *,
    screening_id: int | None,
    subject: str,
    paragraphs: list[str],
    link: str | None = None,
    link_label: str = "",
    after: tuple[str, ...] = (),
) -> int:
    """Queue one e-mail (plain text and HTML from the mail templates) in the outbox; return its id."""
    context = {
        "subject": subject,
        "paragraphs": paragraphs,
        "link": link,
        "link_label": link_label,
        "after": after,
        "clinic": get_clinic(),
        "language": language,
    }
    return storage.enqueue_message(
        db,
        "mail",
        event,
        recipient,
        render_template("mail/message.txt", **context),
        screening_id=screening_id,
        subject=subject,
        html=render_template("mail/message.html", **context),
    )


def _keep_line(reference: str) -> tuple[str, ...]:
    return (
        _("Your reference code: %(reference)s.", reference=reference),
        _("Keep this e-mail: the link is the only way back to your result. Please do not share it."),
    )


def _screened_line(db: Database, screening_id: int) -> str:
    """When the questionnaire was filled in, on the clinic's clock with its zone named (the
    reader may be elsewhere); in the locale in force."""
    screening = storage.get_screening(db, screening_id)
    assert screening is not None, "queued in the transaction that stored the screening, or after it"
    return str(_("Questionnaire filled in: %(time)s.", time=readable_time(screening["created_at"])))


def queue_result_link(db: Database, screening_id: int, reference: str, token: str, email: str, language: str) -> int:
    """E-mail the patient the link to their result, and keep it sealed for the review message."""
    base = base_url()
    storage.save_patient_notice(db, screening_id, sealed_token=seal_token(token), base_url=base, link=True)
    clinic = get_clinic()
    with force_locale(language):
        return queue_mail(
            db,
            "patient.link",
            email,
            language,
            screening_id=screening_id,
            subject=_("Your screening result at %(clinic)s", clinic=pick_text(clinic.name, language)),
            paragraphs=[
                _("You asked us to e-mail you the link to your screening result."),
                _screened_line(db, screening_id),
            ],
            link=external_url("patient.result", base, token=token),
            link_label=_("Open your result"),
            after=_keep_line(reference),
        )


def queue_staff_notice(db: Database, screening_id: int, reference: str) -> int | None:
    """Tell the clinic's staff addresses that a screening waits for review (None: no addresses)."""
    clinic = get_clinic()
    if not clinic.staff_emails:
        return None
    language = get_ruleset().languages[0]
    with force_locale(language):
        return queue_mail(
            db,
            "staff.review",
            ", ".join(clinic.staff_emails),
            language,
            screening_id=screening_id,
            subject=_("A screening waits for review: %(reference)s", reference=reference),
            paragraphs=[
                _(
                    "A screening needs a practitioner's decision (reference %(reference)s). The patient was told "
                    "to expect contact within %(days)s working days.",
                    reference=reference,
                    days=clinic.reply_within_working_days,
                ),
                _screened_line(db, screening_id),
            ],
            link=external_url("practitioner.detail", reference=reference),
            link_label=_("Open the screening"),
        )


DIGEST_EVENT = "staff.digest"


def queue_digest_item(db: Database, screening_id: int, reference: str) -> int | None:
    """Hold a screening for the staff's next digest, sent ``STAFF_DIGEST_MINUTES`` after its first item."""
    clinic = get_clinic()
    if not clinic.staff_emails:
        return None
    minutes = int(current_app.config["STAFF_DIGEST_MINUTES"])
    return storage.enqueue_message(
        db,
        "mail",
        DIGEST_EVENT,
        ", ".join(clinic.staff_emails),
        # The item's line, complete: the digest is composed outside any request.
        f"{reference}: {external_url('practitioner.detail', reference=reference)}",
        screening_id=screening_id,
        delay=minutes * 60,
    )


def render_digest(items: list[str]) -> tuple[str, str, str]:
    """The staff digest's subject, text and HTML for its item lines."""
    clinic = get_clinic()
    language = get_ruleset().languages[0]
    with force_locale(language):
        subject = _("Screenings waiting for review: %(num)s", num=len(items))
        context = {
            "subject": subject,
            "paragraphs": [
                _(
                    "Screenings that need a practitioner's decision. Patients were told to expect contact within "
                    "%(days)s working days.",
                    days=clinic.reply_within_working_days,
                ),
                *items,
            ],
            "link": None,
            "link_label": "",
            "after": (),
            "clinic": clinic,
            "language": language,
        }
        return subject, render_template("mail/message.txt", **context), render_template("mail/message.html", **context)


def _queue_patient_mail(
    db: Database,
    event: str,
    screening: storage.ScreeningRecord,
    email: str,
    words: Callable[[str], dict[str, Any]],
) -> int:
    """Queue an e-mail to a screening's patient in the language they used.

    ``words`` gets the clinic's name and returns ``queue_mail``'s subject,
    paragraphs, link and lines after it; it runs inside the patient's locale so
    its texts are translated into it.
    """
    language = screening["language"] or get_ruleset().languages[0]
    with force_locale(language):
        content = words(pick_text(get_clinic().name, language))
        return queue_mail(db, event, email, language, screening_id=screening["id"], **content)


def queue_reviewed_notice(db: Database, screening: storage.ScreeningRecord) -> int | None:
    """Tell a patient who asked for e-mail that their screening was reviewed, with their link."""
    notice = storage.get_patient_notice(db, screening["id"])
    token = unseal_token(notice["sealed_token"]) if notice else None
    if notice is None or token is None or not screening["contact_email"]:
        return None

    def words(clinic: str) -> dict[str, Any]:
        return {
            "subject": _("Your screening has been reviewed"),
            "paragraphs": [
                _(
                    "A practitioner at %(clinic)s has reviewed your screening. Your result page shows their "
                    "decision and what to do next.",
                    clinic=clinic,
                )
            ],
            "link": external_url("patient.result", notice["base_url"], token=token),
            "link_label": _("See your result"),
            "after": _keep_line(screening["reference"]),
        }

    return _queue_patient_mail(db, "patient.reviewed", screening, screening["contact_email"], words)


def queue_reminder(db: Database, screening: storage.ScreeningRecord, base: str | None) -> int | None:
    """Remind a deferred patient, on their re-screen date, that they may fill in the questionnaire again."""
    if not screening["contact_email"]:
        return None

    def words(clinic: str) -> dict[str, Any]:
        return {
            "subject": _("You can fill in the screening questionnaire again"),
            "paragraphs": [
                _(
                    "You asked us to remind you: from today you can fill in the questionnaire of %(clinic)s again "
                    "and get a new result.",
                    clinic=clinic,
                )
            ],
            "link": external_url("patient.questionnaire", base),
            "link_label": _("Start the questionnaire"),
            "after": (_("Your earlier reference code: %(reference)s.", reference=screening["reference"]),),
        }

    return _queue_patient_mail(db, "patient.reminder", screening, screening["contact_email"], words)


# How long the "Is this you?" link works: long enough for a mailbox read weekly, no longer.
RECORD_LINK_DAYS = 7


def queue_record_link(db: Database, screening_id: int) -> int | None:
    """Ask the owner of a patient record, at the address the record holds, whether a screening that
    matched it on typed e-mail and date of birth is theirs, with a one-time link (None: nothing to ask)."""
    screening = storage.get_screening(db, screening_id)
    assert screening is not None, "queued in the transaction that stored the screening"
    if screening["patient_link"] != storage.SUGGESTED_LINK or screening["patient_id"] is None:
        return None
    address = storage.record_email_for(db, screening)
    if address is None:
        return None  # matched on the phone: a practitioner confirms it
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=RECORD_LINK_DAYS)
    token = storage.create_record_link_request(
        db, screening_id, screening["patient_id"], expires.isoformat(timespec="microseconds")
    )

    def words(clinic: str) -> dict[str, Any]:
        return {
            "subject": _("Is this you? Link your new screening to your record"),
            "paragraphs": [
                _(
                    "A screening questionnaire was filled in at %(clinic)s with this e-mail address and the date of "
                    "birth on your patient record. If it was you, follow the link to add the new screening to your "
                    "record, so that the clinic sees it with your earlier screenings and your course.",
                    clinic=clinic,
                ),
                _(
                    "If it was not you, do nothing: the new screening stays apart from your record. The link works "
                    "once, for %(days)s days.",
                    days=RECORD_LINK_DAYS,
                ),
            ],
            "link": external_url("patient.confirm_record_link", link_token=token),
            "link_label": _("Link my new screening to my record"),
        }

    return _queue_patient_mail(db, "patient.record_link", screening, address, words)


def webhook_body(event: str, screening: storage.ScreeningRecord) -> str:
    """The JSON a webhook carries: what happened, never the answers."""
    payload: dict[str, Any] = {
        "event": event,
        "reference": screening["reference"],
        "status": screening["status"],
        "decided_status": screening["decided_status"],
        "decided_defer_until": screening["decided_defer_until"],
        "current_status": current_status(screening),
        "reviewed": bool(screening["reviewed"]),
        "rules_version": screening["rules_version"],
        "rescreen_after": screening["rescreen_after"],
        "created_at": screening["created_at"],
        "reviewed_at": screening["reviewed_at"],
        # Fetch the rest with an API token (flask create-api-token).
        "api_url": external_url("api.get_screening", reference=screening["reference"]),
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def queue_webhook(db: Database, event: str, screening_id: int) -> int | None:
    """Queue a webhook event about a screening (None: no webhook configured)."""
    if not webhooks_enabled():
        return None
    screening = storage.get_screening(db, screening_id)
    assert screening is not None, "queued in the transaction that stored the screening"
    return storage.enqueue_message(
        db,
        "webhook",
        event,
        str(current_app.config["WEBHOOK_URL"]),
        webhook_body(event, screening),
        screening_id=screening_id,
    )


def queue_screening_created(
    db: Database,
    saved: storage.SavedScreening,
    status: str,
    email: str,
    language: str,
    *,
    send_link: bool,
    flagged: bool = False,
) -> None:
    """Everything a new screening sets off: the patient's link, the question to a record's owner
    whether a suggested match is theirs, the staff notice (a review, or answers that contradict
    the same patient's recent ones: ``flagged``), the webhook."""
    if mail_enabled():
        if send_link and email:
            queue_result_link(db, saved.id, saved.reference, saved.token, email, language)
        queue_record_link(db, saved.id)
        if needs_review(status, reviewed=False, flagged=flagged):
            if int(current_app.config["STAFF_DIGEST_MINUTES"]) > 0:
                queue_digest_item(db, saved.id, saved.reference)
            else:
                queue_staff_notice(db, saved.id, saved.reference)
    queue_webhook(db, "screening.created", saved.id)


def queue_screening_reviewed(db: Database, screening_id: int) -> None:
    """Everything a decision sets off: the patient's message (if they asked for e-mail) and the webhook."""
    screening = storage.get_screening(db, screening_id)
    assert screening is not None, "queued in the transaction that recorded the decision"
    if mail_enabled():
        queue_reviewed_notice(db, screening)
    queue_webhook(db, "screening.reviewed", screening_id)
