"""Every query of the app, behind functions named for what they do.

Views never hold SQL. The schema evolves through ``sqlite_utils.Migrations``:
add a new migration function at the end, never edit an applied one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database, Migrations

from ..core.engine import Verdict, answers_to_json
from ..core.people import Patient

# No look-alikes (0/O, 1/I/L, 5/S, 8/B, 2/Z) so a code read aloud or copied
# from paper is unambiguous.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
REFERENCE_LENGTH = 8
# SQLite integers are signed 64-bit: a larger id in a cursor cannot be bound.
MAX_ROW_ID = 2**63 - 1

migrations = Migrations("screening")


@migrations()
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


@migrations()
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


@migrations()
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


@migrations()
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


@migrations()
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


@migrations()
def m006_name_search(db: Database) -> None:
    """Full-text index on patient names so the queue's search stays fast."""
    db.table("screenings").enable_fts(["patient_name"], fts_version="FTS5", create_triggers=True)


SYNCHRONOUS_LEVELS = ("FULL", "NORMAL")


def connect(path: str, synchronous: str = "FULL") -> Database:
    """Open the database with the settings every connection needs.

    WAL lets readers and the writer work at once. ``synchronous=FULL`` syncs
    every commit to disk, so an acknowledged screening survives a power cut;
    ``NORMAL`` survives a crash of the app but may lose the last commits on
    a power cut, in exchange for faster writes.
    """
    if synchronous not in SYNCHRONOUS_LEVELS:
        raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)}")
    conn = sqlite3.connect(path, timeout=10, check_same_thread=False)
    db = Database(conn)
    for pragma in ("journal_mode=WAL", f"synchronous={synchronous}", "busy_timeout=10000", "foreign_keys=ON"):
        # Read each result to the end: a pragma's unread row keeps a read
        # snapshot open, and a write from a stale snapshot fails at once with
        # "database is locked" instead of waiting its turn.
        conn.execute(f"PRAGMA {pragma}").fetchall()
    return db


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """A transaction that takes the write lock at once, so what is read
    inside it cannot change before the writes that depend on it. Inside an
    open transaction it is a savepoint, so functions that write can compose."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def query_one(db: Database, sql: str, params: Any = ()) -> dict[str, Any] | None:
    """The first row as a dict, with the statement closed at once: a cursor
    left open holds a read snapshot that would make a later write fail."""
    cursor = db.execute(sql, params)
    try:
        row = cursor.fetchone()
        return None if row is None else dict(zip([c[0] for c in cursor.description], row, strict=True))
    finally:
        cursor.close()


def migrate(db: Database) -> list[str]:
    """Create or upgrade the schema; return the names of migrations applied."""
    pending = [m.name for m in migrations.pending(db)]
    if pending:
        migrations.apply(db)
    return pending


def hash_token(token: str) -> str:
    """The stored form of a result token: a leaked database reveals no links."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_reference() -> str:
    """A short random code for patients to quote at the clinic."""
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def utc_now() -> str:
    """The current time as a UTC ISO timestamp, as stored in created_at."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class SavedScreening:
    """What the caller needs after storing: the code and the secret link token."""

    id: int
    reference: str
    token: str


def save_screening(
    db: Database,
    verdict: Verdict,
    patient: Patient,
    *,
    source: str,
    language: str,
    consent_version: str,
) -> SavedScreening:
    """Store a screening with its verdict; return its reference and token."""
    answers = answers_to_json(verdict.answers)
    row = {
        "created_at": utc_now(),
        "source": source,
        "language": language,
        "patient_name": patient.name,
        "contact_email": patient.email or None,
        "contact_phone": patient.phone or None,
        "birth_date": verdict.role_json("birth_date"),
        "answers": json.dumps(answers, ensure_ascii=False),
        "goals": json.dumps(verdict.role_json("treatment_goals") or [], ensure_ascii=False),
        "status": verdict.status,
        "reasons": json.dumps([r.as_dict() for r in verdict.reasons], ensure_ascii=False),
        "rescreen_after": verdict.rescreen_after.isoformat() if verdict.rescreen_after else None,
        "rules_version": verdict.rules_version,
        "consent_version": consent_version,
    }
    for _ in range(20):
        token = secrets.token_urlsafe(32)
        reference = new_reference()
        try:
            with write_transaction(db):
                cursor = db.execute(
                    "INSERT INTO screenings (reference, token_hash, created_at, source, language, patient_name,"
                    " contact_email, contact_phone, birth_date, answers, goals, status, reasons,"
                    " rescreen_after, rules_version, consent_version)"
                    " VALUES (:reference, :token_hash, :created_at, :source, :language, :patient_name,"
                    " :contact_email, :contact_phone, :birth_date, :answers, :goals, :status, :reasons,"
                    " :rescreen_after, :rules_version, :consent_version)",
                    {**row, "reference": reference, "token_hash": hash_token(token)},
                )
        except sqlite3.IntegrityError:
            # A reference collision (1 in 25^8 per pair): draw again.
            continue
        return SavedScreening(id=int(cursor.lastrowid or 0), reference=reference, token=token)
    raise RuntimeError("could not draw a unique reference code")


def _decode(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    record = dict(row)
    for key in ("answers", "goals", "reasons"):
        if record.get(key) is not None:
            record[key] = json.loads(record[key])
    return record


def get_screening_by_token(db: Database, token: str) -> dict[str, Any] | None:
    """The screening a patient's result link points to, or None."""
    return _decode(query_one(db, "SELECT * FROM screenings WHERE token_hash = ?", [hash_token(token)]))


def get_screening_by_reference(db: Database, reference: str) -> dict[str, Any] | None:
    """The screening with this reference code (case-insensitive), or None."""
    return _decode(query_one(db, "SELECT * FROM screenings WHERE reference = ?", [reference.strip().upper()]))


def count_screenings(db: Database) -> int:
    """How many screenings are stored."""
    return int(db.execute("SELECT count(*) FROM screenings").fetchone()[0])


# --- Practitioners -------------------------------------------------------------


def create_practitioner(db: Database, email: str, name: str, password_hash: str) -> int:
    """Add an account; raise ``sqlite3.IntegrityError`` if the e-mail is taken."""
    cursor = db.execute(
        "INSERT INTO practitioners (email, name, password_hash, active, created_at, failed_logins)"
        " VALUES (?, ?, ?, 1, ?, 0)",
        [email.strip().lower(), name.strip(), password_hash, utc_now()],
    )
    return int(cursor.lastrowid or 0)


def get_practitioner(db: Database, practitioner_id: int) -> dict[str, Any] | None:
    """The account with this id, or None."""
    return query_one(db, "SELECT * FROM practitioners WHERE id = ?", [practitioner_id])


def get_practitioner_by_email(db: Database, email: str) -> dict[str, Any] | None:
    """The account with this e-mail (any case), or None."""
    return query_one(db, "SELECT * FROM practitioners WHERE email = ?", [email.strip().lower()])


def set_practitioner_active(db: Database, email: str, active: bool) -> bool:
    """Activate or deactivate an account; False if there is no such account."""
    cursor = db.execute(
        "UPDATE practitioners SET active = ? WHERE email = ?", [1 if active else 0, email.strip().lower()]
    )
    return cursor.rowcount > 0


# --- Audit -------------------------------------------------------------------


def record_audit(
    db: Database,
    action: str,
    *,
    actor: str | None = None,
    practitioner_id: int | None = None,
    target: str | None = None,
    client_address: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Append one row to the audit log (no patient answers or names in it)."""
    db.execute(
        "INSERT INTO audit_log (at, practitioner_id, actor, action, target, client_address, details)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            utc_now(),
            practitioner_id,
            actor,
            action,
            target,
            client_address,
            json.dumps(dict(details), ensure_ascii=False) if details else None,
        ],
    )


# --- Reviews -------------------------------------------------------------------


def add_review(
    db: Database,
    screening_id: int,
    practitioner_id: int,
    *,
    decision: str,
    status: str,
    reason_code: str | None = None,
    comment: str | None = None,
    notes: str | None = None,
) -> int:
    """Record a decision; it supersedes, never edits, earlier ones."""
    now = utc_now()
    with write_transaction(db):
        cursor = db.execute(
            "INSERT INTO reviews (screening_id, practitioner_id, created_at, decision, status, reason_code,"
            " comment, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [screening_id, practitioner_id, now, decision, status, reason_code, comment, notes],
        )
        db.execute(
            "UPDATE screenings SET reviewed = 1, decided_status = ?, reviewed_at = ? WHERE id = ?",
            [status, now, screening_id],
        )
    return int(cursor.lastrowid or 0)


def list_reviews(db: Database, screening_id: int) -> list[dict[str, Any]]:
    """Every decision on a screening, newest first, with who made it."""
    return list(
        db.query(
            "SELECT reviews.*, practitioners.name AS practitioner_name, practitioners.email AS practitioner_email"
            " FROM reviews JOIN practitioners ON practitioners.id = reviews.practitioner_id"
            " WHERE screening_id = ? ORDER BY reviews.id DESC",
            [screening_id],
        )
    )


# --- Queue ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningFilter:
    """What the queue (and the API's list) is narrowed to."""

    status: str | None = None
    reviewed: bool | None = None
    since: str | None = None  # created_at >= since (UTC ISO date or timestamp)
    until: str | None = None  # created_at < until
    search: str | None = None  # a reference code or words of the patient's name


def _filter_sql(filters: ScreeningFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if filters.status:
        where.append("status = ?")
        params.append(filters.status)
    if filters.reviewed is not None:
        where.append("reviewed = ?")
        params.append(1 if filters.reviewed else 0)
    if filters.since:
        where.append("created_at >= ?")
        params.append(filters.since)
    if filters.until:
        where.append("created_at < ?")
        params.append(filters.until)
    # Control characters (a NUL ends an FTS string early) and quotes are not part of a name.
    term = "".join(" " if ch < " " or ch == '"' else ch for ch in (filters.search or "")).strip()
    if term:
        words = term.split()
        # Prefix match on each word of the name, or an exact reference code.
        fts_query = " ".join(f'"{w}"*' for w in words)
        where.append("(reference = ? OR id IN (SELECT rowid FROM screenings_fts WHERE screenings_fts MATCH ?))")
        params.extend([term.upper(), fts_query])
    elif filters.search:
        where.append("0")  # nothing searchable was typed: nothing matches
    return where, params


def list_screenings(
    db: Database,
    filters: ScreeningFilter = ScreeningFilter(),
    *,
    before: tuple[str, int] | None = None,
    limit: int = 50,
    columns: str = "*",
) -> list[dict[str, Any]]:
    """One page of screenings, newest first.

    Keyset pagination: ``before`` is the (created_at, id) of the last row of
    the previous page, so every page costs the same however deep it is.
    """
    where, params = _filter_sql(filters)
    if before is not None:
        where.append("(created_at, id) < (?, ?)")
        params.extend(before)
    sql = f"SELECT {columns} FROM screenings"  # noqa: S608 - columns come from code, not users
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
    params.append(limit)
    return [_decode(row) or {} for row in db.query(sql, params)]


def count_screenings_by_status(db: Database, filters: ScreeningFilter = ScreeningFilter()) -> dict[str, int]:
    """How many screenings match, per status."""
    where, params = _filter_sql(ScreeningFilter(**{**filters.__dict__, "status": None}))
    sql = "SELECT status, count(*) AS n FROM screenings"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " GROUP BY status"
    return {row["status"]: row["n"] for row in db.query(sql, params)}


# --- API tokens --------------------------------------------------------------------


def create_api_token(db: Database, practitioner_id: int, name: str) -> str:
    """Issue a bearer token; only its hash is kept, so it is shown once."""
    token = secrets.token_urlsafe(32)
    db.execute(
        "INSERT INTO api_tokens (practitioner_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
        [practitioner_id, name.strip(), hash_token(token), utc_now()],
    )
    return token


def get_api_token(db: Database, token: str) -> dict[str, Any] | None:
    """The live (not revoked) token with its owner, if the owner is active."""
    return query_one(
        db,
        "SELECT api_tokens.*, practitioners.email AS practitioner_email FROM api_tokens"
        " JOIN practitioners ON practitioners.id = api_tokens.practitioner_id"
        " WHERE token_hash = ? AND revoked_at IS NULL AND practitioners.active = 1",
        [hash_token(token)],
    )


def revoke_api_tokens(db: Database, practitioner_id: int, name: str) -> int:
    """Revoke a practitioner's live tokens with this name; return how many."""
    cursor = db.execute(
        "UPDATE api_tokens SET revoked_at = ? WHERE practitioner_id = ? AND name = ? AND revoked_at IS NULL",
        [utc_now(), practitioner_id, name.strip()],
    )
    return cursor.rowcount


# --- Practitioner workspace ------------------------------------------------------
# Day-of-session re-confirmation, login lockout, the queue's counts and chart,
# the audit listing and the export. Migrations m010 onward.


@migrations()
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


@migrations()
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


@migrations()
def m012_queue_indexes(db: Database) -> None:
    """Status plus "not reviewed yet" as one index range; the chart's
    per-day counts read from an index alone."""
    table = db.table("screenings")
    table.create_index(["status", "reviewed", "created_at", "id"])
    table.create_index(["created_at", "status"])


# A quarter-hour bucket of a stored UTC timestamp: "2026-11-24T09:45".
_BUCKET_SQL = "substr({t}, 1, 14) || printf('%02d', (CAST(substr({t}, 15, 2) AS INTEGER) / 15) * 15)"


@migrations()
def m013_chart_buckets(db: Database) -> None:
    """Screenings per quarter hour and status, kept by triggers: the 30-day
    chart sums ~2,900 small rows whatever the size of the table. Quarter
    hours, because every time zone's midnight falls on one."""
    db.execute(
        "CREATE TABLE screening_time_buckets (bucket TEXT NOT NULL, status TEXT NOT NULL, n INTEGER NOT NULL,"
        " PRIMARY KEY (bucket, status)) WITHOUT ROWID"
    )
    new_bucket, old_bucket = _BUCKET_SQL.format(t="new.created_at"), _BUCKET_SQL.format(t="old.created_at")
    db.execute(
        "INSERT INTO screening_time_buckets (bucket, status, n) SELECT "  # noqa: S608 - constant SQL
        + _BUCKET_SQL.format(t="created_at")
        + " AS b, status, count(*) FROM screenings GROUP BY b, status"
    )
    add_new = (
        f"INSERT INTO screening_time_buckets (bucket, status, n) VALUES ({new_bucket}, new.status, 1)"  # noqa: S608
        " ON CONFLICT (bucket, status) DO UPDATE SET n = n + 1;"
    )
    remove_old = f"UPDATE screening_time_buckets SET n = n - 1 WHERE bucket = {old_bucket} AND status = old.status;"  # noqa: S608
    db.execute(f"CREATE TRIGGER screening_time_buckets_insert AFTER INSERT ON screenings BEGIN {add_new} END")
    db.execute(f"CREATE TRIGGER screening_time_buckets_delete AFTER DELETE ON screenings BEGIN {remove_old} END")
    db.execute(
        "CREATE TRIGGER screening_time_buckets_update AFTER UPDATE OF status, created_at ON screenings"
        " WHEN old.status IS NOT new.status OR old.created_at IS NOT new.created_at"
        f" BEGIN {remove_old} {add_new} END"
    )


class StaleScreening(Exception):
    """The screening changed after the practitioner loaded it (another
    decision or re-confirmation): they must look again before deciding."""


def get_screening(db: Database, screening_id: int) -> dict[str, Any] | None:
    """The screening with this id, or None."""
    return _decode(query_one(db, "SELECT * FROM screenings WHERE id = ?", [screening_id]))


_REVISION_KEYS = (
    "status",
    "reasons",
    "answers",
    "rescreen_after",
    "rules_version",
    "reviewed",
    "decided_status",
    "reviewed_at",
    "confirmed_at",
)


def screening_revision(screening: Mapping[str, Any]) -> str:
    """A fingerprint of everything a practitioner decides on: it changes with
    every review, re-confirmation or new verdict."""
    payload = json.dumps([screening.get(key) for key in _REVISION_KEYS], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def review_screening(
    db: Database,
    screening_id: int,
    practitioner_id: int,
    revision: str,
    *,
    decision: str,
    status: str,
    reason_code: str | None = None,
    comment: str | None = None,
    notes: str | None = None,
) -> int:
    """Record a decision on the verdict the practitioner saw.

    Raises ``StaleScreening`` if the screening changed since ``revision`` was
    read, and ``ValueError`` if the decision contradicts the verdict (a
    confirmation of another status, an override to the same status, an
    override without a reason and comment).
    """
    with write_transaction(db):
        current = get_screening(db, screening_id)
        if current is None or screening_revision(current) != revision:
            raise StaleScreening(screening_id)
        if decision == "confirm":
            if status != current["status"]:
                raise ValueError("a confirmation keeps the verdict's status")
            reason_code = comment = None
        elif decision == "override":
            if status == current["status"] or not reason_code or not (comment or "").strip():
                raise ValueError("an override changes the status and gives a reason and a comment")
        else:
            raise ValueError(f"unknown decision {decision!r}")
        return add_review(
            db,
            screening_id,
            practitioner_id,
            decision=decision,
            status=status,
            reason_code=reason_code,
            comment=comment,
            notes=notes,
        )


def _verdict_key(
    status: str, rescreen_after: str | None, reasons: list[dict[str, Any]]
) -> tuple[str, str | None, frozenset[tuple[str, tuple[str, ...], str | None]]]:
    # Same status, same dates, same rules fired by the same answers.
    return status, rescreen_after, frozenset((r["rule"], tuple(r["questions"]), r["rescreen_after"]) for r in reasons)


@dataclass(frozen=True)
class Reconfirmation:
    """What a re-confirmation did."""

    id: int
    answers_changed: bool
    verdict_changed: bool


def reconfirm_screening(
    db: Database, screening_id: int, practitioner_id: int, revision: str, verdict: Verdict
) -> Reconfirmation:
    """Store the verdict of today's re-run of the engine on the screening.

    The previous answers and verdict are kept in the ``reconfirmations`` row.
    If the answers or the verdict changed (status, dates, or which rules fired
    on which answers), the earlier decision no longer applies: the screening
    goes back to "not reviewed". Raises ``StaleScreening`` as
    ``review_screening`` does.
    """
    answers = answers_to_json(verdict.answers)
    reasons = [r.as_dict() for r in verdict.reasons]
    with write_transaction(db):
        current = get_screening(db, screening_id)
        if current is None or screening_revision(current) != revision:
            raise StaleScreening(screening_id)
        answers_changed = current["answers"] != answers
        rescreen_after = verdict.rescreen_after.isoformat() if verdict.rescreen_after else None
        verdict_changed = _verdict_key(current["status"], current["rescreen_after"], current["reasons"]) != (
            _verdict_key(verdict.status, rescreen_after, reasons)
        )
        now = utc_now()
        cursor = db.execute(
            "INSERT INTO reconfirmations (screening_id, practitioner_id, created_at, answers_changed, verdict_changed,"
            " previous_answers, previous_status, previous_reasons, previous_rescreen_after, previous_rules_version,"
            " status, rules_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                screening_id,
                practitioner_id,
                now,
                int(answers_changed),
                int(verdict_changed),
                json.dumps(current["answers"], ensure_ascii=False),
                current["status"],
                json.dumps(current["reasons"], ensure_ascii=False),
                current["rescreen_after"],
                current["rules_version"],
                verdict.status,
                verdict.rules_version,
            ],
        )
        # A decision was taken on the answers and verdict the practitioner saw:
        # if either changed, it no longer applies and the screening goes back
        # to "not reviewed" (an override to eligible must not outlive them).
        db.execute(
            "UPDATE screenings SET answers = :answers, goals = :goals, birth_date = :birth_date,"
            " status = :status, reasons = :reasons, rescreen_after = :rescreen_after,"
            " rules_version = :rules_version, confirmed_at = :now,"
            " reviewed = CASE WHEN :reset THEN 0 ELSE reviewed END,"
            " decided_status = CASE WHEN :reset THEN NULL ELSE decided_status END,"
            " reviewed_at = CASE WHEN :reset THEN NULL ELSE reviewed_at END WHERE id = :id",
            {
                "answers": json.dumps(answers, ensure_ascii=False),
                "goals": json.dumps(verdict.role_json("treatment_goals") or [], ensure_ascii=False),
                "birth_date": verdict.role_json("birth_date"),
                "status": verdict.status,
                "reasons": json.dumps(reasons, ensure_ascii=False),
                "rescreen_after": rescreen_after,
                "rules_version": verdict.rules_version,
                "now": now,
                "reset": int(answers_changed or verdict_changed),
                "id": screening_id,
            },
        )
    return Reconfirmation(int(cursor.lastrowid or 0), answers_changed, verdict_changed)


def list_reconfirmations(db: Database, screening_id: int) -> list[dict[str, Any]]:
    """Every re-confirmation of a screening, newest first, with who made it."""
    rows = db.query(
        "SELECT reconfirmations.*, practitioners.name AS practitioner_name,"
        " practitioners.email AS practitioner_email FROM reconfirmations"
        " JOIN practitioners ON practitioners.id = reconfirmations.practitioner_id"
        " WHERE screening_id = ? ORDER BY reconfirmations.id DESC",
        [screening_id],
    )
    records = []
    for row in rows:
        record = dict(row)
        for key in ("previous_answers", "previous_reasons"):
            record[key] = json.loads(record[key])
        records.append(record)
    return records


# Login lockout


def record_login_failure(db: Database, practitioner_id: int, *, limit: int, lock_until: str) -> bool:
    """Count a failed login; at ``limit`` failures in a row, lock the account
    until ``lock_until`` and start counting again. True if this one locked it."""
    with write_transaction(db):
        row = query_one(db, "SELECT failed_logins FROM practitioners WHERE id = ?", [practitioner_id])
        if row is None:
            return False
        failures = int(row["failed_logins"]) + 1
        if failures >= limit:
            db.execute(
                "UPDATE practitioners SET failed_logins = 0, locked_until = ? WHERE id = ?",
                [lock_until, practitioner_id],
            )
            return True
        db.execute("UPDATE practitioners SET failed_logins = ? WHERE id = ?", [failures, practitioner_id])
        return False


def record_login_success(db: Database, practitioner_id: int) -> None:
    """Forget earlier failures after a successful login."""
    db.execute("UPDATE practitioners SET failed_logins = 0, locked_until = NULL WHERE id = ?", [practitioner_id])


def list_practitioners(db: Database) -> list[dict[str, Any]]:
    """Every account (without password hashes), by name."""
    return list(db.query("SELECT id, email, name, active, created_at FROM practitioners ORDER BY name, id"))


# Queue counts and chart


def queue_counts(db: Database, filters: ScreeningFilter = ScreeningFilter()) -> dict[str, int]:
    """How many screenings match ``filters`` (ignoring its status), per status.

    Without a date range or search the trigger-kept totals answer at once;
    otherwise the matching rows are counted.
    """
    if filters.since or filters.until or (filters.search and filters.search.strip()):
        return count_screenings_by_status(db, filters)
    sql = "SELECT status, sum(n) AS n FROM screening_status_counts"
    params: list[Any] = []
    if filters.reviewed is not None:
        sql += " WHERE reviewed = ?"
        params.append(1 if filters.reviewed else 0)
    sql += " GROUP BY status"
    return {row["status"]: int(row["n"]) for row in db.query(sql, params) if row["n"]}


def daily_status_counts(db: Database, days: list[tuple[str, str, str]]) -> dict[tuple[str, str], int]:
    """Screenings per (day, status); ``days`` holds (day, start, end) with
    ``start <= created_at < end`` as UTC timestamps on quarter hours, so days
    can follow the clinic's time zone. Reads the trigger-kept buckets."""
    if not days:
        return {}
    values = ", ".join("(?, ?, ?)" for _ in days)
    sql = (
        f"WITH days(day, start, stop) AS (VALUES {values})"  # noqa: S608 - placeholders only
        " SELECT days.day AS day, b.status AS status, sum(b.n) AS n FROM days"
        " JOIN screening_time_buckets AS b ON b.bucket >= days.start AND b.bucket < days.stop"
        " GROUP BY days.day, b.status"
    )
    # Buckets are "YYYY-MM-DDTHH:MM"; compare with the same prefix of the bounds.
    params = [value for day, start, stop in days for value in (day, start[:16], stop[:16])]
    return {(row["day"], row["status"]): int(row["n"]) for row in db.query(sql, params) if row["n"]}


def iter_screenings(
    db: Database, filters: ScreeningFilter = ScreeningFilter(), *, columns: str = "*", batch: int = 500
) -> Iterator[dict[str, Any]]:
    """Every matching screening, newest first, read a page at a time (keyset)."""
    before: tuple[str, int] | None = None
    while True:
        page = list_screenings(db, filters, before=before, limit=batch, columns=columns)
        yield from page
        if len(page) < batch:
            return
        before = (page[-1]["created_at"], page[-1]["id"])


# Audit listing


@dataclass(frozen=True)
class AuditFilter:
    """What the audit listing is narrowed to."""

    action: str | None = None
    practitioner_id: int | None = None
    targets: tuple[str, ...] = ()  # any of these targets
    since: str | None = None  # at >= since (UTC timestamp)
    until: str | None = None  # at < until


def list_audit(
    db: Database, filters: AuditFilter = AuditFilter(), *, before: tuple[str, int] | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """One page of the audit log, newest first (keyset on (at, id)), with the
    practitioner's name."""
    where: list[str] = []
    params: list[Any] = []
    if filters.action:
        where.append("audit_log.action = ?")
        params.append(filters.action)
    if filters.practitioner_id is not None:
        where.append("audit_log.practitioner_id = ?")
        params.append(filters.practitioner_id)
    if filters.targets:
        where.append(f"audit_log.target IN ({', '.join('?' for _ in filters.targets)})")
        params.extend(filters.targets)
    if filters.since:
        where.append("audit_log.at >= ?")
        params.append(filters.since)
    if filters.until:
        where.append("audit_log.at < ?")
        params.append(filters.until)
    if before is not None:
        where.append("(audit_log.at, audit_log.id) < (?, ?)")
        params.extend(before)
    sql = (
        "SELECT audit_log.*, practitioners.name AS practitioner_name, practitioners.email AS practitioner_email"
        " FROM audit_log LEFT JOIN practitioners ON practitioners.id = audit_log.practitioner_id"
    )
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY audit_log.at DESC, audit_log.id DESC LIMIT ?"
    params.append(limit)
    records = []
    for row in db.query(sql, params):
        record = dict(row)
        record["details"] = json.loads(record["details"]) if record["details"] else {}
        records.append(record)
    return records


def has_live_api_token(db: Database, practitioner_id: int, name: str) -> bool:
    """Whether the practitioner has an unrevoked token with this name."""
    row = query_one(
        db,
        "SELECT 1 AS live FROM api_tokens WHERE practitioner_id = ? AND name = ? AND revoked_at IS NULL",
        [practitioner_id, name.strip()],
    )
    return row is not None


# --- API -------------------------------------------------------------------------------
# Queries of the JSON API (api.py) beyond the shared ones above.


def touch_api_token(db: Database, token_id: int) -> None:
    """Note when a token was last used, so unused ones can be found and revoked."""
    db.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", [utc_now(), token_id])


# --- Data lifecycle ------------------------------------------------------------

# Tables whose rows belong to one screening and go with it.
SCREENING_CHILDREN = ("reviews", "reconfirmations")


def _delete_screenings(db: Database, ids: list[int]) -> dict[str, int]:
    marks = ",".join("?" * len(ids))
    counts = {}
    for table in SCREENING_CHILDREN:
        counts[table] = db.execute(f"DELETE FROM {table} WHERE screening_id IN ({marks})", ids).rowcount  # noqa: S608
    counts["screenings"] = db.execute(f"DELETE FROM screenings WHERE id IN ({marks})", ids).rowcount  # noqa: S608
    return counts


def count_screenings_before(db: Database, cutoff: str) -> int:
    """How many screenings were created before ``cutoff`` (UTC ISO)."""
    return int(db.execute("SELECT count(*) FROM screenings WHERE created_at < ?", [cutoff]).fetchone()[0])


def purge_screenings(db: Database, cutoff: str, *, batch: int = 500) -> Iterator[dict[str, int]]:
    """Delete screenings created before ``cutoff`` with their reviews, in
    small transactions so the app keeps serving; yields running totals."""
    totals = {"screenings": 0, **dict.fromkeys(SCREENING_CHILDREN, 0)}
    while True:
        with write_transaction(db):
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM screenings WHERE created_at < ? ORDER BY created_at, id LIMIT ?", [cutoff, batch]
                ).fetchall()
            ]
            if not ids:
                return
            for table, count in _delete_screenings(db, ids).items():
                totals[table] += count
        yield dict(totals)


def erase_screening(db: Database, reference: str) -> dict[str, int] | None:
    """Erase one patient's screening and everything attached; None if unknown."""
    with write_transaction(db):
        row = db.execute("SELECT id FROM screenings WHERE reference = ?", [reference.strip().upper()]).fetchone()
        if row is None:
            return None
        return _delete_screenings(db, [row[0]])


def backup_database(db: Database, target: str, *, pages: int = 256) -> Iterator[tuple[int, int]]:
    """Copy the live database to ``target`` with SQLite's online backup API;
    yields (pages left, total pages) as it goes. Writers are not blocked."""
    progress: list[tuple[int, int]] = []
    destination = sqlite3.connect(target)
    try:
        db.conn.backup(
            destination, pages=pages, progress=lambda status, remaining, total: progress.append((remaining, total))
        )
    finally:
        destination.close()
    yield from progress
