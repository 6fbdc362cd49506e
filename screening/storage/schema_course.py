"""The migrations of the patient record and the course (m032-m034), kept apart
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
