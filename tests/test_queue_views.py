"""The queue separates work from information, and finds a patient by e-mail or phone."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import storage
from screening.practitioner import queue as practitioner_queue
from screening.storage import queue as storage_queue
from screening.web.db import get_db
from tests.helpers import add_screening, execute


def references(html: str) -> list[str]:
    return re.findall(r'data-reference="([A-Z0-9]+)"', html)


@pytest.fixture
def bola(app: Flask) -> str:
    """A screening with Bola's e-mail and phone among others'."""
    anna = add_screening(app, "Anna Petrova")
    execute(app, "UPDATE screenings SET contact_phone = ? WHERE reference = ?", ["+7 495 123 45 67", anna["reference"]])
    screening = add_screening(app, "Bola Adeyemi")
    execute(
        app,
        "UPDATE screenings SET contact_email = ?, contact_phone = ? WHERE reference = ?",
        ["Bola@Example.com", "+7 (912) 000-11-22", screening["reference"]],
    )
    return str(screening["reference"])


@pytest.mark.parametrize(
    "typed",
    ["bola@example.com", "BOLA@example.com", "+7 912", "7912", "+79120001122", "7 912 000 11 22", "7(912)000"],
)
def test_the_search_finds_a_screening_by_e_mail_and_by_phone(doctor: FlaskClient, bola: str, typed: str) -> None:
    html = doctor.get("/practitioner/", query_string={"q": typed}).get_data(as_text=True)
    assert references(html) == [bola]


@pytest.mark.parametrize("typed", ["bola@example.org", "+7 913", "912 000"])
def test_the_search_finds_no_one_for_another_e_mail_or_number(doctor: FlaskClient, bola: str, typed: str) -> None:
    html = doctor.get("/practitioner/", query_string={"q": typed}).get_data(as_text=True)
    assert references(html) == []


def test_phone_search_reads_an_index(app: Flask, backend: str) -> None:
    with app.app_context():
        db = get_db()
        explain = "EXPLAIN QUERY PLAN" if backend == "sqlite" else "EXPLAIN"
        if backend == "postgresql":
            db.execute("SET enable_seqscan = off")  # a near-empty table is read whole otherwise
        rows = db.execute(
            f"{explain} SELECT id FROM screenings WHERE contact_phone_digits >= ? AND contact_phone_digits < ?",
            ["7912", "7912:"],
        ).fetchall()
        if backend == "postgresql":
            db.execute("RESET enable_seqscan")
    assert "idx_screenings_phone_digits" in " ".join(str(row[-1]) for row in rows)


def test_needs_a_decision_lists_only_what_a_practitioner_must_decide(app: Flask, doctor: FlaskClient) -> None:
    review = add_screening(app, keloids="unsure")
    deferred = add_screening(app, pregnant="yes")
    ineligible = add_screening(app, cancer="active")
    add_screening(app)
    queue = doctor.get("/practitioner/").get_data(as_text=True)
    link = re.search(r'<a class="status-count view-decide" href="([^"]+)"', queue)
    assert link
    html = doctor.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert references(html) == [review["reference"]]
    assert 'class="status-count view-decide" href="/practitioner/?reviewed=decide" aria-current="page"' in html
    deferred_view = doctor.get("/practitioner/", query_string={"status": "deferred"}).get_data(as_text=True)
    assert references(deferred_view) == [deferred["reference"]]
    ineligible_view = doctor.get("/practitioner/", query_string={"status": "ineligible"}).get_data(as_text=True)
    assert references(ineligible_view) == [ineligible["reference"]]


def test_the_phone_digits_follow_a_changed_phone(app: Flask, bola: str) -> None:
    execute(app, "UPDATE screenings SET contact_phone = ? WHERE reference = ?", ["+44 20 7946 0000", bola])
    with app.app_context():
        found = storage.list_screenings(get_db(), storage.ScreeningFilter(search="+44 20"))
    assert [row["reference"] for row in found] == [bola]


def view_counts(html: str) -> dict[str, str]:
    return dict(re.findall(r'class="status-count view-(\w+)"[^>]*><span class="count">([^<]+)</span>', html))


@pytest.mark.parametrize("walk_from", [1, 10_000], ids=["common-name", "rare-name"])
def test_a_search_matching_more_than_the_count_limit_says_so(
    app: Flask, doctor: FlaskClient, monkeypatch: pytest.MonkeyPatch, walk_from: int
) -> None:
    """Counting every match of a common name grows with the records: past the limit the queue says "3+"."""
    monkeypatch.setattr(practitioner_queue, "COUNT_LIMIT", 3)
    monkeypatch.setattr(storage_queue, "WALK_THE_TIME_INDEX_FROM", walk_from)
    for _ in range(4):
        add_screening(app, "Anna Smith")
    add_screening(app, "Anna Smith", keloids="unsure")
    add_screening(app, "Bola Adeyemi")
    searched = doctor.get("/practitioner/", query_string={"q": "smith"}).get_data(as_text=True)
    assert view_counts(searched) == {"decide": "1", "deferred": "–", "ineligible": "–", "eligible": "–", "all": "3+"}
    assert "More than 3 screenings match" in searched
    assert len(references(searched)) == 5  # the list itself is not cut short
    everyone = doctor.get("/practitioner/").get_data(as_text=True)  # the trigger-kept totals: exact
    assert view_counts(everyone) == {"decide": "1", "deferred": "0", "ineligible": "0", "eligible": "5", "all": "6"}
    assert "More than" not in everyone
    monkeypatch.setattr(practitioner_queue, "COUNT_LIMIT", 5)
    exact = doctor.get("/practitioner/", query_string={"q": "smith"}).get_data(as_text=True)
    assert view_counts(exact) == {"decide": "1", "deferred": "0", "ineligible": "0", "eligible": "4", "all": "5"}
