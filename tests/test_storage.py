"""Storage: round trips, references, tokens, migrations, keyset pages."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlite_utils import Database

from screening import storage
from screening.core.engine import screen
from screening.core.model import RuleSet
from screening.storage import queue as storage_queue
from screening.storage import schema_postgresql
from screening.storage.schema import migration_set
from tests.helpers import CLEAR_ANSWERS, TODAY, save_answers


@pytest.fixture
def db(database: str) -> Database:
    """The storage layer's connection on an empty database of this test's backend."""
    connection = storage.connect(database)
    storage.migrate(connection)
    yield connection
    connection.close()


def save(db: Database, ruleset: RuleSet, name: str = "Anna", **changes: object) -> storage.SavedScreening:
    return save_answers(db, ruleset, name=name, email="a@example.com", phone=None, day=TODAY, **changes)


def test_round_trip_keeps_everything(db: Database, ruleset: RuleSet) -> None:
    saved = save(db, ruleset, pregnant="yes", concerns=["wrinkles"])
    row = storage.get_screening_by_token(db, saved.token)
    assert row is not None
    assert row["reference"] == saved.reference
    assert row["status"] == "deferred"
    assert row["answers"]["pregnant"] == "yes"
    assert row["answers"]["date_of_birth"] == "1990-05-31"
    assert row["goals"] == ["wrinkles"]
    assert [r["rule"] for r in row["reasons"]] == ["pregnancy"]
    assert row["reasons"][0]["patient"]["ru"]  # texts kept in every language, as shown on the day
    assert row["rules_version"] == ruleset.full_version
    assert row["consent_version"] == "2026-11"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", row["created_at"])
    assert storage.get_screening_by_reference(db, saved.reference.lower())["id"] == row["id"]


def test_token_is_stored_only_as_a_hash(db: Database, ruleset: RuleSet) -> None:
    saved = save(db, ruleset)
    raw = json.dumps(list(db.query("SELECT * FROM screenings")))
    assert saved.token not in raw
    assert storage.hash_token(saved.token) in raw
    assert storage.get_screening_by_token(db, saved.token[:-1] + "x") is None


def test_references_are_unique_and_unambiguous(db: Database, ruleset: RuleSet) -> None:
    references = {save(db, ruleset).reference for _ in range(200)}
    assert len(references) == 200
    for reference in references:
        assert not set(reference) & set("0O1IL5S8B2Z")


def test_reference_collision_draws_again(db: Database, ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch) -> None:
    first = save(db, ruleset)
    codes = iter([first.reference, "ACDEFGHJ"])
    monkeypatch.setattr(storage.screenings, "new_reference", lambda: next(codes))
    assert save(db, ruleset).reference == "ACDEFGHJ"


def screening_indexes(db: Database) -> set[tuple[str, ...]]:
    """The column lists of the screenings table's indexes, on either backend."""
    if storage.dialect_of(db) == "sqlite":
        return {tuple(i.columns) for i in db.table("screenings").indexes}
    rows = db.query("SELECT indexdef FROM pg_indexes WHERE tablename = 'screenings'")
    return {tuple(re.sub(r".*\((.*)\)$", r"\1", row["indexdef"]).split(", ")) for row in rows}


def test_migrations_are_idempotent_and_index_the_queue(db: Database) -> None:
    assert storage.migrate(db) == []
    assert {("reference",), ("status", "created_at", "id"), ("created_at", "id")} <= screening_indexes(db)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = storage.connect(str(tmp_path / "wal.sqlite"))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_keyset_pages_cover_every_row_once(db: Database, ruleset: RuleSet) -> None:
    for i in range(23):
        save(db, ruleset, name=f"Patient {i}", epilepsy="yes" if i % 3 == 0 else "no")
    seen: list[int] = []
    before = None
    while True:
        page = storage.list_screenings(db, before=before, limit=5)
        if not page:
            break
        seen.extend(row["id"] for row in page)
        before = (page[-1]["created_at"], page[-1]["id"])
    assert seen == sorted(seen, reverse=True) and len(seen) == 23
    review = storage.list_screenings(db, storage.ScreeningFilter(status="review"), limit=100)
    assert len(review) == 8 and {r["status"] for r in review} == {"review"}
    assert storage.count_screenings_by_status(db) == {"eligible": 15, "review": 8}


@pytest.mark.parametrize(("search", "count"), [("patient", 3), ("Patient 1", 1), ("ann", 0), ("PATIENT 2", 1)])
def test_search_by_name_words(db: Database, ruleset: RuleSet, search: str, count: int) -> None:
    for i in range(3):
        save(db, ruleset, name=f"Patient {i}")
    assert len(storage.list_screenings(db, storage.ScreeningFilter(search=search))) == count


@pytest.mark.parametrize("walk_from", [1, 10_000], ids=["walks-the-time-index", "sorts-the-matches"])
def test_a_name_search_pages_alike_whichever_way_it_is_read(
    db: Database, ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch, walk_from: int
) -> None:
    """A common name walks the time index (SQLite), a rare one sorts its matches: the same pages."""
    monkeypatch.setattr(storage_queue, "WALK_THE_TIME_INDEX_FROM", walk_from)
    names = ["Anna Smith", "Bob Jones", "Olga Smithson", "Ivan Smirnov"]
    saved = [save(db, ruleset, name=names[i % 4], epilepsy="yes" if i % 3 == 0 else "no") for i in range(18)]
    smiths = [saved[i].id for i in reversed(range(18)) if i % 4 in (0, 2)]  # Smith and Smithson, newest first
    reviews = [saved[i].id for i in reversed(range(18)) if i % 4 in (0, 2) and i % 3 == 0]
    for filters, expected in [
        (storage.ScreeningFilter(search="smith"), smiths),
        (storage.ScreeningFilter(search="SMITH", status="review"), reviews),
        (storage.ScreeningFilter(search="smith", reviewed=False), smiths),
        (storage.ScreeningFilter(search="smith", status="review", reviewed=False), reviews),
    ]:
        seen: list[int] = []
        before = None
        while page := storage.list_screenings(db, filters, before=before, limit=3):
            seen.extend(row["id"] for row in page)
            before = (page[-1]["created_at"], page[-1]["id"])
        assert seen == expected
        middle = storage.list_screenings(db, filters, limit=100)[1]
        at = (middle["created_at"], middle["id"])
        newer = storage.adjacent_reference(db, filters, at, newer=True)
        older = storage.adjacent_reference(db, filters, at, newer=False)
        by_id = {row["id"]: row["reference"] for row in storage.list_screenings(db, filters, limit=100)}
        assert (newer, older) == (by_id[expected[0]], by_id[expected[2]])


@pytest.mark.parametrize("walk_from", [1, 10_000], ids=["common-name", "rare-name"])
@pytest.mark.parametrize("writer", ["same connection", "another connection"])
def test_a_name_search_sees_what_changed_since_the_last_one(
    db: Database, database: str, ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch, walk_from: int, writer: str
) -> None:
    """A rare name's matches are read once for the list and its counts: a screening stored or
    decided since, on this connection or another, is in the next search."""
    monkeypatch.setattr(storage_queue, "WALK_THE_TIME_INDEX_FROM", walk_from)
    smith = storage.ScreeningFilter(search="smith")
    undecided = storage.ScreeningFilter(search="smith", status="review", reviewed=False)
    first = save(db, ruleset, name="Anna Smith", epilepsy="yes")
    save(db, ruleset, name="Bola Adeyemi")
    assert [row["id"] for row in storage.list_screenings(db, smith)] == [first.id]
    assert storage.count_matches(db, undecided) == 1
    other = db if writer == "same connection" else storage.connect(database)
    second = save(other, ruleset, name="Olga Smith")
    assert [row["id"] for row in storage.list_screenings(db, smith)] == [second.id, first.id]
    assert storage.queue_counts(db, smith) == {"review": 1, "eligible": 1}
    with storage.write_transaction(other):
        other.execute("UPDATE screenings SET reviewed = 1 WHERE id = ?", [first.id])
    assert storage.count_matches(db, undecided) == 0
    assert storage.count_matches(db, replace(undecided, reviewed=True)) == 1
    if other is not db:
        other.close()


def test_search_by_reference(db: Database, ruleset: RuleSet) -> None:
    saved = save(db, ruleset, name="Ольга Иванова")
    save(db, ruleset, name="Other")
    (found,) = storage.list_screenings(db, storage.ScreeningFilter(search=saved.reference.lower()))
    assert found["reference"] == saved.reference
    (by_name,) = storage.list_screenings(db, storage.ScreeningFilter(search="иванова"))
    assert by_name["patient_name"] == "Ольга Иванова"


def test_search_with_quotes_and_operators_is_safe(db: Database, ruleset: RuleSet) -> None:
    save(db, ruleset, name='Anna "AND" OR')
    assert storage.list_screenings(db, storage.ScreeningFilter(search='" OR * NEAR(')) == []


@pytest.mark.parametrize("zone", ["UTC", "Europe/Moscow", "Asia/Kolkata", "America/St_Johns"])
def test_daily_counts_follow_the_clinic_time_zone(db: Database, ruleset: RuleSet, zone: str) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    times = ["2026-11-01T18:29:59", "2026-11-01T18:30:00", "2026-11-01T20:59:59", "2026-11-01T21:00:00",
             "2026-11-02T02:29:00", "2026-11-02T03:31:00", "2026-11-02T23:59:59"]  # fmt: skip
    for i, moment in enumerate(times):
        saved = save(db, ruleset, epilepsy="yes" if i % 2 else "no")
        db.execute("UPDATE screenings SET created_at = ? WHERE id = ?", [moment + ".000000+00:00", saved.id])
    tz = ZoneInfo(zone)
    bounds = []
    for day in (dt.date(2026, 11, 1), dt.date(2026, 11, 2), dt.date(2026, 11, 3)):
        start = dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
        stop = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz).astimezone(dt.UTC)
        bounds.append(
            (day.isoformat(), start.isoformat(timespec="microseconds"), stop.isoformat(timespec="microseconds"))
        )

    def counted_directly() -> dict[tuple[str, str], int]:
        counts = {}
        for day, start, stop in bounds:
            for row in db.query(
                "SELECT status, count(*) AS n FROM screenings WHERE created_at >= ? AND created_at < ? GROUP BY status",
                [start, stop],
            ):
                counts[(day, row["status"])] = row["n"]
        return counts

    assert storage.daily_status_counts(db, bounds) == counted_directly()
    # Deletions and status changes keep the buckets right too.
    db.execute("DELETE FROM screenings WHERE created_at LIKE '2026-11-02T23:59:59%'")
    db.execute("UPDATE screenings SET status = 'deferred' WHERE created_at LIKE '2026-11-01T21:00:00%'")
    assert storage.daily_status_counts(db, bounds) == counted_directly()


def test_m036_keeps_the_chart_counts_of_the_screenings_stored_before_it(tmp_path: Path, ruleset: RuleSet) -> None:
    old = storage.connect(str(tmp_path / "old.sqlite"))
    migration_set().apply(old, stop_before="m036_chart_buckets_by_status_column")
    moments = ["2026-11-01T09:01:00", "2026-11-01T09:14:59", "2026-11-01T09:15:00", "2026-11-02T23:59:59"]
    # Today's save writes m038's and m042's columns; the migrations add them again.
    later_columns = ("patient_link", "procedure", "submission")
    for column in later_columns:
        old.execute(f"ALTER TABLE screenings ADD COLUMN {column} TEXT")
    for i, moment in enumerate(moments):
        saved = save(old, ruleset, epilepsy="yes" if i % 2 else "no")
        old.execute("UPDATE screenings SET created_at = ? WHERE id = ?", [moment + ".000000+00:00", saved.id])
    for column in later_columns:
        old.execute(f"ALTER TABLE screenings DROP COLUMN {column}")
    days = [(f"2026-11-0{d}", f"2026-11-0{d}T00:00", f"2026-11-0{d + 1}T00:00") for d in (1, 2)]
    before = {(r["bucket"], r["status"]): r["n"] for r in old.query("SELECT * FROM screening_time_buckets WHERE n > 0")}
    assert before == {("2026-11-01T09:00", "eligible"): 1, ("2026-11-01T09:00", "review"): 1,
                      ("2026-11-01T09:15", "eligible"): 1, ("2026-11-02T23:45", "review"): 1}  # fmt: skip

    assert storage.migrate(old)[0] == "m036_chart_buckets_by_status_column"  # and the later ones
    expected = {("2026-11-01", "eligible"): 2, ("2026-11-01", "review"): 1, ("2026-11-02", "review"): 1}
    assert storage.daily_status_counts(old, days) == expected
    # The new triggers keep counting: one more, one deleted.
    save(old, ruleset)
    old.execute("DELETE FROM screenings WHERE created_at LIKE '2026-11-02T23:59:59%'")
    today = storage.utc_now()[:10]
    counted = storage.daily_status_counts(old, [*days, (today, today + "T00:00", today + "T23:59:59.999999")])
    assert counted == {("2026-11-01", "eligible"): 2, ("2026-11-01", "review"): 1, (today, "eligible"): 1}
    old.close()


# Migrations after m015 and the screenings columns they add (consent, signatures, integrity).
LATER_MIGRATIONS = [
    "m016_outbox",
    "m017_patient_notices",
    "m020_consent_texts",
    "m021_consent_signature",
    "m022_reconfirmation_signatures",
    "m023_integrity",
    "m024_staff_accounts",
    "m025_sessions",
    "m026_audit_append_only",
    "m027_login_failures",
    "m028_idempotency_keys",
    "m029_api_token_scopes",
    "m030_phone_search",
    "m031_email_search",
    "m032_patients",
    "m033_courses",
    "m034_course_sessions",
    "m035_search_at_scale",
    "m036_chart_buckets_by_status_column",
    "m037_decisions_decide",
    "m038_patient_link_proof",
    "m039_answer_findings",
    "m040_kiosk_devices",
    "m041_rule_versions",
    "m042_procedures",
    "m043_patch_tests",
    "m044_session_settings",
    "m045_session_checks",
]
# The columns m020-m023 add to screenings: the signed texts' hashes, the typed signature, the digest.
NEW_SCREENING_COLUMNS = {"consent_sha256", "privacy_sha256", "integrity_sha256"} | {
    "signature_name",
    "signed_at",
    "signature_address",
    "signature_user_agent",
}


def test_migration_renames_columns_named_after_role_questions(tmp_path: Path, ruleset: RuleSet) -> None:
    # A database of the previous release: every migration up to m013, with the
    # role columns named after the ids of the questions playing the roles.
    old = storage.connect(str(tmp_path / "old.sqlite"))
    migration_set().apply(old, stop_before="m014_role_columns")
    # Stored as that release stored it: the verdict's columns of the day, no notes.
    columns = storage.verdict_columns(screen(ruleset, {**CLEAR_ANSWERS, "pregnant": "yes"}, TODAY))
    del columns["notes"]
    old_token = "a-result-token-of-the-previous-release"
    old.table("screenings").insert(
        {
            "reference": "OLDREF34",
            "token_hash": storage.hash_token(old_token),
            "created_at": storage.utc_now(),
            "patient_name": "Old Patient",
            **columns,
        }
    )
    legacy = storage.legacy_role_columns(ruleset.roles)
    assert set(legacy.values()) == {"birth_date", "goals"}
    for question_id, column in legacy.items():
        old.execute(f"ALTER TABLE screenings RENAME COLUMN {column} TO {question_id}")
    before = dict(next(old.query("SELECT * FROM screenings")))

    with pytest.raises(RuntimeError, match="lacks birth_date, goals"):
        storage.migrate(old)  # without the rule set's roles the columns cannot be found
    assert storage.migrate(old, legacy) == ["m014_role_columns", "m015_notes", *LATER_MIGRATIONS]

    columns = set(old.table("screenings").columns_dict)
    assert {"birth_date", "goals"} <= columns and not set(legacy) & columns
    after = dict(next(old.query("SELECT * FROM screenings")))
    after.pop("contact_phone_digits")  # m030, generated from the phone number
    added = set(after) - {legacy.get(key, key) for key in before}
    # The old screening is linked to its patient record (m032), which it began (m038); the other new columns
    # start empty.
    assert after == {
        **{legacy.get(key, key): value for key, value in before.items()},
        **dict.fromkeys(added),
        "patient_id": 1,
        "patient_link": "own",
        "flagged": 0,  # m039: no findings against earlier answers
        "procedure": "laser_rejuvenation",  # m042: the one procedure screened before it
    }
    assert added == {
        "notes",
        "patient_id",
        "patient_link",
        "decided_defer_until",
        "findings",
        "flagged",
        "device_id",  # m040: taken on no reception tablet
        "procedure",
        "submission",  # m042: made alone, not with another procedure's screening
        *NEW_SCREENING_COLUMNS,
    }
    row = storage.get_screening_by_token(old, old_token)
    assert row is not None and row["birth_date"] == CLEAR_ANSWERS[ruleset.roles["birth_date"]]
    assert row["goals"] == [] and row["status"] == "deferred"
    # Triggers and the name index still work on the renamed table.
    save(old, ruleset, name="New Patient")
    assert len(storage.list_screenings(old, storage.ScreeningFilter(search="patient"))) == 2
    assert storage.queue_counts(old) == {"deferred": 1, "eligible": 1}
    assert storage.migrate(old, legacy) == []
    old.close()


def test_migration_of_a_new_database_renames_nothing(tmp_path: Path, ruleset: RuleSet) -> None:
    db = storage.connect(str(tmp_path / "new.sqlite"))
    applied = storage.migrate(db, storage.legacy_role_columns(ruleset.roles))
    assert applied[-2 - len(LATER_MIGRATIONS) :] == ["m014_role_columns", "m015_notes", *LATER_MIGRATIONS]
    assert {"birth_date", "goals"} <= set(db.table("screenings").columns_dict)
    db.close()


@pytest.mark.parametrize(
    ("decision", "problem"),
    [
        ({"status": "review", "reason_code": "other"}, "status: status_not_decision"),
        ({"status": "eligible"}, "reason_code: reason_missing"),
        ({"status": "eligible", "reason_code": "bogus"}, "reason_code: reason_unknown"),
        ({"status": "deferred", "reason_code": "other"}, "defer_until: defer_until_missing"),
        (
            {"status": "deferred", "reason_code": "other", "defer_until": str(TODAY - dt.timedelta(days=1))},
            "defer_until: defer_until_past",
        ),
    ],
)
def test_storage_refuses_a_decision_that_does_not_decide(
    db: Database, ruleset: RuleSet, decision: dict[str, str], problem: str
) -> None:
    saved = save(db, ruleset, epilepsy="yes")
    screening = storage.get_screening_by_token(db, saved.token)
    assert screening is not None and screening["status"] == "review"
    doctor = storage.create_practitioner(db, "doc@example.com", "Doc", "hash")
    revision = storage.screening_revision(screening)
    with pytest.raises(ValueError, match=re.escape(problem)):
        storage.review_screening(db, screening["id"], doctor, revision, today=TODAY, **decision)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'review' is not a decision"):
        storage.add_review(db, screening["id"], doctor, decision="confirm", status="review")
    assert storage.list_reviews(db, screening["id"]) == []
    assert storage.get_screening(db, screening["id"])["reviewed"] == 0  # type: ignore[index]


def test_a_review_verdict_is_decided_with_a_reason_and_a_definite_one_confirmed(db: Database, ruleset: RuleSet) -> None:
    doctor = storage.create_practitioner(db, "doc@example.com", "Doc", "hash")

    def decide(screening_id: int, **decision: str) -> storage.ScreeningRecord:
        current = storage.get_screening(db, screening_id)
        assert current is not None
        revision = storage.screening_revision(current)
        storage.review_screening(db, screening_id, doctor, revision, today=TODAY, **decision)  # type: ignore[arg-type]
        decided = storage.get_screening(db, screening_id)
        assert decided is not None
        return decided

    review = save(db, ruleset, epilepsy="yes")
    # The comment is optional on a "review" verdict; a confirmation's extra fields are dropped.
    decided = decide(review.id, status="deferred", reason_code="physician_clearance", defer_until="2027-03-01")
    assert (decided["reviewed"], decided["decided_status"], decided["decided_defer_until"]) == (
        1,
        "deferred",
        "2027-03-01",
    )
    tanned = save(db, ruleset, recent_tan="yes")
    decided = decide(tanned.id, status="deferred", reason_code="other", comment="x", defer_until="2027-09-09")
    assert (decided["decided_status"], decided["decided_defer_until"]) == ("deferred", decided["rescreen_after"])
    ((first, second),) = [storage.list_reviews(db, review.id) + storage.list_reviews(db, tanned.id)]
    assert (first["decision"], first["reason_code"], first["comment"], first["defer_until"]) == (
        "override", "physician_clearance", None, "2027-03-01"
    )  # fmt: skip
    assert (second["decision"], second["reason_code"], second["comment"], second["defer_until"]) == (
        "confirm", None, None, decided["rescreen_after"]
    )  # fmt: skip
    assert first["practitioner_role"] == "practitioner"


# --- m037: "review" is no longer a decision ------------------------------------------------------


def migrated_before_m037(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    """A new database of this test's backend, migrated up to m036: as the release before m037 left it."""
    if backend == "sqlite":
        db = storage.connect(str(tmp_path / "m036.sqlite"))
        migration_set().apply(db, stop_before="m037_decisions_decide")
        return db
    server = request.getfixturevalue("postgres_server")
    db = storage.connect(server.create_database("m036_" + uuid.uuid4().hex[:12]))
    names = [name for name, _sql in schema_postgresql.POSTGRES_MIGRATIONS]
    with pytest.MonkeyPatch.context() as patch:
        before = schema_postgresql.POSTGRES_MIGRATIONS[: names.index("m037_decisions_decide")]
        patch.setattr(schema_postgresql, "POSTGRES_MIGRATIONS", before)
        storage.migrate(db)
    return db


def test_m037_puts_screenings_confirmed_as_review_back_in_needs_a_decision(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db = migrated_before_m037(backend, tmp_path, request)
    doctor = storage.create_practitioner(db, "doc@example.com", "Doc", "hash")
    at = "2026-11-20T10:00:00.000000+00:00"

    def stored(reference: str, status: str, decided: str | None) -> int:
        """A screening as the release before m037 stored it, with its decision if any (raw SQL:
        today's storage functions write the columns of later migrations)."""
        db.execute(
            "INSERT INTO screenings (reference, token_hash, created_at, answers, status, reasons, rules_version)"
            " VALUES (?, ?, ?, '{}', ?, '[]', '1')",
            [reference, "hash-" + reference, at, status],
        )
        (row,) = db.query("SELECT id FROM screenings WHERE reference = ?", [reference])
        if decided:
            decision = "confirm" if decided == status else "override"
            db.execute(
                "INSERT INTO reviews (screening_id, practitioner_id, created_at, decision, status)"
                " VALUES (?, ?, ?, ?, ?)",
                [row["id"], doctor, at, decision, decided],
            )
            db.execute(
                "UPDATE screenings SET reviewed = 1, decided_status = ?, reviewed_at = ? WHERE id = ?",
                [decided, at, row["id"]],
            )
        return int(row["id"])

    confirmed = stored("CONFIRMD", "review", "review")
    cleared = stored("CLEAREDX", "review", "eligible")
    waiting = stored("WAITINGX", "review", None)
    stored("REFUSEDX", "ineligible", "ineligible")
    needs_decision = storage.ScreeningFilter(status="review", reviewed=False)
    assert storage.count_matches(db, needs_decision) == 1

    assert "m037_decisions_decide" in storage.migrate(db)

    # Back in "Needs a decision", its count kept by the triggers; the other decisions stand.
    assert {r["reference"] for r in storage.list_screenings(db, needs_decision)} == {"CONFIRMD", "WAITINGX"}
    assert storage.count_matches(db, needs_decision) == 2
    assert storage.queue_counts(db) == {"review": 3, "ineligible": 1}
    kept = list(
        db.query("SELECT status, reviewed, n FROM screening_status_counts WHERE n > 0 ORDER BY status, reviewed")
    )
    counted = list(
        db.query(
            "SELECT status, reviewed, count(*) AS n FROM screenings GROUP BY status, reviewed ORDER BY status, reviewed"
        )
    )
    assert kept == counted
    reopened = storage.get_screening(db, confirmed)
    assert reopened is not None
    assert (reopened["reviewed"], reopened["decided_status"], reopened["reviewed_at"]) == (0, None, None)
    assert storage.get_screening(db, cleared)["decided_status"] == "eligible"  # type: ignore[index]
    assert storage.get_screening(db, waiting)["reviewed"] == 0  # type: ignore[index]
    # The history is append-only: the decision "review" stays, no longer the current one.
    assert [(r["decision"], r["status"]) for r in storage.list_reviews(db, confirmed)] == [("confirm", "review")]
    (audit,) = storage.list_audit(db, storage.AuditFilter(action="review.reopen"))
    assert (audit["target"], audit["actor"], audit["practitioner_id"]) == ("screening:CONFIRMD", "migration m037", None)
    assert audit["details"] == {"verdict": "review", "status": "review", "reviewed_at": at}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", audit["at"])
    # The new columns start empty.
    assert storage.get_screening(db, cleared)["decided_defer_until"] is None  # type: ignore[index]
    assert storage.migrate(db) == []
    db.close()


# --- m042: every screening and course belongs to a procedure; m043: test patches ---------------


def migrated_before(migration: str, backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    """A new database of this test's backend, migrated up to the one before ``migration``."""
    if backend == "sqlite":
        db = storage.connect(str(tmp_path / "before.sqlite"))
        migration_set().apply(db, stop_before=migration)
        return db
    server = request.getfixturevalue("postgres_server")
    db = storage.connect(server.create_database("before_" + uuid.uuid4().hex[:12]))
    names = [name for name, _sql in schema_postgresql.POSTGRES_MIGRATIONS]
    with pytest.MonkeyPatch.context() as patch:
        before = schema_postgresql.POSTGRES_MIGRATIONS[: names.index(migration)]
        patch.setattr(schema_postgresql, "POSTGRES_MIGRATIONS", before)
        storage.migrate(db)
    return db


def test_m042_gives_screenings_and_courses_made_before_it_the_default_procedure(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, ruleset: RuleSet
) -> None:
    db = migrated_before("m042_procedures", backend, tmp_path, request)
    doctor = storage.create_practitioner(db, "doc@example.com", "Doc", "hash")
    at = "2026-11-20T10:00:00.000000+00:00"
    # A screening and a course as the release before m042 stored them (raw SQL: today's storage
    # functions write the new columns), the screening with its integrity digest of the day.
    with storage.write_transaction(db):
        patient = storage.connection.insert_row(db, "INSERT INTO patients (created_at) VALUES (?)", [at])
        row = {
            "reference": "OLDLASER",
            "token_hash": "hash-old",
            "created_at": at,
            "patient_name": "Old Patient",
            "patient_id": patient,
            "patient_link": "own",
            **storage.verdict_columns(screen(ruleset, CLEAR_ANSWERS, TODAY)),
        }
        row["integrity_sha256"] = storage.integrity_digest(storage.records.decode_screening(row), [])
        names = ", ".join(row)
        screening_id = storage.connection.insert_row(
            db, f"INSERT INTO screenings ({names}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )
        storage.connection.insert_row(
            db,
            "INSERT INTO courses (patient_id, practitioner_id, created_at, started_on, planned_sessions, interval_days)"
            " VALUES (?, ?, ?, ?, 6, 28)",
            [patient, doctor, at, at[:10]],
        )

    applied = storage.migrate(db)
    assert applied[:2] == ["m042_procedures", "m043_patch_tests"]

    screening = storage.get_screening(db, screening_id)
    assert screening is not None
    assert (screening["procedure"], screening["submission"]) == ("laser_rejuvenation", None)
    assert storage.integrity_matches(db, screening) is True  # the digest of the day still holds
    course = storage.get_current_course(db, patient, "laser_rejuvenation")
    assert course is not None and course["procedure"] == "laser_rejuvenation"
    assert storage.get_current_course(db, patient, "ipl_photorejuvenation") is None
    laser = storage.ScreeningFilter(procedure="laser_rejuvenation")
    assert [s["reference"] for s in storage.list_screenings(db, laser)] == ["OLDLASER"]
    assert storage.list_screenings(db, storage.ScreeningFilter(procedure="ipl_photorejuvenation")) == []
    assert storage.queue_counts(db, laser) == {"eligible": 1}
    assert [c["procedure"] for c in storage.list_open_courses(db)] == ["laser_rejuvenation"]

    # Moved to another procedure behind the app's back, the verdict no longer matches its digest.
    with storage.write_transaction(db):
        db.execute("UPDATE screenings SET procedure = 'ipl_photorejuvenation' WHERE id = ?", [screening_id])
    moved = storage.get_screening(db, screening_id)
    assert moved is not None and storage.integrity_matches(db, moved) is False
    assert storage.migrate(db) == []
    db.close()


def test_screenings_of_one_submission_are_siblings_and_the_queue_filters_by_procedure(
    db: Database, ruleset: RuleSet
) -> None:
    submission = storage.new_submission()
    verdict = screen(ruleset, CLEAR_ANSWERS, TODAY)
    saved = [
        storage.save_screening(
            db,
            verdict,
            storage.Patient(name="Anna", email="a@example.com", phone=None),
            source="web",
            language="en",
            consent_version="2026-11",
            procedure=procedure,
            submission=submission,
        )
        for procedure in ("laser_rejuvenation", "ipl_photorejuvenation")
    ]
    alone = save(db, ruleset, name="Boris")
    siblings = storage.list_submission_screenings(db, submission)
    assert [(s["reference"], s["procedure"]) for s in siblings] == [
        (saved[0].reference, "laser_rejuvenation"),
        (saved[1].reference, "ipl_photorejuvenation"),
    ]
    assert storage.get_screening(db, alone.id)["submission"] is None  # type: ignore[index]
    ipl = storage.ScreeningFilter(procedure="ipl_photorejuvenation")
    assert [s["reference"] for s in storage.list_screenings(db, ipl)] == [saved[1].reference]
    assert storage.count_matches(db, ipl) == 1
    # A name search (held matches in SQLite) narrowed by procedure too.
    assert [s["reference"] for s in storage.list_screenings(db, replace(ipl, search="anna"))] == [saved[1].reference]
    assert storage.list_screenings(db, replace(ipl, search="boris")) == []
    laser = storage.ScreeningFilter(procedure="laser_rejuvenation")
    assert storage.queue_counts(db, laser) == {"eligible": 2}
