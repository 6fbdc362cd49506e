"""The schema: every migration, in the order it applies, and ``migrate``.

Add a new migration at the end of the list in ``migration_set``; never edit
an applied one, and never rename one: the names are what a database records
as applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlite_utils import Database, Migrations

from .errors import SchemaTooNew
from .postgres import PgDatabase
from .schema_accounts import (
    m024_staff_accounts,
    m025_sessions,
    m026_audit_append_only,
    m027_login_failures,
    m028_idempotency_keys,
    m029_api_token_scopes,
)
from .schema_chart import BUCKET_SQL, create_bucket_triggers, m036_chart_buckets_by_status_column
from .schema_checks import m045_session_checks
from .schema_consent import m020_consent_texts, m021_consent_signature, m022_reconfirmation_signatures, m023_integrity
from .schema_course import (
    m032_patients,
    m033_courses,
    m034_course_sessions,
    m038_patient_link_proof,
    m044_session_settings,
)
from .schema_decisions import m037_decisions_decide
from .schema_devices import m040_kiosk_devices
from .schema_findings import m039_answer_findings
from .schema_outbox import m016_outbox, m017_patient_notices
from .schema_postgresql import migrate_postgresql
from .schema_procedures import m042_procedures, m043_patch_tests
from .schema_roles import rename_role_columns
from .schema_rules import m041_rule_versions
from .schema_search import m030_phone_search, m031_email_search, m035_search_at_scale


def m001_screenings(db: Database) -> None:
    """The screenings table and the indexes the practitioner queue filters on."""
    db.table("screenings").create(
        {
            "id": int,
            "reference": str,
            "token_hash": str,
            "created_at": str,
            "source": str,
            "language": str,
            "patient_name": str,
            "contact_email": str,
            "contact_phone": str,
            "birth_date": str,
            "answers": str,
            "goals": str,
            "status": str,
            "reasons": str,
            "rescreen_after": str,
            "rules_version": str,
            "consent_version": str,
        },
        pk="id",
        not_null={"reference", "token_hash", "created_at", "status", "answers", "reasons", "rules_version"},
    )
    table = db.table("screenings")
    table.create_index(["reference"], unique=True)
    table.create_index(["token_hash"], unique=True)
    table.create_index(["created_at", "id"])
    table.create_index(["status", "created_at", "id"])


def m002_practitioners(db: Database) -> None:
    """Practitioner accounts; e-mail addresses are stored lower-cased."""
    db.table("practitioners").create(
        {
            "id": int,
            "email": str,
            "name": str,
            "password_hash": str,
            "active": int,
            "created_at": str,
            "failed_logins": int,
            "locked_until": str,
        },
        pk="id",
        not_null={"email", "name", "password_hash", "active", "created_at", "failed_logins"},
        defaults={"active": 1, "failed_logins": 0},
    )
    db.table("practitioners").create_index(["email"], unique=True)


def m003_reviews(db: Database) -> None:
    """Append-only practitioner decisions, and the current one on each screening."""
    db.table("reviews").create(
        {
            "id": int,
            "screening_id": int,
            "practitioner_id": int,
            "created_at": str,
            "decision": str,
            "status": str,
            "reason_code": str,
            "comment": str,
            "notes": str,
        },
        pk="id",
        not_null={"screening_id", "practitioner_id", "created_at", "decision", "status"},
        foreign_keys=[("screening_id", "screenings", "id"), ("practitioner_id", "practitioners", "id")],
    )
    db.table("reviews").create_index(["screening_id", "id"])
    # Denormalised for the queue: "not reviewed yet" must be an index lookup
    # at a million rows, not a scan of the reviews table.
    db.table("screenings").add_column("reviewed", int, not_null_default=0)
    db.table("screenings").add_column("decided_status", str)
    db.table("screenings").add_column("reviewed_at", str)
    db.table("screenings").create_index(["reviewed", "created_at", "id"])


def m004_audit_log(db: Database) -> None:
    """Append-only record of who did what; never holds patient answers."""
    db.table("audit_log").create(
        {
            "id": int,
            "at": str,
            "practitioner_id": int,
            "actor": str,
            "action": str,
            "target": str,
            "client_address": str,
            "details": str,
        },
        pk="id",
        not_null={"at", "action"},
    )
    db.table("audit_log").create_index(["at", "id"])
    db.table("audit_log").create_index(["action", "at"])
    db.table("audit_log").create_index(["practitioner_id", "at"])


def m005_api_tokens(db: Database) -> None:
    """Bearer tokens for the clinic's systems; only a hash is stored."""
    db.table("api_tokens").create(
        {
            "id": int,
            "practitioner_id": int,
            "name": str,
            "token_hash": str,
            "created_at": str,
            "revoked_at": str,
            "last_used_at": str,
        },
        pk="id",
        not_null={"practitioner_id", "name", "token_hash", "created_at"},
        foreign_keys=[("practitioner_id", "practitioners", "id")],
    )
    db.table("api_tokens").create_index(["token_hash"], unique=True)


def m006_name_search(db: Database) -> None:
    """Full-text index on patient names so the queue's search stays fast."""
    db.table("screenings").enable_fts(["patient_name"], fts_version="FTS5", create_triggers=True)


def m010_reconfirmations(db: Database) -> None:
    """Day-of-session re-confirmations, each keeping the verdict it replaced.

    Not a kind of review: a review is a decision on the verdict, whereas a
    re-confirmation says the answers still hold today (or records changed
    ones) and re-runs the engine, so it must keep the previous answers and
    verdict, which a review row has no place for.
    """
    db.table("reconfirmations").create(
        {
            "id": int,
            "screening_id": int,
            "practitioner_id": int,
            "created_at": str,
            "answers_changed": int,
            "verdict_changed": int,
            "previous_answers": str,
            "previous_status": str,
            "previous_reasons": str,
            "previous_rescreen_after": str,
            "previous_rules_version": str,
            "status": str,
            "rules_version": str,
        },
        pk="id",
        not_null={
            "screening_id",
            "practitioner_id",
            "created_at",
            "answers_changed",
            "verdict_changed",
            "previous_answers",
            "previous_status",
            "previous_reasons",
            "previous_rules_version",
            "status",
            "rules_version",
        },
        foreign_keys=[("screening_id", "screenings", "id"), ("practitioner_id", "practitioners", "id")],
    )
    db.table("reconfirmations").create_index(["screening_id", "id"])
    # When the answers were last confirmed: a screening's validity counts from here.
    db.table("screenings").add_column("confirmed_at", str)


def m011_status_counts(db: Database) -> None:
    """Screenings per (status, reviewed), kept by triggers, so the queue's
    counts cost the same with a million screenings as with ten."""
    db.execute(
        "CREATE TABLE screening_status_counts (status TEXT NOT NULL, reviewed INTEGER NOT NULL,"
        " n INTEGER NOT NULL, PRIMARY KEY (status, reviewed)) WITHOUT ROWID"
    )
    db.execute(
        "INSERT INTO screening_status_counts (status, reviewed, n)"
        " SELECT status, reviewed, count(*) FROM screenings GROUP BY status, reviewed"
    )
    add_new = (
        "INSERT INTO screening_status_counts (status, reviewed, n) VALUES (new.status, new.reviewed, 1)"
        " ON CONFLICT (status, reviewed) DO UPDATE SET n = n + 1;"
    )
    remove_old = "UPDATE screening_status_counts SET n = n - 1 WHERE status = old.status AND reviewed = old.reviewed;"
    db.execute(f"CREATE TRIGGER screening_status_counts_insert AFTER INSERT ON screenings BEGIN {add_new} END")
    db.execute(f"CREATE TRIGGER screening_status_counts_delete AFTER DELETE ON screenings BEGIN {remove_old} END")
    db.execute(
        "CREATE TRIGGER screening_status_counts_update AFTER UPDATE OF status, reviewed ON screenings"
        " WHEN old.status IS NOT new.status OR old.reviewed IS NOT new.reviewed"
        f" BEGIN {remove_old} {add_new} END"
    )


def m012_queue_indexes(db: Database) -> None:
    """Status plus "not reviewed yet" as one index range; the chart's
    per-day counts read from an index alone."""
    table = db.table("screenings")
    table.create_index(["status", "reviewed", "created_at", "id"])
    table.create_index(["created_at", "status"])


def m013_chart_buckets(db: Database) -> None:
    """Screenings per quarter hour and status, kept by triggers: the 30-day
    chart sums ~2,900 small rows whatever the size of the table. Quarter
    hours, because every time zone's midnight falls on one."""
    db.execute(
        "CREATE TABLE screening_time_buckets (bucket TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,"
        " PRIMARY KEY (bucket, status)) WITHOUT ROWID"
    )
    new_bucket, old_bucket = BUCKET_SQL.format(t="new.created_at"), BUCKET_SQL.format(t="old.created_at")
    db.execute(
        "INSERT INTO screening_time_buckets (bucket, status, n) SELECT "  # noqa: S608 - constant SQL
        + BUCKET_SQL.format(t="created_at")
        + " AS b, status, count(*) FROM screenings GROUP BY b, status"
    )
    add_new = (
        f"INSERT INTO screening_time_buckets (bucket, status, n) VALUES ({new_bucket}, new.status, 1)"  # noqa: S608
        " ON CONFLICT (bucket, status) DO UPDATE SET n = n + 1;"
    )
    remove_old = f"UPDATE screening_time_buckets SET n = n - 1 WHERE bucket = {old_bucket} AND status = old.status;"  # noqa: S608
    create_bucket_triggers(db, add_new, remove_old)


def m015_notes(db: Database) -> None:
    """Notes for the session (rules with outcome "note"), apart from the reasons behind the verdict."""
    db.table("screenings").add_column("notes", str)


Migration = Callable[[Database], None]

# Applied, in this order, by every database of a previous release.
_UP_TO_M013: tuple[Migration, ...] = (
    m001_screenings,
    m002_practitioners,
    m003_reviews,
    m004_audit_log,
    m005_api_tokens,
    m006_name_search,
    m010_reconfirmations,
    m011_status_counts,
    m012_queue_indexes,
    m013_chart_buckets,
)


def migration_set(legacy_columns: Mapping[str, str] | None = None) -> Migrations:
    """Every migration in order, m014 renaming ``legacy_columns``."""
    renames = dict(legacy_columns or {})

    # A closure because sqlite-utils calls a migration with the database only.
    def m014_role_columns(db: Database) -> None:
        rename_role_columns(db, renames)

    migrations = Migrations("screening")
    for step in (
        *_UP_TO_M013,
        m014_role_columns,
        m015_notes,
        m016_outbox,
        m017_patient_notices,
        m020_consent_texts,
        m021_consent_signature,
        m022_reconfirmation_signatures,
        m023_integrity,
        m024_staff_accounts,
        m025_sessions,
        m026_audit_append_only,
        m027_login_failures,
        m028_idempotency_keys,
        m029_api_token_scopes,
        m030_phone_search,
        m031_email_search,
        m032_patients,
        m033_courses,
        m034_course_sessions,
        m035_search_at_scale,
        m036_chart_buckets_by_status_column,
        m037_decisions_decide,
        m038_patient_link_proof,
        m039_answer_findings,
        m040_kiosk_devices,
        m041_rule_versions,
        m042_procedures,
        m043_patch_tests,
        m044_session_settings,
        m045_session_checks,
    ):  # new migrations go at the end
        migrations(name=step.__name__)(step)
    return migrations


def migrate(db: Database | PgDatabase, legacy_columns: Mapping[str, str] | None = None) -> list[str]:
    """Create or upgrade the schema; return the names of migrations applied.

    ``legacy_columns`` maps the ids of the role questions to their columns
    (see ``legacy_role_columns``), for databases of the previous release.
    """
    if isinstance(db, PgDatabase):
        return migrate_postgresql(db)
    migrations = migration_set(legacy_columns)
    known = {m.name for m in migrations.pending(Database(memory=True))}
    if db["_sqlite_migrations"].exists():
        applied = {row["name"] for row in db["_sqlite_migrations"].rows_where("migration_set = ?", ["screening"])}
        if applied - known:
            raise SchemaTooNew(
                "the database's schema is newer than this code (migrations"
                f" {', '.join(sorted(applied - known))} are unknown here): run the release that migrated it"
            )
    pending = [m.name for m in migrations.pending(db)]
    if pending:
        migrations.apply(db)
    return pending
