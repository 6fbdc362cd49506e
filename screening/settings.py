"""Every setting's default, in one place. Each can be set from the environment
with the ``SCREENING_`` prefix (``Flask.config.from_prefixed_env``); the README's
Configuration table explains them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def default_settings(instance_path: str) -> dict[str, Any]:
    """The defaults for an app whose instance folder is ``instance_path``."""
    return {
        # Only for development and tests; production sets SCREENING_SECRET_KEY.
        "SECRET_KEY": "dev",
        "DATABASE": os.path.join(instance_path, "screening.sqlite"),
        "RULES_FILE": str(ROOT / "rules.yaml"),
        # FULL: every acknowledged screening survives a power cut (see storage.connect).
        "SQLITE_SYNCHRONOUS": "FULL",
        # With DATABASE=postgresql://...: connections each app process keeps open at most
        # (one per request being served; gunicorn's sync workers need 1, threads need more).
        "POSTGRES_POOL_SIZE": 4,
        # The consent and privacy texts patients sign (<kind>.<language>.md, see core.consent).
        "CONSENT_FOLDER": str(ROOT / "consent"),
        # Printed at the top of the patient's and the chart's PDF.
        "VALID_DAYS": 30,
        # The queue's "due" view: courses whose next session falls within this many days.
        "COURSE_DUE_DAYS": 14,
        # send-reminders: the pre-session check's link this many days before a planned session, and
        # the check-in's link this many hours after a session given (counted in whole days from its day).
        "PRE_SESSION_CHECK_DAYS": 3,
        "CHECK_IN_HOURS": 48,
        # How many reverse proxies sit in front of the app (0: none; see README "Production").
        "PROXY_COUNT": 0,
        "MAX_CONTENT_LENGTH": 64 * 1024,
        # Client addresses and networks that may read /metrics (others get 404): the
        # machine itself, where Prometheus or its agent scrapes gunicorn directly.
        "METRICS_ALLOW": ["127.0.0.1", "::1"],
        # The rules page accepts a candidate rule file this large (the shipped one is ~100 KB).
        "RULES_UPLOAD_MAX_BYTES": 1024 * 1024,
        # Host names the app answers to (Flask's TRUSTED_HOSTS; None: any); every link the
        # app makes starts with PUBLIC_URL (below) when it is set.
        "TRUSTED_HOSTS": None,
        # Days a patient's result link works.
        "RESULT_LINK_DAYS": 90,
        # A patient may take their time over the questionnaire: the CSRF token
        # lives as long as the session rather than one hour.
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        # A reception tablet registered as a kiosk (/practitioner/devices): seconds without a touch
        # after which its questionnaire or result clears itself for the next patient.
        "KIOSK_IDLE_SECONDS": 120,
        # Seconds without a request after which a practitioner is signed out.
        "IDLE_TIMEOUT": 30 * 60,
        # Two-factor sign-in (TOTP): always for administrators; for everyone when true.
        "REQUIRE_2FA": False,
        "ADMINS_REQUIRE_2FA": True,
        # Hours a set-password link (new account, reset) works.
        "ACCOUNT_LINK_HOURS": 72,
        # Seconds after sign-in at which a session ends however busy it is.
        "SESSION_MAX_AGE": 12 * 60 * 60,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Cookies only over HTTPS; `make run` (plain HTTP on 127.0.0.1) turns this off.
        "SESSION_COOKIE_SECURE": True,
        # Flask-Limiter: set explicitly rather than left to the limiter, which
        # remembers the last app's setting and warns when it picks memory itself.
        "RATELIMIT_ENABLED": True,
        # Shared by every worker (web/limit_storage.py): the limits hold across gunicorn's processes.
        "RATELIMIT_STORAGE_URI": "sqlite:///" + os.path.join(instance_path, "ratelimits.sqlite"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # A shared store that stops answering (Redis down) is no reason to refuse patients:
        # limits then count per process in memory until it is back (the lockout is in the database).
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "API_RATE_LIMIT": "30 per minute",
        "FORM_RATE_LIMIT": "20 per minute",
        "PDF_RATE_LIMIT": "10 per minute",
        "LOGIN_RATE_LIMIT": "10 per minute",
        "LOGIN_ACCOUNT_RATE_LIMIT": "20 per hour",
        # Failed sign-ins in a row, per account and client address, after which
        # that pair waits LOGIN_DELAY_SECONDS, doubling up to LOGIN_LOCK_MINUTES.
        "LOGIN_LOCK_AFTER": 5,
        "LOGIN_DELAY_SECONDS": 30,
        "LOGIN_LOCK_MINUTES": 15,
        # werkzeug's hash method for staff passwords; tests use a cheap one.
        "PASSWORD_HASH_METHOD": "scrypt",
        # The clinic's name, contact details, booking link, working days and time zone (see clinic.yaml:
        # the zone is the file's `timezone:`, not a setting).
        "CLINIC_FILE": str(ROOT / "clinic.yaml"),
        # The clinic's devices and its protocol: the setting ranges per procedure and skin type that a
        # session is checked against (outside them, the practitioner gives a reason).
        "DEVICES_FILE": str(ROOT / "devices.yaml"),
        # Seconds between a process's looks at the rule file, clinic file and consent texts for edits
        # (web/reload.py: a stat of each, from a request); 0: at every request.
        "CONFIG_CHECK_SECONDS": 1,
        # Touched by `flask reload` (and gunicorn's SIGHUP): every process reads the files at its next look.
        "RELOAD_STAMP": os.path.join(instance_path, "reload.stamp"),
        # The public address every link the app makes starts with (https://screening.example.com/:
        # result links, API and FHIR URLs, e-mails, webhooks); empty: the current request's address.
        # Required to serve with mail or webhooks on.
        "PUBLIC_URL": "",
        # Where e-mail goes: "smtp" (MAIL_SERVER), "mailbox" (one .eml file per message in
        # MAIL_FOLDER, read on the deliveries page; `make run` without a server), "none"; empty:
        # "smtp" when MAIL_SERVER is set, else "none" (nothing is queued or offered).
        "MAIL_TRANSPORT": "",
        "MAIL_FOLDER": os.path.join(instance_path, "mail"),
        # Outgoing mail over SMTP (Flask-Mail's names).
        "MAIL_SERVER": "",
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,
        "MAIL_USERNAME": "",
        "MAIL_PASSWORD": "",
        "MAIL_DEFAULT_SENDER": "",
        "MAIL_TIMEOUT": 10,
        # Staff told of screenings waiting for review: 0 one message each, N a digest every N minutes.
        "STAFF_DIGEST_MINUTES": 0,
        # The clinic's booking system or CRM: events POSTed as signed JSON (no URL: none are queued).
        "WEBHOOK_URL": "",
        "WEBHOOK_SECRET": "",
        "WEBHOOK_TIMEOUT": 10,
        # The outbox's sender: a thread in each served worker (false: run `flask send-mail` from cron).
        "OUTBOX_BACKGROUND": True,
        # Retries wait RETRY_SECONDS, doubling up to MAX_RETRY_SECONDS; given up after MAX_ATTEMPTS.
        "OUTBOX_RETRY_SECONDS": 30,
        "OUTBOX_MAX_RETRY_SECONDS": 3600,
        "OUTBOX_MAX_ATTEMPTS": 15,
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
    }
