"""One rule for every free-text field (core/text.py): control and text-direction
characters are refused, text of only invisible characters counts as empty; and
one e-mail address per field (email-validator). Through the form and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.core.text import InvalidText, clean_text, is_blank
from screening.practitioner.forms import DECISION_MESSAGES
from tests.helpers import (
    CLEAR_ANSWERS,
    PATIENT_FORM,
    SESSION_SETTINGS,
    add_screening,
    body,
    override_to_eligible,
    page_text,
    query,
)

# Names that show nothing: Hangul filler, zero-width joiner, soft hyphen, zero-width spaces,
# the Hangul choseong/jungseong and half-width fillers, a BOM between spaces.
INVISIBLE = ["\u3164", "\u200d", "\u00ad", "\u200b\u200b", "\u115f\u1160", "\uffa0", " \ufeff \u2060 ", "\u3164 \u200c"]
# Text-direction override (RLO), NUL, BEL, ESC, the other bidi controls, DEL and a C1 control.
HIDDEN = ["Anna \u202eelpmaxE", "Anna\x00", "Anna\x07", "Anna \x1b[31mExample", "Anna\u2066x", "Anna\u200fx"]
HIDDEN += ["Anna\x7f", "Anna\x85x"]


def form_post(client: FlaskClient, **patient: str) -> Any:
    return client.post("/screening", data={**CLEAR_ANSWERS, **PATIENT_FORM, **patient})


# --- The core rule ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", *INVISIBLE, "\t\n", "\r\n \u2028"])
def test_invisible_text_is_blank(text: str) -> None:
    assert is_blank(text)
    assert clean_text(text, multiline=True) == ""
    with pytest.raises(InvalidText, match="required"):
        clean_text(text, multiline=True, required=True)


@pytest.mark.parametrize("text", ["a", "a\u3164b", "-", "👩\u200d⚕️", "نرگس\u200cمحمدی"])
def test_visible_text_is_not_blank(text: str) -> None:
    assert not is_blank(text) and not is_blank(f"\u3164{text}\u200b")
    assert clean_text(text) == text


@pytest.mark.parametrize("text", HIDDEN)
@pytest.mark.parametrize("multiline", [False, True])
def test_control_and_direction_characters_are_refused(text: str, multiline: bool) -> None:
    with pytest.raises(InvalidText, match="invalid_characters"):
        clean_text(text, multiline=multiline)


def test_line_breaks_and_tabs_only_in_multi_line_text() -> None:
    assert clean_text("Line one\r\n\tline two", multiline=True) == "Line one\r\n\tline two"
    with pytest.raises(InvalidText):
        clean_text("Line one\nline two")


def test_invisible_characters_around_text_are_trimmed() -> None:
    assert clean_text(" \u200bAnna Example\u00ad\ufeff ") == "Anna Example"


# --- Patient names: the form and the API --------------------------------------------


@pytest.mark.parametrize("name", INVISIBLE)
def test_a_name_of_only_invisible_characters_is_missing(app: Flask, client: FlaskClient, name: str) -> None:
    api = client.post("/api/v1/screenings", json=body(patient={"name": name, "email": "anna@example.com"}))
    assert api.status_code == 400 and api.get_json()["errors"]["patient.name"] == ["is required"]
    form = form_post(client, patient_name=name, signature=name)
    assert form.status_code == 400
    assert "Please enter your name." in page_text(form)
    assert 'value="anna@example.com"' in form.get_data(as_text=True)  # the other answers are kept
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 0}]


@pytest.mark.parametrize("name", HIDDEN)
def test_a_name_with_control_or_direction_characters_is_refused(app: Flask, client: FlaskClient, name: str) -> None:
    api = client.post("/api/v1/screenings", json=body(patient={"name": name, "email": "anna@example.com"}))
    assert api.status_code == 400
    assert api.get_json()["errors"]["patient.name"] == [
        "must not contain control characters or text-direction overrides"
    ]
    form = form_post(client, patient_name=name, signature=name)
    assert form.status_code == 400
    assert "Please use only letters, digits, spaces and punctuation." in page_text(form)
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 0}]


def test_a_name_with_a_joiner_inside_is_kept(app: Flask, client: FlaskClient) -> None:
    name = "نرگس\u200cمحمدی"  # the zero-width non-joiner is part of the Persian spelling
    api = client.post("/api/v1/screenings", json=body(patient={"name": f"\u200b{name} ", "email": "n@example.com"}))
    assert api.status_code == 201
    assert query(app, "SELECT patient_name FROM screenings") == [{"patient_name": name}]


# --- Comments and notes of a decision ------------------------------------------------


@pytest.mark.parametrize("comment", [*INVISIBLE, "\r\n\t"])
def test_an_invisible_comment_is_no_comment(app: Flask, doctor: FlaskClient, comment: str) -> None:
    reference = add_screening(app, pregnant="yes")["reference"]  # a definite verdict: an override needs a comment
    response = override_to_eligible(doctor, reference, "physician_clearance", comment)
    assert response.status_code == 400
    with app.test_request_context():
        assert str(DECISION_MESSAGES["comment_missing"]) in page_text(response)
    assert query(app, "SELECT * FROM reviews") == []


@pytest.mark.parametrize("field", ["comment", "notes"])
@pytest.mark.parametrize("hidden", ["\u202e", "\x00", "\x07", "\x1b", "\u200e", "\u2067"])
def test_control_and_direction_characters_in_comments_and_notes_are_refused(
    app: Flask, doctor: FlaskClient, field: str, hidden: str
) -> None:
    reference = add_screening(app, pregnant="yes")["reference"]
    texts = {"comment": "Cleared by her GP", "notes": "Test patch first"}
    texts[field] = f"Cleared {hidden}by her GP"
    response = override_to_eligible(doctor, reference, "physician_clearance", texts["comment"], notes=texts["notes"])
    assert response.status_code == 400
    assert "Remove the control or text-direction characters" in page_text(response)
    assert query(app, "SELECT * FROM reviews") == []


def test_a_multi_line_comment_is_recorded(app: Flask, doctor: FlaskClient) -> None:
    reference = add_screening(app, pregnant="yes")["reference"]
    response = override_to_eligible(doctor, reference, "physician_clearance", "Seen today.\r\n\tNot pregnant.")
    assert response.status_code == 303
    (row,) = query(app, "SELECT comment FROM reviews")
    assert row["comment"].split() == ["Seen", "today.", "Not", "pregnant."]


# --- Session notes and account names -------------------------------------------------


@pytest.mark.parametrize(("field", "text"), [("note", "Tolerated\x00 well"), ("endpoint", "Mild erythema\u202e, even")])
def test_session_notes_with_hidden_characters_are_refused(
    app: Flask, doctor: FlaskClient, field: str, text: str
) -> None:
    reference = add_screening(app)["reference"]
    today = dt.date.today().isoformat()
    course = {"started_on": today, "planned_sessions": "6", "interval_weeks": "4"}
    assert doctor.post(f"/practitioner/screening/{reference}/course", data=course).status_code == 303
    session = {"given_on": today, "number": "1", "note": "Tolerated well", **SESSION_SETTINGS}
    path = f"/practitioner/screening/{reference}/session"
    response = doctor.post(path, data={**session, field: text})
    assert response.status_code == 400
    assert "Remove the control or text-direction characters" in page_text(response)
    assert query(app, "SELECT * FROM course_sessions") == []
    assert "Remove the control" not in page_text(doctor.post(path, data=session))  # the same without them


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("\u3164", "Enter the person's name."),
        ("\u200b\u00ad", "Enter the person's name."),
        ("Nina \u202eesruN", "Please use only letters, digits, spaces and punctuation."),
        ("Nina\x1bNurse", "Please use only letters, digits, spaces and punctuation."),
    ],
)
def test_account_names_follow_the_rule(app: Flask, admin: FlaskClient, name: str, message: str) -> None:
    response = admin.post(
        "/practitioner/accounts", data={"email": "nina@example.com", "name": name, "role": "reception"}
    )
    assert response.status_code == 400 and message in page_text(response)
    assert query(app, "SELECT * FROM practitioners WHERE email = 'nina@example.com'") == []


@pytest.mark.parametrize("name", ["\u3164", "\u200d\u200b"])
def test_the_cli_refuses_an_invisible_account_name(app: Flask, name: str) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-practitioner", "nina@example.com", "--name", name, "--password-stdin"],
        input="a long enough passphrase for nina\n",
    )
    assert result.exit_code == 2 and "the name must have 1 to" in result.output


# --- One e-mail address per field -----------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "reception,pat@example.com",
        "pat@example.com, reception@example.com",
        "pat@example.com;reception@example.com",
        "pat@example.com reception@example.com",
        "Pat <pat@example.com>",
        "pat@example",
        "pat@@example.com",
    ],
)
def test_a_list_or_a_malformed_address_is_refused(app: Flask, client: FlaskClient, email: str) -> None:
    api = client.post("/api/v1/screenings", json=body(patient={"name": "Anna Example", "email": email}))
    assert api.status_code == 400
    assert api.get_json()["errors"]["patient.email"] == ["must be one email address like name@example.com"]
    form = form_post(client, email=email, phone="+7 912 345 67 89")
    assert form.status_code == 400
    assert "Please enter an email address like name@example.com." in page_text(form)
    html = form.get_data(as_text=True)
    assert 'value="Anna Petrova"' in html and 'value="+7 912 345 67 89"' in html  # the other answers are kept
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 0}]


@pytest.mark.parametrize(
    "email", ["pat@example.com", "Pat.O'Neil+laser@Example.COM", "josé@exämple.com", "用户@例子.广告", "a@b.co"]
)
def test_one_address_is_accepted_internationalised_too(app: Flask, client: FlaskClient, email: str) -> None:
    api = client.post("/api/v1/screenings", json=body(patient={"name": "Anna Example", "email": f" {email} "}))
    assert api.status_code == 201, api.get_json()
    form = form_post(client, email=email)
    assert form.status_code == 303
    assert [row["email"] for row in query(app, "SELECT contact_email AS email FROM screenings")] == [email, email]
