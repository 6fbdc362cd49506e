"""Every query of the app, behind functions named for what they do.

Views never hold SQL. This package is the storage API: callers import names
from here, never from its modules, which group the tables:

- ``connection``: opening the database, transactions, timestamps, token hashes
- ``schema``: every migration, in order, and ``migrate``
- ``records``: the typed rows the reads return
- ``screenings``: storing a screening and its verdict, reading it back
- ``reviews``: decisions on verdicts and day-of-session re-confirmations
- ``accounts``: practitioners, the login lockout, API tokens
- ``audit``: the audit log
- ``queue``: the queue's filters, pages, counts and chart
- ``lifecycle``: purge, erase and backup

Each function takes the connection ``connect`` returned as its first
argument and returns plain values, dataclasses or the dicts typed in
``records``, never cursors or rows, and raises the errors named here
(``StaleScreening``, ``ValueError``). A second backend, PostgreSQL say,
would be a sibling package implementing the same functions under the same
names with the same records, and this facade would import from the one the
settings choose; nothing above storage would change. (Two SQLite details
still show through: ``create_practitioner`` raises ``sqlite3.IntegrityError``
and the connection is a ``sqlite_utils.Database``.)
"""

from __future__ import annotations

# Re-exported because callers have always reached the patient's details
# through storage (storage.Patient) when saving a screening.
from ..core.people import Patient
from .account_links import create_account_link, live_account_link, use_account_link
from .accounts import (
    API_SCOPES,
    create_api_token,
    create_practitioner,
    get_api_token,
    get_practitioner,
    get_practitioner_by_email,
    has_live_api_token,
    list_practitioners,
    record_login_success,
    revoke_api_tokens,
    set_practitioner_active,
    set_practitioner_password,
    set_practitioner_role,
    touch_api_token,
)
from .audit import AuditFilter, list_audit, record_audit
from .connection import (
    MAX_ROW_ID,
    SYNCHRONOUS_LEVELS,
    StorageUnavailable,
    check_writable,
    connect,
    hash_token,
    is_storage_fault,
    utc_now,
    write_transaction,
)
from .idempotency import find_idempotency_key, record_idempotency_key
from .lifecycle import (
    SCREENING_CHILDREN,
    backup_database,
    count_screenings_before,
    erase_screening,
    purge_screenings,
)
from .queue import (
    ScreeningFilter,
    count_screenings_by_status,
    daily_status_counts,
    iter_screenings,
    list_screenings,
    queue_counts,
)
from .records import (
    ApiTokenRecord,
    AuditRecord,
    PractitionerRecord,
    PractitionerSummary,
    ReconfirmationRecord,
    ReviewRecord,
    ScreeningRecord,
    SessionRecord,
)
from .reviews import (
    Reconfirmation,
    add_review,
    list_reconfirmations,
    list_reviews,
    reconfirm_screening,
    review_screening,
)
from .schema import ROLE_COLUMNS, legacy_role_columns, migrate
from .screenings import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    SavedScreening,
    StaleScreening,
    count_screenings,
    get_screening,
    get_screening_by_reference,
    get_screening_by_token,
    new_reference,
    save_screening,
    screening_revision,
    verdict_columns,
)
from .sessions import end_session, end_sessions, get_session, list_open_sessions, start_session, touch_session
from .throttle import clear_failed_logins, login_blocked_until, record_failed_login
from .two_factor import accept_totp_step, enable_totp, use_recovery_code

__all__ = [
    "API_SCOPES",
    "MAX_ROW_ID",
    "REFERENCE_ALPHABET",
    "REFERENCE_LENGTH",
    "ROLE_COLUMNS",
    "SCREENING_CHILDREN",
    "SYNCHRONOUS_LEVELS",
    "ApiTokenRecord",
    "AuditFilter",
    "AuditRecord",
    "Patient",
    "PractitionerRecord",
    "PractitionerSummary",
    "Reconfirmation",
    "ReconfirmationRecord",
    "ReviewRecord",
    "SavedScreening",
    "ScreeningFilter",
    "ScreeningRecord",
    "SessionRecord",
    "StaleScreening",
    "StorageUnavailable",
    "accept_totp_step",
    "add_review",
    "backup_database",
    "check_writable",
    "clear_failed_logins",
    "connect",
    "count_screenings",
    "count_screenings_before",
    "count_screenings_by_status",
    "create_account_link",
    "create_api_token",
    "create_practitioner",
    "daily_status_counts",
    "enable_totp",
    "end_session",
    "end_sessions",
    "erase_screening",
    "find_idempotency_key",
    "get_api_token",
    "get_practitioner",
    "get_practitioner_by_email",
    "get_screening",
    "get_screening_by_reference",
    "get_screening_by_token",
    "get_session",
    "has_live_api_token",
    "hash_token",
    "is_storage_fault",
    "iter_screenings",
    "legacy_role_columns",
    "list_audit",
    "list_open_sessions",
    "list_practitioners",
    "list_reconfirmations",
    "list_reviews",
    "list_screenings",
    "live_account_link",
    "login_blocked_until",
    "migrate",
    "new_reference",
    "purge_screenings",
    "queue_counts",
    "reconfirm_screening",
    "record_audit",
    "record_failed_login",
    "record_idempotency_key",
    "record_login_success",
    "review_screening",
    "revoke_api_tokens",
    "save_screening",
    "screening_revision",
    "set_practitioner_active",
    "set_practitioner_password",
    "set_practitioner_role",
    "start_session",
    "touch_api_token",
    "touch_session",
    "use_account_link",
    "use_recovery_code",
    "utc_now",
    "verdict_columns",
    "write_transaction",
]
