"""The staff's own account mails: a pause after failed sign-ins, and the invitation or reset
link that sets a password. They name no patient."""

from __future__ import annotations

from flask_babel import force_locale
from flask_babel import gettext as _

from ..core.model import pick_text
from ..storage import Database
from ..web.clinic import get_clinic
from ..web.i18n import current_language
from ..web.ruleset import get_ruleset
from .compose import mail_enabled, queue_mail


def queue_failed_sign_ins_notice(db: Database, email: str, failures: int, address: str, minutes: int) -> int | None:
    """Tell an account holder that sign-ins to their account from one address were paused (None: no mail)."""
    if not mail_enabled():
        return None
    clinic = get_clinic()
    language = current_language()
    with force_locale(language):
        return queue_mail(
            db,
            "account.failed_sign_ins",
            email,
            language,
            screening_id=None,
            subject=_("Failed sign-ins to your account at %(clinic)s", clinic=pick_text(clinic.name, language)),
            paragraphs=[
                _(
                    "There were %(failures)s failed attempts to sign in to your account from the address "
                    "%(address)s; sign-ins from that address are paused for %(minutes)s minutes. Sign-ins from "
                    "other addresses still work.",
                    failures=failures,
                    address=address,
                    minutes=minutes,
                ),
                _(
                    "If this was you, wait and try again, or ask an administrator to reset your password. If it "
                    "was not you, tell the clinic's administrator."
                ),
            ],
        )


def queue_account_link(db: Database, email: str, link: str, purpose: str, hours: int) -> int | None:
    """E-mail a staff member their one-time set-password link: a new account (``purpose`` "invite") or
    a reset one (None: no mail). In the rule file's first language, as every staff message."""
    if not mail_enabled():
        return None
    clinic = get_clinic()
    language = get_ruleset().languages[0]
    with force_locale(language):
        name = pick_text(clinic.name, language)
        if purpose == "invite":
            subject = _("Your account at %(clinic)s", clinic=name)
            first = _(
                "An administrator at %(clinic)s created an account for you (%(email)s). Follow the link to choose "
                "your password.",
                clinic=name,
                email=email,
            )
        else:
            subject = _("Set a new password for your account at %(clinic)s", clinic=name)
            first = _(
                "An administrator at %(clinic)s reset the password of your account (%(email)s): the old one no "
                "longer works. Follow the link to choose a new one.",
                clinic=name,
                email=email,
            )
        return queue_mail(
            db,
            f"account.{purpose}",
            email,
            language,
            screening_id=None,
            subject=subject,
            paragraphs=[
                first,
                _(
                    "The link works once, for %(hours)s hours. If you did not expect this message, tell the "
                    "clinic's administrator.",
                    hours=hours,
                ),
            ],
            link=link,
            link_label=_("Set your password"),
        )
