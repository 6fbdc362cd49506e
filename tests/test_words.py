"""Words, not identifiers, where staff read: rule titles, conditions, audit actions."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.core.model import pick_text
from tests.helpers import add_screening, page_text, reconfirm

EN = {"Accept-Language": "en"}
RU = {"Accept-Language": "ru"}


@pytest.mark.parametrize(
    ("headers", "title", "raw"),
    [(EN, "Pregnancy", "pregnancy"), (RU, "Беременность", "pregnancy")],
)
def test_the_detail_page_heads_each_reason_with_the_rule_title(
    app: Flask, doctor: FlaskClient, headers: dict[str, str], title: str, raw: str
) -> None:
    screening = add_screening(app, pregnant="yes", epilepsy="unsure")
    html = doctor.get(f"/practitioner/screening/{screening['reference']}", headers=headers).get_data(as_text=True)
    assert f"<strong>{title}</strong>" in html
    assert f">{raw}<" not in html and ">unsure_answer<" not in html


def test_the_rules_page_says_conditions_with_question_texts_and_option_labels(doctor: FlaskClient, ruleset) -> None:
    text = page_text(doctor.get("/practitioner/rules", headers=EN))
    cancer = pick_text(ruleset.question_by_id["cancer"].text, "en")
    active = next(pick_text(o.label, "en") for o in ruleset.question_by_id["cancer"].options if o.value == "active")
    assert f"When “{cancer}” is “{active}”" in text
    assert 'cancer is "active"' not in text
    assert "gives an age under 18" in text
    assert "any answer is “I'm not sure”" in text
    assert "Active malignancy" in text


def test_the_rules_page_in_russian(doctor: FlaskClient, ruleset) -> None:
    text = page_text(doctor.get("/practitioner/rules", headers=RU))
    pregnant = pick_text(ruleset.question_by_id["pregnant"].text, "ru")
    assert f"«{pregnant}»" in text or f"“{pregnant}” — “Да”" in text
    assert "любой ответ" in text


def test_the_audit_log_says_actions_and_details_in_words(app: Flask, doctor: FlaskClient, admin: FlaskClient) -> None:
    screening = add_screening(app)
    assert reconfirm(doctor, screening["reference"], unchanged="y").status_code == 303
    text = page_text(admin.get("/practitioner/audit", headers=EN))
    assert "Viewed a screening" in text
    assert "Re-confirmed answers on the day" in text
    assert "answers changed: no" in text
    assert "screening.view" not in text.replace('value="screening.view"', "")
    assert "answers_changed=" not in text
    assert f"Screening {screening['reference']}" in text and "screening:" not in text
