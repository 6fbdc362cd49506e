"""Answers checked against the same person's recent answers (issue 29, item 2): the rule
file's ``recheck`` declarations, the pure check (``core.history``), what the submitter sees
(a stranger's reply unless the link is proven), and what staff see (the findings box, the
queue's "Needs a decision", the API's read, FHIR). API and queue tests run on both backends."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.detectedissue import DetectedIssue
from flask import Flask
from flask.testing import FlaskClient

from screening.core.engine import screen
from screening.core.history import (
    BEFORE_DEFERRAL,
    CHANGED_ANSWER,
    EarlierScreening,
    find_changes,
    review_verdict,
)
from screening.core.model import RuleSet
from screening.storage.schema_findings import FLAGGED_UNDECIDED_SQL, NEEDS_DECISION_SQL
from screening.web.db import get_db
from tests.helpers import (
    CLEAR_ANSWERS,
    MINIMAL,
    PATIENT_FORM,
    SESSION_SETTINGS,
    assert_refused_at,
    bearer,
    body,
    decide,
    execute,
    make_token,
    page_text,
    query,
    today,
)

DAY = dt.date(2026, 11, 24)


def earlier(
    days_ago: int, status: str = "deferred", rescreen_after: dt.date | None = None, **changes: Any
) -> EarlierScreening:
    """An earlier screening of the same patient, answered ``days_ago`` days before ``DAY``."""
    return EarlierScreening(
        reference="FIRST123",
        answered_on=DAY - dt.timedelta(days=days_ago),
        answers={**CLEAR_ANSWERS, **changes},
        status=status,
        rescreen_after=rescreen_after,
    )


def now_answers(ruleset: RuleSet, **changes: Any) -> dict[str, Any]:
    return dict(screen(ruleset, {**CLEAR_ANSWERS, **changes}, DAY).answers)


# --- The pure check ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "question"),
    [
        ({"recent_tan": "yes"}, {"recent_tan": "no"}, "recent_tan"),
        ({"pregnant": "yes"}, {"pregnant": "no"}, "pregnant"),
        ({"isotretinoin": "current"}, {"isotretinoin": "never"}, "isotretinoin"),
        ({"cancer": "active"}, {"cancer": "none"}, "cancer"),
        ({"anticoagulants": "yes"}, {"anticoagulants": "no"}, "anticoagulants"),
        (
            {"isotretinoin": "stopped", "isotretinoin_stopped_on": "2026-09-01"},
            {"isotretinoin": "stopped", "isotretinoin_stopped_on": "2026-04-01"},
            "isotretinoin_stopped_on",
        ),
    ],
)
def test_a_declared_change_within_its_window_is_a_finding(
    ruleset: RuleSet, before: dict[str, Any], after: dict[str, Any], question: str
) -> None:
    [finding] = find_changes(ruleset, now_answers(ruleset, **after), [earlier(3, status="review", **before)], DAY)
    assert (finding.kind, finding.question, finding.reference) == (CHANGED_ANSWER, question, "FIRST123")
    assert (finding.earlier, finding.now) == (before[question], after[question])
    assert finding.answered_on == DAY - dt.timedelta(days=3)
    assert finding.text == ruleset.question_by_id[question].text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({}, {}),  # nothing changed
        ({"recent_tan": "yes"}, {"recent_tan": "yes"}),  # the same answer again
        ({"recent_tan": "no"}, {"recent_tan": "yes"}),  # a new "yes" is not talked round
        ({"cancer": "active"}, {"cancer": "remission"}),  # treatment ended: not declared
        ({"skin_type": "III"}, {"skin_type": "II"}),  # no recheck on the question
    ],
)
def test_an_undeclared_or_no_change_is_not_a_finding(
    ruleset: RuleSet, before: dict[str, Any], after: dict[str, Any]
) -> None:
    assert find_changes(ruleset, now_answers(ruleset, **after), [earlier(3, status="eligible", **before)], DAY) == []


@pytest.mark.parametrize(("days_ago", "found"), [(0, True), (56, True), (57, False)])
def test_the_tan_answer_counts_for_its_56_days_and_not_a_day_more(ruleset: RuleSet, days_ago: int, found: bool) -> None:
    """The window boundary: ``within_days: 56`` compares an answer given 56 days ago, not 57."""
    assert ruleset.question_by_id["recent_tan"].recheck.within_days == 56  # type: ignore[union-attr]
    findings = find_changes(
        ruleset, now_answers(ruleset, recent_tan="no"), [earlier(days_ago, status="eligible", recent_tan="yes")], DAY
    )
    assert bool(findings) is found


@pytest.mark.parametrize(("until", "found"), [(DAY + dt.timedelta(days=1), True), (DAY, False)])
def test_a_new_screening_before_an_earlier_deferrals_date_is_a_finding(
    ruleset: RuleSet, until: dt.date, found: bool
) -> None:
    findings = find_changes(ruleset, now_answers(ruleset), [earlier(200, rescreen_after=until)], DAY)
    assert [(f.kind, f.reference, f.rescreen_after) for f in findings] == (
        [(BEFORE_DEFERRAL, "FIRST123", until)] if found else []
    )


def test_the_proven_verdict_is_review_with_the_rule_files_reason(ruleset: RuleSet) -> None:
    verdict = screen(ruleset, {**CLEAR_ANSWERS, "recent_tan": "no"}, DAY)
    findings = find_changes(ruleset, verdict.answers, [earlier(3, recent_tan="yes")], DAY)
    changed = review_verdict(ruleset, verdict, findings)
    assert verdict.status == "eligible" and changed.status == "review"
    review = ruleset.recheck_review
    assert review is not None
    [reason] = changed.reasons
    assert (reason.rule, reason.outcome, reason.questions) == (review.id, "review", ("recent_tan",))
    assert "practitioner will look at your answers" in reason.patient["en"]
    # A worse verdict stays; no findings change nothing.
    deferred = screen(ruleset, {**CLEAR_ANSWERS, "herpes_active": "yes"}, DAY)
    assert review_verdict(ruleset, deferred, findings).status == "deferred"
    assert review_verdict(ruleset, verdict, []) is verdict


# --- The rule file ------------------------------------------------------------------

RECHECKED = MINIMAL.replace(
    "    text: Are you pregnant?\n",
    '    text: Are you pregnant?\n    recheck: {within_days: 280, from: ["yes"], to: ["no"]}\n',
    1,
) + (
    "recheck_review:\n  id: changed_answers\n  patient: A practitioner will look at your answers.\n"
    "  practitioner: Answers changed.\n  source: Policy\n"
)


def test_a_valid_recheck_loads() -> None:
    from screening.core.loader import parse_rules

    ruleset = parse_rules(RECHECKED.encode(), "test.yaml")
    recheck = ruleset.question_by_id["pregnant"].recheck
    assert recheck is not None and (recheck.within_days, recheck.from_values, recheck.to_values) == (
        280,
        {"yes"},
        {"no"},
    )
    assert ruleset.recheck_review is not None and ruleset.recheck_review.id == "changed_answers"


RECHECK_LINE = 10  # the line of "recheck:" under "pregnant" in RECHECKED


@pytest.mark.parametrize(
    ("new", "message", "line"),
    [
        (
            '{within_days: 280, from: ["maybe"], to: ["no"]}',
            "question 'pregnant' recheck 'from': 'maybe' is not an option of the question",
            RECHECK_LINE,
        ),
        (
            "{within_days: 280, from: [yes], to: [no, unsure, maybe]}",
            "question 'pregnant' recheck 'to': 'maybe' is not an option of the question",
            RECHECK_LINE,
        ),
        (
            '{within_days: -3, from: ["yes"], to: ["no"]}',
            "question 'pregnant' recheck: within_days must be a whole number of days from 1 to 3660",
            RECHECK_LINE,
        ),
        (
            '{within_days: 280, from: ["yes"], moved: true}',
            "question 'pregnant' recheck: moved is for date questions only",
            RECHECK_LINE,
        ),
        (
            '{within_days: 280, from: ["yes"], unto: ["no"]}',
            "question 'pregnant' recheck has an unknown key 'unto'",
            RECHECK_LINE,
        ),
        ('{within_days: 280, to: ["no"]}', "question 'pregnant' recheck needs 'from'", RECHECK_LINE),
        ('{within_days: 280, from: ["yes"], to: ["yes"]}', "is in both 'from' and 'to'", RECHECK_LINE),
    ],
)
def test_a_bad_recheck_is_refused_at_its_line(new: str, message: str, line: int) -> None:
    assert RECHECKED.splitlines()[RECHECK_LINE - 1].startswith("    recheck:")
    assert_refused_at(RECHECKED, '{within_days: 280, from: ["yes"], to: ["no"]}', new, message, line)


def test_a_date_question_is_rechecked_by_moving() -> None:
    stopped_on = "    text: When?\n"
    assert_refused_at(
        RECHECKED,
        stopped_on,
        stopped_on + '    recheck: {within_days: 90, from: ["yes"]}\n',
        "question 'stopped_on' recheck: a date question has no 'from' values",
        None,
    )
    assert_refused_at(
        RECHECKED,
        stopped_on,
        stopped_on + "    recheck: {within_days: 90}\n",
        "question 'stopped_on' recheck: a date question is rechecked with moved: true",
        None,
    )


def test_a_recheck_needs_the_rule_files_review_text() -> None:
    without = RECHECKED.split("recheck_review:")[0]
    assert_refused_at(
        without, "recheck: {", "recheck: {", "declares recheck, so the rule file needs 'recheck_review'", RECHECK_LINE
    )


# --- What the submitter sees, and what staff see (both backends) ----------------------

FIRST_EMAIL, TYPED_AGAIN = "anna@example.com", "  Anna@Example.COM "


def submit(client: FlaskClient, email: str, name: str = "Anna Example", **answers: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/screenings", json=body({**CLEAR_ANSWERS, **answers}, patient={"name": name, "email": email})
    )
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def without_identity(reply: dict[str, Any]) -> dict[str, Any]:
    """A 201's body without what differs between any two submissions (the reference and link)."""
    return {k: v for k, v in reply.items() if k not in ("reference", "result_url")}


def decide_count(html: str) -> str:
    """The count shown on the queue's "Needs a decision" view."""
    match = re.search(r'class="status-count view-decide"[^>]*><span class="count">([^<]*)</span>', html)
    assert match, html
    return match.group(1)


def decide_view(doctor: FlaskClient) -> str:
    return doctor.get("/practitioner/?reviewed=decide").get_data(as_text=True)


def listed(html: str) -> list[str]:
    """The references of the queue page's rows."""
    return re.findall(r'data-reference="([A-Z0-9]+)"', html)


@pytest.mark.parametrize(
    ("first", "again", "question", "first_status"),
    [
        ({"recent_tan": "yes"}, {"recent_tan": "no"}, "recent_tan", "deferred"),
        ({"pregnant": "yes"}, {"pregnant": "no"}, "pregnant", "deferred"),
        ({"isotretinoin": "current"}, {"isotretinoin": "never"}, "isotretinoin", "deferred"),
        ({"cancer": "active"}, {"cancer": "none"}, "cancer", "ineligible"),
    ],
)
def test_a_changed_answer_typed_again_gets_a_strangers_reply_and_waits_for_staff(
    app: Flask,
    client: FlaskClient,
    doctor: FlaskClient,
    ruleset: RuleSet,
    first: dict[str, Any],
    again: dict[str, Any],
    question: str,
    first_status: str,
) -> None:
    earlier_reply = submit(client, FIRST_EMAIL, **first)
    assert earlier_reply["status"] == first_status
    reply = submit(client, TYPED_AGAIN, **again)
    stranger = submit(client, "someone.else@example.com", **again)
    # Byte for byte what anyone typing those answers gets: nothing of the first screening.
    assert without_identity(reply) == without_identity(stranger)
    assert reply["status"] == "eligible"

    second, other = reply["reference"], stranger["reference"]
    rows = {r["reference"]: r for r in query(app, "SELECT reference, patient_id, flagged FROM screenings")}
    assert rows[second]["patient_id"] == rows[earlier_reply["reference"]]["patient_id"]
    assert (rows[second]["flagged"], rows[other]["flagged"]) == (1, 0)

    detail = doctor.get(f"/practitioner/screening/{second}").get_data(as_text=True)
    box = detail.split('id="findings"')[1].split("</section>")[0]
    assert ruleset.question_by_id[question].text["en"].split()[0] in box
    assert f'href="/practitioner/screening/{earlier_reply["reference"]}"' in box
    assert f'data-question="{question}"' in box
    assert today().isoformat()[:4] in page_text_of(box)
    decide = decide_view(doctor)
    assert second in listed(decide) and other not in listed(decide)
    assert 'class="status-count view-decide"' in decide


def page_text_of(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_staff_reads_name_the_finding_in_the_api_and_fhir(app: Flask, client: FlaskClient) -> None:
    first = submit(client, FIRST_EMAIL, recent_tan="yes")["reference"]
    second = submit(client, TYPED_AGAIN, recent_tan="no")["reference"]
    token, _ = make_token(app)
    read = client.get(f"/api/v1/screenings/{second}", headers=bearer(token)).get_json()
    assert read["needs_decision"] is True and read["status"] == "eligible"
    [changed, deferral] = read["findings"]
    assert (changed["kind"], changed["question"], changed["earlier"], changed["now"]) == (
        "changed_answer",
        "recent_tan",
        "yes",
        "no",
    )
    assert changed["reference"] == first and changed["answered_on"] == today().isoformat()
    assert (deferral["kind"], deferral["reference"]) == ("before_deferral", first)
    assert client.get(f"/api/v1/screenings/{first}", headers=bearer(token)).get_json()["findings"] == []

    bundle = client.get(f"/api/v1/screenings/{second}/fhir", headers=bearer(token)).get_json(force=True)
    Bundle.model_validate(bundle)
    issues = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DetectedIssue"]
    found = [i for i in issues if i["code"]["text"] == "changed_answer"]
    assert len(found) == 1
    DetectedIssue.model_validate(found[0])
    assert {"system": found[0]["implicated"][1]["identifier"]["system"], "value": first} == found[0]["implicated"][1][
        "identifier"
    ]
    assert "recent_tan" in found[0]["detail"]


def test_unchanged_answers_are_not_flagged(app: Flask, client: FlaskClient, doctor: FlaskClient) -> None:
    submit(client, FIRST_EMAIL, anticoagulants="no")
    second = submit(client, TYPED_AGAIN, anticoagulants="no")["reference"]
    [row] = query(app, "SELECT flagged, findings FROM screenings WHERE reference = ?", [second])
    assert (row["flagged"], row["findings"]) == (0, None)
    assert 'id="findings"' not in doctor.get(f"/practitioner/screening/{second}").get_data(as_text=True)
    assert second not in listed(decide_view(doctor))


def test_a_new_screening_before_an_earlier_deferrals_date_is_flagged(
    app: Flask, client: FlaskClient, doctor: FlaskClient
) -> None:
    first = submit(client, FIRST_EMAIL, recent_injectables="yes")
    assert first["status"] == "deferred"
    second = submit(client, TYPED_AGAIN, recent_injectables="yes")  # the same answer: only the date counts
    assert second["status"] == "deferred"
    box = doctor.get(f"/practitioner/screening/{second['reference']}").get_data(as_text=True)
    assert "Screened again before the deferral of screening" in box and first["reference"] in box
    assert second["reference"] in listed(decide_view(doctor))


def test_the_decide_count_adds_flagged_screenings_to_undecided_reviews(
    app: Flask, client: FlaskClient, doctor: FlaskClient
) -> None:
    submit(client, "boris@example.com", "Boris Other", keloids="unsure")  # a review
    first = submit(client, FIRST_EMAIL, recent_tan="yes")["reference"]
    flagged = submit(client, TYPED_AGAIN, recent_tan="no")["reference"]
    html = decide_view(doctor)
    assert decide_count(html) == "2"
    # The same count from the rows, with a search (not the kept totals): the view lists both.
    searched = doctor.get("/practitioner/?reviewed=decide&q=Anna").get_data(as_text=True)
    assert decide_count(searched) == "1" and listed(searched) == [flagged]
    assert first not in listed(html) and flagged in listed(html)
    # Once a practitioner decides it, it leaves "Needs a decision".
    execute(app, "UPDATE screenings SET reviewed = 1, decided_status = 'eligible' WHERE reference = ?", [flagged])
    assert flagged not in listed(decide_view(doctor))


# --- Through the patient's own result link --------------------------------------------


def test_a_change_through_the_patients_own_link_gives_review(
    app: Flask, client: FlaskClient, doctor: FlaskClient, ruleset: RuleSet
) -> None:
    sent = client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM, "anticoagulants": "yes"})
    assert sent.status_code == 303
    result = str(sent.headers["Location"])
    confirms = {f"confirm_{q.section}": "y" for q in ruleset.questions if q.carry_over}
    again = client.post(result + "/again", data={**CLEAR_ANSWERS, **PATIENT_FORM, **confirms, "anticoagulants": "no"})
    assert again.status_code == 303, page_text(again)
    latest = query(app, "SELECT reference, status, flagged, reasons FROM screenings ORDER BY id DESC LIMIT 1")[0]
    assert (latest["status"], latest["flagged"]) == ("review", 1)
    page = page_text(client.get(str(again.headers["Location"])))
    assert "A practitioner will look at your answers before your treatment" in page
    assert "anticoagulant" not in page.lower() and "thin the blood" not in page.lower()
    assert latest["reference"] in listed(decide_view(doctor))


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (
            f"SELECT id FROM screenings{{indexed}} WHERE {NEEDS_DECISION_SQL} ORDER BY created_at DESC, id DESC"
            " LIMIT 51",
            "idx_screenings_needs_decision",
        ),
        (
            f"SELECT count(*) FROM screenings{{indexed}} WHERE {FLAGGED_UNDECIDED_SQL}",
            "idx_screenings_flagged_undecided",
        ),
    ],
)
def test_needs_a_decision_reads_its_partial_index(app: Flask, backend: str, sql: str, index: str) -> None:
    """The queue's page and count of "Needs a decision" stay on an index at a million screenings."""
    with app.app_context():
        db = get_db()
        explain = "EXPLAIN QUERY PLAN" if backend == "sqlite" else "EXPLAIN"
        if backend == "postgresql":
            db.execute("SET enable_seqscan = off")  # a near-empty table is read whole otherwise
        # SQLite is told the index (storage.queue, storage.findings); PostgreSQL finds it.
        indexed = f" INDEXED BY {index}" if backend == "sqlite" else ""
        rows = db.execute(f"{explain} {sql.format(indexed=indexed)}").fetchall()
        if backend == "postgresql":
            db.execute("RESET enable_seqscan")
    plan = " ".join(str(row[-1]) for row in rows)
    # PostgreSQL may count from either partial index: each holds only screenings that wait for a decision.
    assert index in plan or (backend == "postgresql" and "idx_screenings_needs_decision" in plan), plan


def test_no_session_goes_on_a_flagged_screening_before_a_practitioner_decides_it(
    app: Flask, client: FlaskClient, doctor: FlaskClient
) -> None:
    submit(client, FIRST_EMAIL, recent_tan="yes")
    flagged = submit(client, TYPED_AGAIN, recent_tan="no")["reference"]
    started = doctor.post(
        f"/practitioner/screening/{flagged}/course",
        data={"started_on": today().isoformat(), "planned_sessions": "6", "interval_weeks": "4"},
    )
    assert started.status_code == 303
    session = {"given_on": today().isoformat(), "number": "1", "note": "Tolerated well", **SESSION_SETTINGS}
    refused = doctor.post(f"/practitioner/screening/{flagged}/session", data=session)
    assert refused.status_code == 400
    assert "no practitioner decision yet" in page_text(refused)
    assert not query(app, "SELECT id FROM course_sessions")
    # Decided (the one-click confirmation of its verdict), it leaves the queue's work and takes the session.
    assert decide(doctor, flagged, status="eligible").status_code == 303
    assert flagged not in listed(decide_view(doctor))
    assert doctor.post(f"/practitioner/screening/{flagged}/session", data=session).status_code == 303
