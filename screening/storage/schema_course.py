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


def m033_courses(db: Database) -> None:
    """A patient's course of sessions: when it began, how many sessions and how far apart."""
    db.table("courses").create(
        {
            "id": int,
            "patient_id": int,
            "practitioner_id": int,
            "created_at": str,
            "started_on": str,
            "planned_sessions": int,
            "interval_days": int,
        },
        pk="id",
        not_null={"patient_id", "practitioner_id", "created_at", "started_on", "planned_sessions", "interval_days"},
        foreign_keys=[("patient_id", "patients", "id"), ("practitioner_id", "practitioners", "id")],
    )
    db.table("courses").create_index(["patient_id", "id"])


def m034_course_sessions(db: Database) -> None:
    """Each session given in a course, on the screening that cleared it."""
    db.table("course_sessions").create(
        {
            "id": int,
            "course_id": int,
            "screening_id": int,
            "practitioner_id": int,
            "created_at": str,
            "given_on": str,
            "number": int,
            "note": str,
            "settings": str,
        },
        pk="id",
        not_null={"course_id", "screening_id", "practitioner_id", "created_at", "given_on", "number"},
        foreign_keys=[
            ("course_id", "courses", "id"),
            ("screening_id", "screenings", "id"),
            ("practitioner_id", "practitioners", "id"),
        ],
    )
    db.table("course_sessions").create_index(["course_id", "number"], unique=True)
    db.table("course_sessions").create_index(["screening_id"])
