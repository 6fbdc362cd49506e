"""Returning patients: which answers carry over (the rule file's contract), the
patient record that links one person's screenings, and the "has anything
changed?" screening that offers the carried answers for confirmation."""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import storage
from screening.core.carry_over import window_questions
from screening.core.engine import screen
from screening.core.loader import parse_rules
from screening.core.model import RuleSet, pick_text
from screening.patient.returning import carried_sections, drop_unconfirmed, take_confirmed
from screening.web.clinic import get_clinic
from screening.web.db import get_db
from screening.web.i18n import format_iso_date
from tests.helpers import (
    CLEAR_ANSWERS,
    MINIMAL,
    build_app,
    clinic_in_zone,
    create_account,
    execute,
    page_text,
    problems_of,
    query,
    today,
)
from tests.helpers import PATIENT_FORM as SIGNED_PATIENT_FORM

# --- The rule file's carry_over contract -------------------------------------------


# A rule counting a waiting period from the follow-up date (its parent must then offer "unsure").
WINDOW_RULE = """\
  - id: stopped_recently
    when: {stopped_on: {within_months: 6}}
    outcome: deferred
    patient: Come back later.
    practitioner: Stopped recently.
    source: Clinic page
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    type: choice\n    text: Are you pregnant?",
            "    type: choice\n    carry_over: often\n    text: Are you pregnant?",
            "test.yaml:9: question 'pregnant': carry_over must be true or false",
        ),
        (
            "    type: choice\n    text: Are you pregnant?",
            "    type: choice\n    time_sensitive: true\n    carry_over: true\n    text: Are you pregnant?",
            "test.yaml:6: question 'pregnant' is time_sensitive, so it cannot carry_over",
        ),
        (
            "    text: When?",
            "    carry_over: true\n    text: When?",
            "test.yaml:16: question 'stopped_on' is a follow-up of 'stopped', which does not carry_over",
        ),
        (
            "    text: Stopped?",
            "    carry_over: true\n    text: Stopped?",
            None,
        ),
        (
            "  rules:\n",
            "  rules:\n" + WINDOW_RULE,
            None,
        ),
    ],
)
def test_loader_refuses_carry_over_on_stale_answers(old: str, new: str, expected: str | None) -> None:
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1).replace("[never, stopped]", "[never, stopped, unsure]")
    if expected is None:
        parse_rules(text.encode(), "test.yaml")  # valid on its own
        return
    assert expected in problems_of(text)


def test_loader_refuses_carry_over_on_a_question_read_with_a_waiting_period() -> None:
    text = MINIMAL.replace("  rules:\n", "  rules:\n" + WINDOW_RULE, 1).replace(
        "[never, stopped]", "[never, stopped, unsure]"
    )
    text = text.replace("    text: Stopped?", "    carry_over: true\n    text: Stopped?", 1)
    text = text.replace("    text: When?", "    carry_over: true\n    text: When?", 1)
    assert problems_of(text) == [
        "test.yaml:17: question 'stopped_on': a rule counts a waiting period from its answer, so it cannot carry_over"
    ]


def test_carry_over_defaults_to_asking_again() -> None:
    ruleset = parse_rules(MINIMAL.encode(), "test.yaml")
    assert not any(q.carry_over or q.time_sensitive for q in ruleset.questions)
    assert (ruleset.procedure.planned_sessions, ruleset.procedure.interval_weeks) == (6, 4)


@pytest.mark.parametrize("value", ["0", "21", "six", "true"])
def test_loader_refuses_a_bad_course_plan(value: str) -> None:
    text = MINIMAL.replace("  course: 4-6 sessions.\n", f"  course: 4-6 sessions.\n  planned_sessions: {value}\n")
    assert problems_of(text) == ["test.yaml:26: procedure planned_sessions must be a whole number from 1 to 20"]


def test_every_carry_over_rule_of_the_shipped_file(ruleset: RuleSet) -> None:
    """Time-sensitive questions never carry over; each carried one is stable by every test the loader knows."""
    windowed = window_questions(ruleset.rules)
    carried = {q.id for q in ruleset.questions if q.carry_over}
    for question in ruleset.questions:
        # Every question says which it is: carried, or stale and asked afresh.
        assert question.carry_over != question.time_sensitive, question.id
        if question.carry_over:
            assert question.id not in windowed, question.id
            parents = question.show_if.questions() if question.show_if else set()
            assert parents <= carried, question.id
    assert windowed.isdisjoint(carried)
    # The examples, both ways.
    assert {"skin_type", "keloids", "implants", "lifelong_history", "date_of_birth"} <= carried
    assert {"cancer", "other_conditions"}.isdisjoint(carried)  # current states (issue 29)
    stale_sections = {"pregnancy", "skin_now", "medicines", "recent_treatments"}
    for question in ruleset.questions:
        if question.section in stale_sections:
            assert question.time_sensitive and not question.carry_over, question.id
    assert {"pregnant", "breastfeeding", "herpes_active", "recent_tan"}.isdisjoint(carried)


# --- "Has anything changed?" -----------------------------------------------------------

PATIENT_FORM = {**SIGNED_PATIENT_FORM, "patient_name": "Anna Example", "signature": "Anna Example"}


def first_visit(client: FlaskClient, app: Flask, **changes: object) -> str:
    """Screen once through the form, then age the screening a month; return the result page's path."""
    response = client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM, **changes})
    assert response.status_code == 303
    month_ago = (today() - dt.timedelta(days=31)).isoformat()
    execute(app, "UPDATE screenings SET created_at = ?", [f"{month_ago}T09:00:00.000000+00:00"])
    return str(response.headers["Location"])


def chosen(html: str, name: str) -> set[str]:
    """The values of the ticked radio buttons or checkboxes called ``name``."""
    values = set()
    for tag in re.findall(r"<input\b[^>]*>", html):
        if f'name="{name}"' in tag and re.search(r"\schecked\b", tag):
            values.add(re.search(r'value="([^"]*)"', tag).group(1))  # type: ignore[union-attr]
    return values


def date_value(html: str, name: str) -> str:
    tag = next(t for t in re.findall(r"<input\b[^>]*>", html) if f'name="{name}"' in t)
    match = re.search(r'value="([^"]*)"', tag)
    return match.group(1) if match else ""


def confirm_all(ruleset: RuleSet) -> dict[str, str]:
    return {f"confirm_{q.section}": "y" for q in ruleset.questions if q.carry_over}


def test_a_returning_patient_gets_stable_answers_to_confirm_and_stale_ones_empty(
    client: FlaskClient, app: Flask, ruleset: RuleSet, doctor: FlaskClient
) -> None:
    result = first_visit(client, app, skin_type="II", implants="yes")
    page = client.get(result)
    again = re.search(r'href="(/result/[^"]+/again)"', page.get_data(as_text=True))
    assert again and again.group(1) == result + "/again"
    html = client.get(again.group(1)).get_data(as_text=True)
    assert 'value="Anna Example"' in html and 'value="anna@example.com"' in html
    for question in ruleset.questions:
        stored = {**CLEAR_ANSWERS, "skin_type": "II", "implants": "yes"}.get(question.id)
        shown = date_value(html, question.id) if question.type == "date" else chosen(html, question.id)
        if question.carry_over and stored:
            expected = stored if question.type == "date" else set(stored if isinstance(stored, list) else [stored])
            assert shown == expected, question.id
        else:
            assert not shown, question.id  # stale answers are always asked afresh
    assert {"pregnant", "breastfeeding", "herpes_active", "recent_tan"}.isdisjoint(
        q.id for q in ruleset.questions if q.carry_over
    )
    # One "still true" tick under each section with a carried answer.
    ticks = {f"confirm_{q.section}" for q in ruleset.questions if q.carry_over and q.id in CLEAR_ANSWERS}
    assert set(re.findall(r'name="(confirm_[a-z_]+)"', html)) == ticks

    answers = {**CLEAR_ANSWERS, "skin_type": "II", "implants": "yes"}
    sent = client.post(again.group(1), data={**answers, **PATIENT_FORM, **confirm_all(ruleset)})
    assert sent.status_code == 303
    first, second = query(app, "SELECT reference, patient_id, answers, status FROM screenings ORDER BY id")
    assert first["patient_id"] == second["patient_id"]
    # The practitioner sees both on one patient record.
    record = page_text(doctor.get(f"/practitioner/screening/{second['reference']}"))
    assert "Other screenings of this patient" in record and first["reference"] in record
    assert json.loads(second["answers"])["skin_type"] == "II"
    assert second["status"] == "review"  # implants: the carried answer reached the engine once confirmed


def test_an_unconfirmed_carried_answer_is_not_used_but_asked_again(
    client: FlaskClient, app: Flask, ruleset: RuleSet
) -> None:
    result = first_visit(client, app, implants="yes")
    implants_section = ruleset.question_by_id["implants"].section
    confirms = {k: v for k, v in confirm_all(ruleset).items() if k != f"confirm_{implants_section}"}
    answers = {**CLEAR_ANSWERS, "implants": "yes"}
    refused = client.post(result + "/again", data={**answers, **PATIENT_FORM, **confirms})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert not chosen(html, "implants")  # shown empty, to answer afresh
    # One error for the section, naming its tick; the last answer offered as a hint, not an error.
    assert field_errors(html) == ["Tick “Still true” for “Your health”, or answer its questions."]
    assert "Please answer this question." not in page_text(refused)
    assert "Last time you answered: Yes" in page_text(refused)
    assert len(query(app, "SELECT id FROM screenings")) == 1  # nothing stored
    # A carried answer the patient changed is their fresh answer: no tick needed for it.
    changed = {**answers, "implants": "no", "keloids": "unsure"}
    carried_in_section = [
        q.id for q in ruleset.questions if q.carry_over and q.section == implants_section and q.id not in changed
    ]
    for question_id in carried_in_section:  # every other carried answer in the section, answered afresh
        changed[question_id] = CLEAR_ANSWERS[question_id]  # type: ignore[assignment]
    refused_again = client.post(result + "/again", data={**changed, **PATIENT_FORM, **confirms})
    assert refused_again.status_code == 400  # the unchanged, unconfirmed ones are still asked again
    confirms[f"confirm_{implants_section}"] = "y"
    assert client.post(result + "/again", data={**changed, **PATIENT_FORM, **confirms}).status_code == 303
    latest = query(app, "SELECT answers FROM screenings ORDER BY id DESC LIMIT 1")[0]
    assert json.loads(latest["answers"])["implants"] == "no"


def test_the_next_screening_link_needs_the_result_token(client: FlaskClient, app: Flask) -> None:
    first_visit(client, app)
    (row,) = query(app, "SELECT reference FROM screenings")
    assert client.get(f"/result/{row['reference']}/again").status_code == 404
    assert client.post(f"/result/{row['reference']}/again", data=PATIENT_FORM).status_code == 404


def field_errors(html: str) -> list[str]:
    """The error messages shown next to fields, in page order."""
    found = re.findall(r'<p class="field-error"[^>]*>.*?</span>\s*(.*?)</p>', html, flags=re.S)
    return [unescape(message).strip() for message in found]


def summary_entries(html: str) -> list[str]:
    """The entries of the error summary at the top of the page."""
    box = re.search(r'<div class="error-summary".*?</div>', html, flags=re.S)
    return [unescape(entry) for entry in re.findall(r"<li><a [^>]*>(.*?)</a></li>", box.group(0))] if box else []


def as_posted(html: str, **changes: object) -> dict[str, object]:
    """What the page posts back as it stands (every control's current value), with ``changes`` made."""
    values: dict[str, list[str]] = {}
    for tag in re.findall(r"<input\b[^>]*>", html):
        name, value = re.search(r'name="([^"]*)"', tag), re.search(r'value="([^"]*)"', tag)
        ticked = not re.search(r'type="(checkbox|radio)"', tag) or re.search(r"\schecked\b", tag)
        if name is not None and ticked:
            values.setdefault(name.group(1), []).append(unescape(value.group(1)) if value else "")
    data: dict[str, object] = {key: found[0] if len(found) == 1 else found for key, found in values.items()}
    data.update(changes)
    return data


def test_an_unticked_section_keeps_the_date_of_birth_offers_hints_and_goes_through_once_ticked(
    client: FlaskClient, app: Flask, ruleset: RuleSet
) -> None:
    result = first_visit(client, app, skin_type="II", implants="yes")
    page = client.get(result + "/again").get_data(as_text=True)
    about_you = ruleset.question_by_id["date_of_birth"].section
    stale = {q.id: CLEAR_ANSWERS[q.id] for q in ruleset.questions if not q.carry_over and q.id in CLEAR_ANSWERS}
    ticks = {name: "y" for name in re.findall(r'name="(confirm_[a-z_]+)"', page) if name != f"confirm_{about_you}"}
    posted = as_posted(page, **stale, **ticks, consent="y", signature="Anna Example")
    assert posted[f"prefilled_{about_you}"] == "date_of_birth skin_type"  # what the page showed filled in

    refused = client.post(result + "/again", data=posted)
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    message = "Tick “Still true” for “About you”, or answer its questions."
    assert field_errors(html) == [message]  # one error, for the section: not one per question
    assert summary_entries(html) == [f"About you – {message}"]
    assert f'href="#confirm_{about_you}"' in html  # the summary leads to the tick
    # The date of birth and the contact details are kept; the other answer is a hint under an empty question.
    assert date_value(html, "date_of_birth") == "1990-05-31"
    assert 'value="Anna Example"' in html and 'value="anna@example.com"' in html
    assert not chosen(html, "skin_type")
    assert "Last time you answered: Fair: usually burns" in page_text(refused)
    assert chosen(html, "implants") == {"yes"}  # a ticked section keeps its answers
    assert len(query(app, "SELECT id FROM screenings")) == 1

    # Ticking the section confirms the hinted answer too.
    again = as_posted(html, **{f"confirm_{about_you}": "y"})
    assert again[f"prefilled_{about_you}"] == "date_of_birth" and "skin_type" not in again
    assert client.post(result + "/again", data=again).status_code == 303
    latest = json.loads(query(app, "SELECT answers FROM screenings ORDER BY id DESC LIMIT 1")[0]["answers"])
    assert (latest["date_of_birth"], latest["skin_type"], latest["implants"]) == ("1990-05-31", "II", "yes")


def test_a_hinted_question_answered_afresh_is_used_without_the_tick(
    client: FlaskClient, app: Flask, ruleset: RuleSet
) -> None:
    """A question shown empty is a fresh question: the same answer as last time counts, unticked."""
    result = first_visit(client, app, skin_type="II", implants="yes")
    health = ruleset.question_by_id["implants"].section
    stale = {q.id: CLEAR_ANSWERS[q.id] for q in ruleset.questions if not q.carry_over and q.id in CLEAR_ANSWERS}
    page = client.get(result + "/again").get_data(as_text=True)
    ticks = {name: "y" for name in re.findall(r'name="(confirm_[a-z_]+)"', page) if name != f"confirm_{health}"}
    refused = client.post(
        result + "/again", data=as_posted(page, **stale, **ticks, consent="y", signature="Anna Example")
    )
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    carried_health = [q.id for q in ruleset.questions if q.carry_over and q.section == health]
    assert all(not chosen(html, question_id) for question_id in carried_health)
    # Every question of the section answered again, "implants" as last time: no tick needed.
    answers = {q: "no" for q in carried_health if ruleset.question_by_id[q].type == "choice"}
    answers |= {q: ["none"] for q in carried_health if ruleset.question_by_id[q].type == "multi"}
    assert client.post(result + "/again", data=as_posted(html, **{**answers, "implants": "yes"})).status_code == 303
    latest = query(app, "SELECT answers, status FROM screenings ORDER BY id DESC LIMIT 1")[0]
    assert json.loads(latest["answers"])["implants"] == "yes" and latest["status"] == "review"


def test_a_ticked_hint_never_revives_a_hidden_follow_up() -> None:
    """Answers to follow-ups not shown are dropped, even when a tick confirms a carried one."""
    text = MINIMAL.replace("    text: Stopped?", "    carry_over: true\n    text: Stopped?", 1)
    text = text.replace("    text: When?", "    carry_over: true\n    text: When?", 1)
    rules = parse_rules(text.encode(), "test.yaml")
    carried = {"stopped": "stopped", "stopped_on": "2026-01-10"}
    sections = carried_sections(rules, carried)
    raw: dict[str, object] = {"pregnant": "no", "stopped": "never"}  # the parent answered afresh
    assert take_confirmed(raw, carried, sections, {"main"}, prefilled=set()) == ["stopped_on"]
    verdict = screen(rules, raw, dt.date(2026, 11, 24))
    assert "stopped_on" not in verdict.answers and verdict.answers["stopped"] == "never"
    # Unticked, an unchanged answer the page showed filled in is dropped; a hinted one answered afresh stays.
    raw = {"pregnant": "no", "stopped": "stopped", "stopped_on": "2026-01-10"}
    assert drop_unconfirmed(raw, carried, sections, set(), prefilled={"stopped"}) == ["stopped"]
    assert raw == {"pregnant": "no", "stopped_on": "2026-01-10"}


# --- What the result page offers next -----------------------------------------------


def clinic_today(tz: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(tz)).date()


@pytest.mark.parametrize(
    "tz", ["Pacific/Kiritimati", "Pacific/Pago_Pago"]
)  # UTC+14 and UTC-11: one's day is never UTC's
@pytest.mark.parametrize("days_ahead", [0, 1])
def test_a_deferred_patient_answers_again_from_the_deferral_date_in_the_clinics_day(
    tmp_path: Path, tz: str, days_ahead: int
) -> None:
    app = build_app(tmp_path, CLINIC_FILE=clinic_in_zone(tmp_path, tz))
    client = app.test_client()
    sent = client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM, "pregnant": "yes"})
    result = str(sent.headers["Location"])
    opens_on = clinic_today(tz) + dt.timedelta(days=days_ahead)
    execute(app, "UPDATE screenings SET rescreen_after = ?", [opens_on.isoformat()])
    page = client.get(result)
    html = page.get_data(as_text=True)
    assert 'data-status="deferred"' in html
    form = {**CLEAR_ANSWERS, **PATIENT_FORM, **confirm_all(app.extensions["ruleset"])}
    if days_ahead == 0:
        # From the deferral's date (the clinic's day), the link is there and works.
        assert f'href="{result}/again"' in html and "You can answer again from" not in page_text(page)
        assert client.get(result + "/again").status_code == 200
        assert client.post(result + "/again", data=form).status_code == 303
        return
    with app.test_request_context():
        words = format_iso_date(opens_on.isoformat())
    assert f"You can answer again from {words}." in page_text(page)
    assert f'href="{result}/again"' not in html
    # Before it, the link explains and gives the clinic's contact, never the form; a POST is refused alike.
    phone = get_clinic(app).phone
    for refused in (client.get(result + "/again"), client.post(result + "/again", data=form)):
        assert refused.status_code == 403
        text = page_text(refused)
        assert f"Not yet: you can answer again from {words}" in text and phone in text
        assert 'id="questionnaire"' not in refused.get_data(as_text=True)
    assert len(query(app, "SELECT id FROM screenings")) == 1


@pytest.mark.parametrize(("until_days", "opens"), [(1, False), (0, True)])
def test_a_practitioners_deferral_date_decides_when_the_patient_answers_again(
    client: FlaskClient, app: Flask, until_days: int, opens: bool
) -> None:
    """A decided deferral (the rules said "eligible") opens the link on the practitioner's date."""
    result = str(client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM}).headers["Location"])
    until = (today() + dt.timedelta(days=until_days)).isoformat()
    execute(
        app,
        "UPDATE screenings SET reviewed = 1, decided_status = 'deferred', decided_defer_until = ?,"
        " reviewed_at = created_at",
        [until],
    )
    html = client.get(result).get_data(as_text=True)
    assert (f'href="{result}/again"' in html) is opens
    assert client.get(result + "/again").status_code == (200 if opens else 403)


def test_an_ineligible_patient_is_offered_no_new_screening_but_the_clinic(client: FlaskClient, app: Flask) -> None:
    result = str(
        client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM, "cancer": "active"}).headers["Location"]
    )
    page = client.get(result)
    html = page.get_data(as_text=True)
    assert 'data-status="ineligible"' in html
    assert "/again" not in html and "Start my next screening" not in html and "Coming back?" not in page_text(page)
    assert get_clinic(app).phone in page_text(page)
    form = {**CLEAR_ANSWERS, **PATIENT_FORM}
    for refused in (client.get(result + "/again"), client.post(result + "/again", data=form)):
        assert refused.status_code == 403
        text = page_text(refused)
        assert "A new screening is not offered" in text and get_clinic(app).phone in text
        assert 'id="questionnaire"' not in refused.get_data(as_text=True)
    assert len(query(app, "SELECT id FROM screenings")) == 1


def give_a_session(app: Flask, result: str, number: int = 1) -> None:
    """Start a six-session course on the patient record of the screening behind ``result`` and record
    session ``number`` on it, today, as a practitioner would."""
    practitioner = create_account(app)
    with app.app_context():
        db = get_db()
        (row,) = query(app, "SELECT id, patient_id, procedure FROM screenings ORDER BY id DESC LIMIT 1")
        started = (today() - dt.timedelta(days=28 * (number - 1))).isoformat()
        course = storage.start_course(db, row["patient_id"], practitioner, started, 6, 28, procedure=row["procedure"])
        for n in range(1, number + 1):
            storage.record_session(
                db, course, row["id"], practitioner, given_on=today().isoformat(), number=n, note=None, settings=None
            )


def test_a_course_patients_result_page_starts_with_the_course(
    client: FlaskClient, app: Flask, ruleset: RuleSet
) -> None:
    result = str(client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM}).headers["Location"])
    before = page_text(client.get(result))
    assert "Book your first session" in before and "Your course of" not in before
    give_a_session(app, result)
    page = client.get(result)
    html, text = page.get_data(as_text=True), page_text(page)
    # The course first: above the verdict and everything else.
    assert html.index('id="course"') < html.index('class="outcome') < html.index('id="next-title"')
    assert "Session 1 of 6 done." in text and "Next session about" in text
    course = text[: text.index("Your screening result")]
    assert "Before your next session" in course
    assert all(str(pick_text(item, "en")).split()[0] in course for item in ruleset.procedure.preparation)
    # The aftercare once; no first session to book once one is given.
    aftercare = " ".join(str(pick_text(ruleset.procedure.aftercare[0], "en")).split())
    assert text.count(aftercare) == 1 and aftercare in course
    assert "first session" not in text
    assert "Book your next session with the clinic." in text
    assert "nothing in your answers stands in the way of your next session" in text
