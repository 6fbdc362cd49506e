"""The migrations of the patient record and the course (m032-m034, m038), kept apart
from ``schema`` so that module stays readable; ``schema.migration_set`` applies
them in order after the others. Never edit one once applied."""

from __future__ import annotations

from sqlite_utils import Database

from .patients import link_new_screening


def m032_patients(db: Database) -> None:
    """The patient record: patients, the hashed keys screenings are matched on, and each screening's patient."""
    db.table("patients").create({"id": int, "created_at": str}, pk="id", not_null={"created_at"})
    db.table("patient_keys").create(
        {"key": str, "patient_id": int},
        pk="key",
        not_null={"patient_id"},
        foreign_keys=[("patient_id", "patients", "id")],
    )
    db.table("patient_keys").create_index(["patient_id"])
    db.table("screenings").add_column("patient_id", int)
    db.table("screenings").create_index(["patient_id", "created_at"])
    # Screenings stored before this release join their patients in the order they came.
    rows = db.execute("SELECT id, contact_email, contact_phone, birth_date FROM screenings ORDER BY id").fetchall()
    for screening_id, email, phone, birth_date in rows:
        link_new_screening(db, screening_id, email, phone, birth_date)


def _create_table(
    db: Database, name: str, references: dict[str, str], columns: dict[str, type], *, nullable: tuple[str, ...] = ()
) -> None:
    """A table with an integer ``id``, then an integer column per foreign key
    (column -> table), then ``columns``; every column but ``nullable`` is NOT NULL."""
    table_columns: dict[str, type] = {"id": int, **dict.fromkeys(references, int), **columns}
    db.table(name).create(
        table_columns,
        pk="id",
        not_null=set(table_columns) - {"id", *nullable},
        foreign_keys=[(column, other, "id") for column, other in references.items()],
    )


def m033_courses(db: Database) -> None:
    """A patient's course of sessions: when it began, how many sessions and how far apart."""
    _create_table(
        db,
        "courses",
        {"patient_id": "patients", "practitioner_id": "practitioners"},
        {"created_at": str, "started_on": str, "planned_sessions": int, "interval_days": int},
    )
    db.table("courses").create_index(["patient_id", "id"])


def m034_course_sessions(db: Database) -> None:
    """Each session given in a course, on the screening that cleared it."""
    _create_table(
        db,
        "course_sessions",
        {"course_id": "courses", "screening_id": "screenings", "practitioner_id": "practitioners"},
        {"created_at": str, "given_on": str, "number": int, "note": str, "settings": str},
        nullable=("note", "settings"),
    )
    db.table("course_sessions").create_index(["course_id", "number"], unique=True)
    db.table("course_sessions").create_index(["screening_id"])


# m038: which screenings' links to their patient are proven. A backfill statement
# each backend runs as is, but for reading a number out of the audit row's JSON.
_M038_TABLE = """
CREATE TABLE record_link_requests (
    id {id} PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    screening_id {int} NOT NULL REFERENCES screenings (id),
    patient_id {int} NOT NULL REFERENCES patients (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
)"""
# The audit row of a practitioner's last link or unlink of the screening being updated.
_LAST_HAND_LINK = (
    "a.id = (SELECT max(h.id) FROM audit_log h WHERE h.target = 'screening:' || screenings.reference"
    " AND h.action IN ('patient.link', 'patient.unlink'))"
)
_M038_BACKFILL = (
    # Every linked screening is a suggestion until shown otherwise.
    "UPDATE screenings SET patient_link = 'suggested' WHERE patient_id IS NOT NULL",
    # The earliest screening of a record began it: nothing matched when it came.
    "UPDATE screenings SET patient_link = 'own' WHERE patient_id IS NOT NULL AND NOT EXISTS ("
    " SELECT 1 FROM screenings e WHERE e.patient_id = screenings.patient_id"
    " AND (e.created_at < screenings.created_at OR (e.created_at = screenings.created_at AND e.id < screenings.id)))",
    # Put there by a practitioner, if it is still where they put it.
    "UPDATE screenings SET patient_link = (SELECT CASE a.action WHEN 'patient.link' THEN 'confirmed' ELSE 'own' END"  # noqa: S608
    f" FROM audit_log a WHERE {_LAST_HAND_LINK})"
    f" WHERE patient_id IS NOT NULL AND EXISTS (SELECT 1 FROM audit_log a WHERE {_LAST_HAND_LINK}"
    " AND {patient_of_row} = screenings.patient_id)",
)


def m038_patient_link_proof(db: Database) -> None:
    """Each screening's link to its patient gets a proof state (``storage.patients``), and e-mailed
    one-time links that ask a record's owner to confirm a suggested one.

    Screenings stored before this read safely: the earliest screening of each
    record began it ("own"); every later one joined on typed e-mail or phone and
    date of birth, which anyone may know, so it is "suggested" (staff see it
    marked unconfirmed, the patient's pages no longer show the record) unless a
    practitioner put it there by hand. A hand link is known from the audit log:
    the screening's last ``patient.link`` (or ``patient.unlink``, which gave it a
    record of its own) names the patient it was put on; if the screening is still
    on that patient it is "confirmed" (or "own"). Earlier "answer again"
    screenings left no trace of their proof, so they stay "suggested" until the
    patient or a practitioner confirms them; a screening without a patient keeps
    no state.
    """
    db.execute("ALTER TABLE screenings ADD COLUMN patient_link TEXT")
    for statement in _M038_BACKFILL:
        db.execute(statement.format(patient_of_row="json_extract(a.details, '$.patient')"))
    db.execute(_M038_TABLE.format(id="INTEGER", int="INTEGER"))
    db.execute("CREATE INDEX idx_record_link_requests_screening_id ON record_link_requests (screening_id)")


M038_POSTGRESQL = ";\n".join(
    [
        "ALTER TABLE screenings ADD COLUMN patient_link TEXT",
        *(s.format(patient_of_row="CAST(a.details::jsonb ->> 'patient' AS BIGINT)") for s in _M038_BACKFILL),
        _M038_TABLE.format(id="BIGINT GENERATED BY DEFAULT AS IDENTITY", int="BIGINT"),
        "CREATE INDEX idx_record_link_requests_screening_id ON record_link_requests (screening_id)",
    ]
)


# m044: a session's settings, typed, beside the old free-text ``settings`` (kept for the rows before it).
# (column, SQLite type, PostgreSQL type); every one nullable: sessions recorded before m044 have none.
SESSION_SETTING_COLUMNS = (
    ("device", "TEXT", "TEXT"),
    ("handpiece", "TEXT", "TEXT"),
    ("wavelength_nm", "INTEGER", "BIGINT"),
    ("fluence_j_cm2", "REAL", "DOUBLE PRECISION"),
    ("pulse_ms", "REAL", "DOUBLE PRECISION"),
    ("spot_mm", "REAL", "DOUBLE PRECISION"),
    ("passes", "INTEGER", "BIGINT"),
    ("cooling", "TEXT", "TEXT"),
    ("endpoint", "TEXT", "TEXT"),
    ("immediate_reaction", "TEXT", "TEXT"),
    # The practitioner's reason for settings outside the clinic's protocol, and which they were
    # (core.session_check finding codes, comma-separated): the course page and chart PDF highlight them.
    ("override_reason", "TEXT", "TEXT"),
    ("outside_protocol", "TEXT", "TEXT"),
)


def m044_session_settings(db: Database) -> None:
    """Each session's device and settings as typed columns, checked against devices.yaml's protocol."""
    for column, sqlite_type, _postgres_type in SESSION_SETTING_COLUMNS:
        db.execute(f"ALTER TABLE course_sessions ADD COLUMN {column} {sqlite_type}")


M044_POSTGRESQL = ";\n".join(
    f"ALTER TABLE course_sessions ADD COLUMN {column} {postgres_type}"
    for column, _sqlite_type, postgres_type in SESSION_SETTING_COLUMNS
)
