"""Every query of the app, behind functions named for what they do.

Views never hold SQL. This package is the storage API: callers import names
from here, never from its modules, which group the tables:

- ``connection``: opening the database, transactions, timestamps, token hashes
- ``schema``: every migration, in order, and ``migrate`` (``schema_course``: those of the patient record and courses)
- ``records``: the typed rows the reads return
- ``screenings``: storing a screening and its verdict, reading it back
- ``reviews``: decisions on verdicts and day-of-session re-confirmations
- ``accounts``: practitioners, the login lockout, API tokens
- ``audit``: the audit log
- ``queue``: the queue's filters, pages, counts and chart
- ``lifecycle``: purge, erase and backup
- ``outbox``: queued e-mails and webhooks, and what patients asked to be e-mailed
- ``consent``: the consent and privacy texts patients signed, by hash
- ``integrity``: each screening's SHA-256 over answers, verdict, consent and signatures
- ``patients``: the patient record linking one person's screenings
- ``courses``: courses of sessions and the sessions given
- ``devices``: reception tablets registered as kiosks (m040)
- ``rule_versions``: rule files proposed, approved and restored in the app (m041)

Each function takes the connection ``connect`` returned as its first
argument and returns plain values, dataclasses or the dicts typed in
``records``, never cursors or rows, and raises the errors named here
(``StaleScreening``, ``ValueError``). The connection is either backend
(``Database``): an SQLite file through sqlite-utils, or PostgreSQL through
psycopg (``postgres``: the adapter that gives a psycopg connection the same
``execute``/``query`` shape, with errors as sqlite3's classes, so
``create_practitioner`` raises ``sqlite3.IntegrityError`` on both). The
same SQL runs on both; the few statements spelled differently ask
``dialect_of``, and each backend has its schema migrations
(``schema`` for SQLite, ``schema_postgresql``).
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
    set_medical_director,
    set_practitioner_active,
    set_practitioner_password,
    set_practitioner_role,
    touch_api_token,
)
from .audit import AuditFilter, list_audit, record_audit
from .connection import (
    MAX_ROW_ID,
    SYNCHRONOUS_LEVELS,
    Database,
    check_writable,
    connect,
    dialect_of,
    hash_token,
    is_storage_fault,
    utc_now,
    write_transaction,
)
from .consent import ConsentTextRecord, get_consent_text, store_consent_text
from .copy import COPY_ORDER, CopyRefused, check_copy, compare_counts, copy_database
from .courses import (
    CourseRecord,
    CourseSessionRecord,
    DuplicateSession,
    SessionDetails,
    get_current_course,
    list_course_sessions,
    list_open_courses,
    list_screening_sessions,
    list_sessions_for_export,
    record_session,
    start_course,
)
from .devices import (
    DEVICE_NAME_COLUMN,
    find_device,
    get_device,
    list_devices,
    register_device,
    revoke_device,
    touch_device,
)
from .errors import PostgresUnavailable, SchemaTooNew, StorageUnavailable
from .findings import count_flagged_undecided, list_earlier_screenings, record_findings
from .health import check_database, known_migrations, outbox_backlog, pending_migrations, screenings_by_status
from .idempotency import find_idempotency_key, record_idempotency_key
from .integrity import current_integrity, integrity_digest, integrity_matches, store_integrity
from .lifecycle import (
    CHILD_TABLES,
    backup_database,
    count_screenings_before,
    erase_screening,
    finish_erasures,
    purge_screenings,
    verify_backup,
)
from .outbox import (
    OutboxRecord,
    PatientNoticeRecord,
    claim_messages,
    due_reminders,
    enqueue_message,
    get_outbox_message,
    get_patient_notice,
    list_outbox,
    mark_delivered,
    mark_failed,
    mark_reminded,
    next_attempt_in,
    resend_message,
    save_patient_notice,
)
from .patch_tests import (
    PATCH_RESULTS,
    PatchAlreadyRead,
    PatchTestRecord,
    get_patch_test,
    list_patch_tests,
    list_waiting_patch_tests,
    record_patch_readout,
    record_patch_test,
)
from .patients import (
    CONFIRMED_LINK,
    OWN_LINK,
    PATIENT_LINKS,
    SUGGESTED_LINK,
    UnknownPatient,
    confirm_patient_link,
    create_record_link_request,
    get_record_link_request,
    link_is_proven,
    list_patient_screenings,
    match_keys,
    move_screening,
    patient_summary,
    record_email_for,
    use_record_link_request,
)
from .postgres import describe_url, is_postgres_url, open_pool, pooled_database
from .queue import (
    ScreeningFilter,
    adjacent_reference,
    count_matches,
    count_screenings_by_status,
    daily_status_counts,
    iter_screenings,
    list_screenings,
    needs_counting,
    queue_counts,
)
from .records import (
    ApiTokenRecord,
    ApprovedRules,
    AuditRecord,
    DeviceRecord,
    PractitionerRecord,
    PractitionerSummary,
    ReconfirmationRecord,
    RecordLinkRequestRecord,
    ReviewRecord,
    RuleVersionRecord,
    ScreeningRecord,
    SessionRecord,
)
from .restore import LiveDatabase, RestoredBackup, RestoreRefused, restore_sqlite_backup
from .reviews import (
    Reconfirmation,
    add_review,
    latest_reviews,
    list_reconfirmations,
    list_reviews,
    reconfirm_screening,
    review_screening,
)
from .rule_versions import (
    RULE_VERSION_STATES,
    RULES_APPROVED,
    RULES_PROPOSED,
    RULES_SUPERSEDED,
    RuleVersionDecided,
    approve_rule_version,
    get_rule_version,
    latest_approved_rules,
    list_rule_versions,
    propose_rule_version,
    reject_rule_version,
    text_sha256,
    withdraw_rule_version,
)
from .schema import migrate
from .schema_roles import ROLE_COLUMNS, legacy_role_columns
from .screenings import (
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    SavedScreening,
    StaleScreening,
    count_screenings,
    get_screening,
    get_screening_by_reference,
    get_screening_by_token,
    list_submission_screenings,
    new_reference,
    new_submission,
    save_screening,
    screening_revision,
    verdict_columns,
)
from .sessions import end_session, end_sessions, get_session, list_open_sessions, start_session, touch_session
from .throttle import clear_failed_logins, login_blocked_until, record_failed_login
from .two_factor import accept_totp_step, enable_totp, use_recovery_code

__all__ = [
    "API_SCOPES",
    "CHILD_TABLES",
    "CONFIRMED_LINK",
    "COPY_ORDER",
    "DEVICE_NAME_COLUMN",
    "MAX_ROW_ID",
    "OWN_LINK",
    "PATCH_RESULTS",
    "PATIENT_LINKS",
    "REFERENCE_ALPHABET",
    "REFERENCE_LENGTH",
    "ROLE_COLUMNS",
    "RULES_APPROVED",
    "RULES_PROPOSED",
    "RULES_SUPERSEDED",
    "RULE_VERSION_STATES",
    "SUGGESTED_LINK",
    "SYNCHRONOUS_LEVELS",
    "ApiTokenRecord",
    "ApprovedRules",
    "AuditFilter",
    "AuditRecord",
    "ConsentTextRecord",
    "CopyRefused",
    "CourseRecord",
    "CourseSessionRecord",
    "Database",
    "DeviceRecord",
    "DuplicateSession",
    "LiveDatabase",
    "OutboxRecord",
    "PatchAlreadyRead",
    "PatchTestRecord",
    "Patient",
    "PatientNoticeRecord",
    "PostgresUnavailable",
    "PractitionerRecord",
    "PractitionerSummary",
    "Reconfirmation",
    "ReconfirmationRecord",
    "RecordLinkRequestRecord",
    "RestoreRefused",
    "RestoredBackup",
    "ReviewRecord",
    "RuleVersionDecided",
    "RuleVersionRecord",
    "SavedScreening",
    "SchemaTooNew",
    "ScreeningFilter",
    "ScreeningRecord",
    "SessionDetails",
    "SessionRecord",
    "StaleScreening",
    "StorageUnavailable",
    "UnknownPatient",
    "accept_totp_step",
    "add_review",
    "adjacent_reference",
    "approve_rule_version",
    "backup_database",
    "check_copy",
    "check_database",
    "check_writable",
    "claim_messages",
    "clear_failed_logins",
    "compare_counts",
    "confirm_patient_link",
    "connect",
    "copy_database",
    "count_flagged_undecided",
    "count_matches",
    "count_screenings",
    "count_screenings_before",
    "count_screenings_by_status",
    "create_account_link",
    "create_api_token",
    "create_practitioner",
    "create_record_link_request",
    "current_integrity",
    "daily_status_counts",
    "describe_url",
    "dialect_of",
    "due_reminders",
    "enable_totp",
    "end_session",
    "end_sessions",
    "enqueue_message",
    "erase_screening",
    "find_device",
    "find_idempotency_key",
    "finish_erasures",
    "get_api_token",
    "get_consent_text",
    "get_current_course",
    "get_device",
    "get_outbox_message",
    "get_patch_test",
    "get_patient_notice",
    "get_practitioner",
    "get_practitioner_by_email",
    "get_record_link_request",
    "get_rule_version",
    "get_screening",
    "get_screening_by_reference",
    "get_screening_by_token",
    "get_session",
    "has_live_api_token",
    "hash_token",
    "integrity_digest",
    "integrity_matches",
    "is_postgres_url",
    "is_storage_fault",
    "iter_screenings",
    "known_migrations",
    "latest_approved_rules",
    "latest_reviews",
    "legacy_role_columns",
    "link_is_proven",
    "list_audit",
    "list_course_sessions",
    "list_devices",
    "list_earlier_screenings",
    "list_open_courses",
    "list_open_sessions",
    "list_outbox",
    "list_patch_tests",
    "list_patient_screenings",
    "list_practitioners",
    "list_reconfirmations",
    "list_reviews",
    "list_rule_versions",
    "list_screening_sessions",
    "list_screenings",
    "list_sessions_for_export",
    "list_submission_screenings",
    "list_waiting_patch_tests",
    "live_account_link",
    "login_blocked_until",
    "mark_delivered",
    "mark_failed",
    "mark_reminded",
    "match_keys",
    "migrate",
    "move_screening",
    "needs_counting",
    "new_reference",
    "new_submission",
    "next_attempt_in",
    "open_pool",
    "outbox_backlog",
    "patient_summary",
    "pending_migrations",
    "pooled_database",
    "propose_rule_version",
    "purge_screenings",
    "queue_counts",
    "reconfirm_screening",
    "record_audit",
    "record_email_for",
    "record_failed_login",
    "record_findings",
    "record_idempotency_key",
    "record_login_success",
    "record_patch_readout",
    "record_patch_test",
    "record_session",
    "register_device",
    "reject_rule_version",
    "resend_message",
    "restore_sqlite_backup",
    "review_screening",
    "revoke_api_tokens",
    "revoke_device",
    "save_patient_notice",
    "save_screening",
    "screening_revision",
    "screenings_by_status",
    "set_medical_director",
    "set_practitioner_active",
    "set_practitioner_password",
    "set_practitioner_role",
    "start_course",
    "start_session",
    "store_consent_text",
    "store_integrity",
    "text_sha256",
    "touch_api_token",
    "touch_device",
    "touch_session",
    "use_account_link",
    "use_record_link_request",
    "use_recovery_code",
    "utc_now",
    "verdict_columns",
    "verify_backup",
    "withdraw_rule_version",
    "write_transaction",
]
