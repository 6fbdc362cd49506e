"""The questionnaire as a patient on a phone meets it: sections with progress, the
language switch that keeps answers, errors in page order, words instead of tokens."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import CLEAR_ANSWERS, PATIENT_FORM, assert_form_kept, build_app, page_text

PATIENT = PATIENT_FORM
EN = {"Accept-Language": "en"}


def form_data(**changes: object) -> dict[str, object]:
    data = {**CLEAR_ANSWERS, **PATIENT, **changes}
    return {k: v for k, v in data.items() if v is not None}


def result_page(client: FlaskClient, **changes: object) -> str:
    response = client.post("/screening", data=form_data(**changes))
    assert response.status_code == 303
    return page_text(client.get(response.headers["Location"], headers=EN))


def test_every_section_says_where_the_patient_is(client: FlaskClient) -> None:
    html = client.get("/screening", headers=EN).get_data(as_text=True)
    progress = re.findall(r'<span class="section-progress">Section (\d+) of (\d+)</span>', html)
    count = int(progress[0][1])
    assert [int(n) for n, _ in progress] == list(range(1, count + 1))
    assert {total for _, total in progress} == {str(count)}
    assert re.search(r"<h2[^>]*><span class=\"section-progress\">Section 1 of \d+</span> Your details</h2>", html)


def test_switching_language_keeps_every_answer_typed_so_far(client: FlaskClient) -> None:
    typed = form_data(patient_name="Ivan Ivanov", pregnant="no", cancer=None, date_of_birth="1985-02-03")
    response = client.post("/screening", data={**typed, "switch_language": "ru"}, headers=EN)
    assert response.status_code == 200
    assert "lang=ru" in response.headers["Set-Cookie"]
    html = response.get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert "Анкета" in html
    assert_form_kept(html, "Ivan Ivanov", "1985-02-03")
    assert 'class="field-error"' not in html  # not checked yet: the patient is still typing
    # The language sticks for the rest of the visit.
    assert '<html lang="ru">' in client.get("/").get_data(as_text=True)


def test_switching_to_an_unknown_language_is_404(client: FlaskClient) -> None:
    assert client.post("/screening", data={**form_data(), "switch_language": "xx"}).status_code == 404


def test_the_language_switch_on_the_questionnaire_sends_the_form(client: FlaskClient) -> None:
    html = client.get("/screening", headers=EN).get_data(as_text=True)
    assert re.search(r'<button type="submit" form="questionnaire" name="switch_language" value="ru"', html)


def test_error_summary_follows_the_page_order(client: FlaskClient) -> None:
    response = client.post(
        "/screening", data=form_data(patient_name="", email="bad", cancer=None, consent=None), headers=EN
    )
    assert response.status_code == 400
    summary = re.search(r'<div class="error-summary".*?</div>', response.get_data(as_text=True), re.S)
    assert summary
    anchors = re.findall(r'href="#([^"]+)"', summary.group(0))
    assert anchors == ["patient_name", "email", "cancer-0", "consent"]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_an_expired_form_never_says_csrf(tmp_path, language: str) -> None:
    client = build_app(tmp_path, WTF_CSRF_ENABLED=True).test_client()
    response = client.post("/screening", data=form_data(), headers={"Accept-Language": language})
    assert response.status_code == 400
    text = page_text(response)
    assert "csrf" not in text.lower()
    assert ("This form expired" if language == "en" else "Срок действия формы истёк") in text


def test_a_not_sure_result_names_the_questions_answered_not_sure(client: FlaskClient, ruleset) -> None:
    text = result_page(client, epilepsy="unsure", keloids="unsure")
    assert "You answered “I'm not sure” to:" in text
    for question_id in ("epilepsy", "keloids"):
        assert ruleset.question_by_id[question_id].text["en"] in text
    assert ruleset.question_by_id["pregnant"].text["en"] not in text


def test_a_minor_reads_one_message(client: FlaskClient) -> None:
    fifteen = (dt.date.today() - dt.timedelta(days=15 * 366)).isoformat()
    text = result_page(client, date_of_birth=fifteen)
    assert "A practitioner needs to look at some of your answers" in text
    assert "parent or guardian" in text
    assert "fill in the questionnaire again" not in text.lower()


def test_a_date_of_birth_more_than_110_years_ago_is_refused(client: FlaskClient) -> None:
    response = client.post("/screening", data=form_data(date_of_birth="1905-01-01"), headers=EN)
    assert response.status_code == 400
    error = re.search(r'<p class="field-error" id="date_of_birth-error">(.*?)</p>', response.get_data(as_text=True))
    assert error and "more than 110 years ago" in error.group(1)


@pytest.mark.parametrize(
    ("field", "ticked", "message"),
    [
        ("other_conditions", ["melasma", "unsure"], "You ticked “I&#39;m not sure” and another answer"),
        ("lifelong_history", ["unsure", "gold_therapy"], "You ticked “I&#39;m not sure” and another answer"),
        ("other_conditions", ["none", "face_tattoo"], "You ticked “None of these” and another answer"),
    ],
    ids=["not sure and a condition", "not sure and a treatment", "none and a tattoo"],
)
def test_an_exclusive_option_ticked_with_another_is_refused_beside_the_field(
    client: FlaskClient, field: str, ticked: list[str], message: str
) -> None:
    response = client.post("/screening", data=form_data(**{field: ticked}), headers=EN)
    assert response.status_code == 400
    error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', response.get_data(as_text=True))
    assert error and message in error.group(1)


@pytest.mark.parametrize("path", ["/", "/screening", "result"])
def test_every_public_page_has_a_meta_description(client: FlaskClient, app: Flask, path: str) -> None:
    if path == "result":
        path = client.post("/screening", data=form_data()).headers["Location"]
    html = client.get(path, headers=EN).get_data(as_text=True)
    match = re.search(r'<meta name="description" content="([^"]+)">', html)
    assert match and len(match.group(1)) > 50
