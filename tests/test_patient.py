"""The patient's pages through the test client: questionnaire, errors, result, language."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.storage import connect
from tests.helpers import CLEAR_ANSWERS, PATIENT_FORM, assert_form_kept, build_app


def form_data(**changes: object) -> dict[str, object]:
    data = {**CLEAR_ANSWERS, **PATIENT_FORM, **changes}
    return {k: v for k, v in data.items() if v is not None}


def rows(app: Flask) -> list[dict]:
    db = connect(app.config["DATABASE"])
    try:
        return list(db.query("SELECT * FROM screenings ORDER BY id"))
    finally:
        db.close()


def test_landing_page_describes_the_procedure(client: FlaskClient) -> None:
    response = client.get("/", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Laser facial rejuvenation" in html
    assert "4–6 sessions" in html
    # Two treatments: the patient ticks one or both, the default ticked to begin with.
    assert "IPL photorejuvenation" in html
    assert 'action="/screening"' in html
    assert 'value="laser_rejuvenation" id="procedure-laser_rejuvenation" checked' in html


def test_questionnaire_groups_questions_in_fieldsets(client: FlaskClient, ruleset) -> None:
    html = client.get("/screening", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for question in ruleset.questions:
        assert f'id="q-{question.id}"' in html
    assert html.count("<fieldset") >= len([q for q in ruleset.questions if q.type != "date"])
    assert html.count('type="date"') == 2  # date of birth and the isotretinoin follow-up
    assert "Follow-up question" in html
    for label in ("Your full name", "Email", "Phone"):
        assert label in html
    assert "data-status" not in html


def test_clear_patient_is_stored_and_redirected_to_eligible_result(client: FlaskClient, app: Flask) -> None:
    response = client.post("/screening", data=form_data())
    assert response.status_code == 303
    location = response.headers["Location"]
    assert re.fullmatch(r"/result/[A-Za-z0-9_-]{43}", location)
    (row,) = rows(app)
    assert row["status"] == "eligible"
    assert row["patient_name"] == "Anna Petrova"
    assert row["contact_email"] == "anna@example.com"
    assert row["source"] == "web"
    assert row["birth_date"] == "1990-05-31"
    assert re.fullmatch(r"[ACDEFGHJKMNPQRTUVWXY34679]{8}", row["reference"])
    assert location.split("/")[-1] not in str(row)  # only the token's hash is stored
    page = client.get(location, headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-status="eligible"' in html
    assert row["reference"] in html
    assert "saunas" in html  # aftercare from the clinic's page
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_pregnant_patient_is_deferred_with_the_pregnancy_reason(client: FlaskClient, app: Flask, ruleset) -> None:
    response = client.post("/screening", data=form_data(pregnant="yes"))
    html = client.get(response.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'data-status="deferred"' in html
    pregnancy = next(r for r in ruleset.rules if r.id == "pregnancy")
    assert pregnancy.patient["en"].replace("'", "&#39;") in html
    (row,) = rows(app)
    assert row["status"] == "deferred"
    assert '"rule": "pregnancy"' in row["reasons"]


def test_unsure_answer_gives_review_and_the_clinic_will_call(client: FlaskClient) -> None:
    response = client.post("/screening", data=form_data(epilepsy="unsure"))
    html = client.get(response.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'data-status="review"' in html
    assert "contact you" in html


def test_deferral_with_a_date_says_when_to_come_back(client: FlaskClient) -> None:
    response = client.post("/screening", data=form_data(recent_tan="yes"))
    html = client.get(response.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'data-status="deferred"' in html
    assert "You can fill in the questionnaire again from" in html


def test_hidden_follow_up_is_not_stored(client: FlaskClient, app: Flask) -> None:
    client.post("/screening", data=form_data(isotretinoin="never", isotretinoin_stopped_on="2026-10-01"))
    (row,) = rows(app)
    assert row["status"] == "eligible"
    assert "isotretinoin_stopped_on" not in row["answers"]


def test_missing_answer_shows_errors_and_keeps_every_other_answer(client: FlaskClient, app: Flask) -> None:
    response = client.post(
        "/screening", data=form_data(cancer=None, patient_name="Ivan Ivanov"), headers={"Accept-Language": "en"}
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="error-summary"' in html
    assert 'href="#cancer-0"' in html
    assert "Please answer this question." in html
    assert_form_kept(html, "Ivan Ivanov", "1990-05-31")
    assert rows(app) == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"patient_name": ""}, "patient_name", "Please enter your name."),
        ({"email": "", "phone": ""}, "email", "Please give an email address or a phone number."),
        ({"email": "not-an-email"}, "email", "Please enter an email address like name@example.com."),
        ({"email": "", "phone": "call me"}, "phone", "Please enter a phone number"),
        ({"consent": None}, "consent", "We need your consent to store your answers."),
        ({"date_of_birth": "2030-01-01"}, "date_of_birth", "This date cannot be in the future."),
        ({"pregnant": "perhaps"}, "pregnant", "Please choose one of the answers offered."),
        ({"patient_name": "x" * 201}, "patient_name", "Field cannot be longer than 200 characters."),
    ],
)
def test_field_errors_are_shown_next_to_the_field(
    client: FlaskClient, app: Flask, changes: dict[str, object], field: str, message: str
) -> None:
    response = client.post("/screening", data=form_data(**changes), headers={"Accept-Language": "en"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', html, re.S)
    assert error and message in error.group(1)
    assert rows(app) == []


def test_phone_alone_is_enough(client: FlaskClient, app: Flask) -> None:
    response = client.post("/screening", data=form_data(email="", phone="+7 912 345-67-89"))
    assert response.status_code == 303
    assert rows(app)[0]["contact_phone"] == "+7 912 345-67-89"


def test_unknown_result_token_is_404(client: FlaskClient) -> None:
    response = client.get("/result/" + "a" * 43)
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_csrf_token_is_required(tmp_path) -> None:
    app = build_app(tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    refused = client.post("/screening", data=form_data(patient_name="Olga"), headers={"Accept-Language": "en"})
    assert refused.status_code == 400
    html = refused.get_data(as_text=True)
    assert "This form expired" in html
    assert 'value="Olga"' in html  # nothing typed is lost
    page = client.get("/screening").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    accepted = client.post("/screening", data=form_data(csrf_token=token))
    assert accepted.status_code == 303


def test_language_switch_is_remembered(client: FlaskClient) -> None:
    response = client.get("/language/ru?next=/screening")
    assert response.status_code == 303
    assert response.headers["Location"] == "/screening"
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="ru"' in html
    assert "Лазерное омоложение лица" in html


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_language_switch_is_not_an_open_redirect(client: FlaskClient, target: str) -> None:
    response = client.get("/language/en", query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/screening")
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in response.get_data(as_text=True)
    assert "style=" not in response.get_data(as_text=True)


def test_questionnaire_submissions_are_limited_per_address(tmp_path) -> None:
    app = build_app(tmp_path, RATELIMIT_ENABLED=True, FORM_RATE_LIMIT="3 per minute")
    client = app.test_client()
    statuses = [client.post("/screening", data=form_data()).status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
    page = client.post("/screening", data=form_data(), headers={"Accept-Language": "en"})
    assert "Too many attempts" in page.get_data(as_text=True)
    assert client.get("/screening").status_code == 200  # reading the form is never limited
    assert len(rows(app)) == 3


def test_blank_questionnaire_is_shared_but_every_visitor_gets_their_own_token(tmp_path) -> None:
    app = build_app(tmp_path, WTF_CSRF_ENABLED=True)
    first, second = app.test_client(), app.test_client()
    pages = [c.get("/screening", headers={"Accept-Language": "en"}).get_data(as_text=True) for c in (first, second)]
    tokens = [re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', p).group(1) for p in pages]
    assert tokens[0] != tokens[1]
    assert pages[0].replace(tokens[0], "") == pages[1].replace(tokens[1], "")
    assert "placeholder" not in pages[0]
    assert second.post("/screening", data=form_data(csrf_token=tokens[1])).status_code == 303
    assert first.post("/screening", data=form_data(csrf_token=tokens[1])).status_code == 400  # not its session's
    russian = first.get("/screening", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert 'lang="ru"' in russian


def test_blank_questionnaire_cache_keeps_every_language_of_the_day(app) -> None:
    client = app.test_client()
    for language in ("en", "ru", "en", "ru"):
        client.get("/screening", headers={"Accept-Language": language})
    cache = app.extensions["blank_questionnaire"]
    assert {language for language, _day, _rules in cache} == {"en", "ru"}
    assert len({day for _language, day, _rules in cache}) == 1
    assert {rules for _language, _day, rules in cache} == {app.extensions["ruleset"].digest}
