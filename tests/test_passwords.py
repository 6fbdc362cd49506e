"""Password strength: zxcvbn's estimate with a minimum score, and a refusal that says why
(on the command line in English, on the web in the reader's language)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening.core.passwords import MIN_SCORE, PASSWORD_MESSAGES, password_problem
from tests.helpers import PASSWORD, page_text, query

# Long enough and on no list, yet guessed in moments: each with why, in both languages.
WEAK = [
    ("aaaaaaaaaaab", "repeats like", "повторы вроде"),
    ("111111111112", "repeats like", "повторы вроде"),
    ("abababababab", "repeats like", "повторы вроде"),
    ("qwertyuiopas", "a commonly used password", "часто используемый пароль"),
    ("clinicclinic", "repeats like", "повторы вроде"),
]
STRONG = "violet lantern under seventeen oaks"


@pytest.mark.parametrize(("password", "why", "_ru"), WEAK)
def test_the_cli_refuses_a_guessable_password_and_says_why(app: Flask, password: str, why: str, _ru: str) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-practitioner", "nina@example.com", "--name", "Nina", "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code == 2
    assert "too easy to guess" in result.stderr and why in result.stderr
    assert query(app, "SELECT * FROM practitioners") == []


def test_the_cli_accepts_a_strong_passphrase(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["create-practitioner", "nina@example.com", "--name", "Nina", "--password-stdin"], input=STRONG + "\n"
    )
    assert result.exit_code == 0, result.output
    assert len(query(app, "SELECT * FROM practitioners")) == 1


@pytest.mark.parametrize(("password", "why", "why_ru"), WEAK)
def test_the_own_password_form_says_why_in_both_languages(
    doctor: FlaskClient, password: str, why: str, why_ru: str
) -> None:
    form = {"current": PASSWORD, "password": password, "confirm": password}
    english = doctor.post("/practitioner/password", data=form, headers={"Accept-Language": "en"})
    assert english.status_code == 400
    assert "This password is too easy to guess" in page_text(english) and why in page_text(english)
    russian = doctor.post("/practitioner/password", data=form, headers={"Accept-Language": "ru"})
    assert russian.status_code == 400
    assert "Этот пароль слишком легко угадать" in page_text(russian) and why_ru in page_text(russian)


def test_the_own_password_form_takes_a_strong_passphrase(app: Flask, doctor: FlaskClient) -> None:
    changed = doctor.post("/practitioner/password", data={"current": PASSWORD, "password": STRONG, "confirm": STRONG})
    assert changed.status_code == 303


def test_a_password_longer_than_zxcvbn_weighs_is_judged_by_its_start() -> None:
    """zxcvbn refuses input over 72 characters; the policy weighs the first 72 instead of failing."""
    assert password_problem("x" * 80 + "y") == "weak_repeats"
    assert password_problem(" ".join([STRONG] * 3)) is None


def test_the_minimum_score_is_the_boundary() -> None:
    """Score 2 is refused, score 3 accepted: the limit is exactly MIN_SCORE."""
    from zxcvbn import zxcvbn

    assert MIN_SCORE == 3
    assert zxcvbn("twelve chars")["score"] == 3 and password_problem("twelve chars") is None
    assert zxcvbn("sunflower19877")["score"] == 2 and password_problem("sunflower19877") is not None


def test_every_reason_has_a_web_message() -> None:
    """Each code the policy can give is worded for the forms too."""
    from screening.practitioner.account_forms import PASSWORD_MESSAGES as WEB_MESSAGES

    assert set(WEB_MESSAGES) == set(PASSWORD_MESSAGES)
