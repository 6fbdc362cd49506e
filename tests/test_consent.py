"""The consent the patient signs: versioned texts, the typed signature, the
re-confirmation's two signatures, and the integrity digest."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import ROOT, create_app
from screening.core.consent import ConsentFileError, load_consent, signature_matches, text_digest
from screening.core.loader import parse_rules
from screening.core.model import RuleFileError
from tests.helpers import (
    MINIMAL,
    NAME,
    TEST_CONFIG,
    add_screening,
    body,
    build_app,
    execute,
    page_text,
    query,
    questionnaire_form,
    reconfirm,
    revision_of,
    screening_row,
    signed_in,
)

CONSENT_FOLDER = ROOT / "consent"
EN = {"Accept-Language": "en"}
RU = {"Accept-Language": "ru"}


def file_body(name: str, folder: Path = CONSENT_FOLDER) -> str:
    """A text file's body as the app hashes it: everything after the version line."""
    return (folder / name).read_text(encoding="utf-8").partition("\n")[2].strip("\n") + "\n"


@pytest.mark.parametrize(
    ("headers", "title", "privacy_title"),
    [
        (EN, "Consent to the screening and to storing your answers", "Privacy notice"),
        (RU, "Согласие на анкетирование и хранение ответов", "Уведомление о конфиденциальности"),
    ],
)
def test_the_questionnaire_shows_the_consent_and_links_the_privacy_notice(
    client: FlaskClient, headers: dict[str, str], title: str, privacy_title: str
) -> None:
    html = client.get("/screening", headers=headers).get_data(as_text=True)
    consent = re.search(r'<details class="consent-text" id="consent-text">(.*?)</details>', html, re.S)
    assert consent and title in consent.group(1)
    assert "2026.12.1 · SHA-256" in consent.group(1)
    assert 'href="/privacy"' in html
    # The signature comes after the text, the tick after the signature.
    assert html.index('id="consent-text"') < html.index('name="signature"') < html.index('name="consent"')
    privacy = page_text(client.get("/privacy", headers=headers))
    assert privacy_title in privacy and "2026.12.1" in privacy


def test_a_signed_screening_stores_the_signature_and_the_texts_it_names(app: Flask, client: FlaskClient) -> None:
    headers = {**EN, "User-Agent": "TabletBrowser/1.0"}
    response = client.post("/screening", data=questionnaire_form(signature="  ANNA   petrova "), headers=headers)
    assert response.status_code == 303
    (row,) = query(app, "SELECT * FROM screenings")
    assert row["signature_name"] == "ANNA   petrova"
    assert row["signed_at"] and row["signature_address"] == "127.0.0.1"
    assert row["signature_user_agent"] == "TabletBrowser/1.0"
    assert row["consent_version"] == "2026.12.1"
    assert row["consent_sha256"] == text_digest(file_body("consent.en.md"))
    assert row["privacy_sha256"] == text_digest(file_body("privacy.en.md"))
    texts = {r["sha256"]: r for r in query(app, "SELECT * FROM consent_texts")}
    assert texts[row["consent_sha256"]]["body"] == file_body("consent.en.md")
    assert texts[row["privacy_sha256"]]["kind"] == "privacy"


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, "Please sign: type your full name."),
        ("   ", "Please sign: type your full name."),
        ("Anna Petrovna", "Your signature must be the name you gave under “Your full name”."),
        ("Petrova Anna", "Your signature must be the name you gave under “Your full name”."),
    ],
)
def test_a_wrong_or_missing_signature_keeps_the_patient_on_the_form(
    app: Flask, client: FlaskClient, signature: str | None, message: str
) -> None:
    form = questionnaire_form(signature=signature, skin_type="IV", phone="+7 912 345 67 89")
    response = client.post("/screening", data=form, headers=EN)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    field = re.search(r'<div class="question text-question has-error" id="q-signature">(.*?)</div>', html, re.S)
    assert field and message in field.group(1)
    assert 'aria-invalid="true"' in field.group(1)
    assert f'<a href="#signature">Signature: type your first name and surname – {message}</a>' in html
    # Every other answer is kept.
    assert 'value="Anna Petrova"' in html and 'value="anna@example.com"' in html and 'value="+7 912 345 67 89"' in html
    assert re.search(r'<input checked id="skin_type-\d" name="skin_type" type="radio" value="IV">', html)
    assert 'value="1990-05-31"' in html
    assert re.search(r'<input checked id="consent" name="consent"[^>]*type="checkbox"', html)
    assert query(app, "SELECT count(*) AS n FROM screenings") == [{"n": 0}]


def test_the_russian_form_refuses_a_wrong_signature_in_russian(client: FlaskClient) -> None:
    form = questionnaire_form("Анна Петрова", signature="Анна Иванова")
    text = page_text(client.post("/screening", data=form, headers=RU))
    assert "Подпись должна совпадать с именем, которое вы указали в поле «Имя и фамилия»." in text
    accepted = client.post("/screening", data=questionnaire_form("Анна Петрова", signature="анна петрова"), headers=RU)
    assert accepted.status_code == 303


@pytest.mark.parametrize(
    ("typed", "name", "matches"),
    [
        ("Anna Petrova", "Anna Petrova", True),
        ("anna petrova", "Anna Petrova", True),
        (" Anna  Petrova ", "Anna Petrova", True),
        ("AnnaPetrova", "Anna Petrova", True),
        ("АННА ПЕТРОВА", "Анна Петрова", True),
        ("Anna", "Anna Petrova", False),
        ("Anna Petrov", "Anna Petrova", False),
        ("", "", False),
    ],
)
def test_a_signature_is_the_name_ignoring_case_and_spacing(typed: str, name: str, matches: bool) -> None:
    assert signature_matches(typed, name) is matches


def test_one_changed_word_gives_new_screenings_a_new_version_and_old_ones_keep_their_text(tmp_path: Path) -> None:
    folder = tmp_path / "consent"
    shutil.copytree(CONSENT_FOLDER, folder)
    before = build_app(tmp_path, CONSENT_FOLDER=str(folder))
    assert before.test_client().post("/screening", data=questionnaire_form(), headers=EN).status_code == 303
    english = folder / "consent.en.md"
    english.write_text(english.read_text(encoding="utf-8").replace("true and complete", "true and full"), "utf-8")

    after = build_app(tmp_path, CONSENT_FOLDER=str(folder))  # the same database, the edited text
    patient = after.test_client()
    assert patient.post("/screening", data=questionnaire_form("Boris Ivanov"), headers=EN).status_code == 303
    assert "true and full" in page_text(patient.get("/screening", headers=EN))
    old, new = query(after, "SELECT reference, consent_version, consent_sha256 FROM screenings ORDER BY id")
    assert old["consent_version"] == new["consent_version"] == "2026.12.1"  # nobody changed the version line
    assert old["consent_sha256"] != new["consent_sha256"]  # but the identity did change
    assert old["consent_sha256"] == text_digest(file_body("consent.en.md"))
    assert new["consent_sha256"] == text_digest(file_body("consent.en.md", folder))

    # The old text stays retrievable, word for word, and the old screening names it.
    doctor = signed_in(after)
    detail = doctor.get(f"/practitioner/screening/{old['reference']}").get_data(as_text=True)
    assert f'href="/practitioner/consent/{old["consent_sha256"]}"' in detail
    old_text = page_text(doctor.get(f"/practitioner/consent/{old['consent_sha256']}"))
    assert "true and complete" in old_text and "true and full" not in old_text
    assert "true and full" in page_text(doctor.get(f"/practitioner/consent/{new['consent_sha256']}"))
    assert doctor.get(f"/practitioner/consent/{'0' * 64}").status_code == 404
    assert after.test_client().get(f"/practitioner/consent/{old['consent_sha256']}").status_code == 302  # staff only


def test_a_broken_consent_folder_stops_the_start_up_naming_every_problem(tmp_path: Path) -> None:
    folder = tmp_path / "consent"
    shutil.copytree(CONSENT_FOLDER, folder)
    (folder / "privacy.ru.md").unlink()
    english = folder / "consent.en.md"
    english.write_text(english.read_text(encoding="utf-8").partition("\n")[2], "utf-8")
    with pytest.raises(ConsentFileError) as raised:
        create_app({**TEST_CONFIG, "DATABASE": str(tmp_path / "x.sqlite"), "CONSENT_FOLDER": str(folder)})
    assert raised.value.problems == [
        f"{english}:1: the first line must be 'version: ...'",
        f"{folder / 'privacy.ru.md'}: cannot be read (FileNotFoundError)",
    ]
    assert load_consent(CONSENT_FOLDER, ["en", "ru"]).text("privacy", "ru").version == "2026.12.1"


@pytest.mark.parametrize("field", ["signature", "patient_signature"])
def test_a_question_cannot_take_a_signature_fields_name(field: str) -> None:
    with pytest.raises(RuleFileError, match=f"'{field}' is a reserved name"):
        parse_rules(MINIMAL.replace("id: stopped_on", f"id: {field}").encode(), "test.yaml")


def test_the_api_stores_the_texts_the_patient_agreed_to_without_a_typed_signature(
    app: Flask, client: FlaskClient
) -> None:
    response = client.post("/api/v1/screenings", json=body(), headers=RU)
    assert response.status_code == 201
    row = screening_row(app, response.get_json()["reference"])
    assert row["consent_sha256"] == text_digest(file_body("consent.ru.md"))
    assert row["signature_name"] is None


# --- The day-of-session check: signed by the patient and the practitioner ---------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "The patient must sign: ask them to type their full name."),
        ("Boris Ivanov", "The signature does not match the patient's name on this screening."),
    ],
)
def test_a_reconfirmation_needs_the_patients_signature(
    app: Flask, doctor: FlaskClient, typed: str, message: str
) -> None:
    reference = add_screening(app)["reference"]
    response = reconfirm(doctor, reference, unchanged="y", patient_signature=typed)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    field = re.search(r'id="q-patient_signature">(.*?)</div>', html, re.S)
    assert field and message in field.group(1)
    assert query(app, "SELECT count(*) AS n FROM reconfirmations") == [{"n": 0}]

    changed = {**add_screening(app)["answers"], "keloids": "unsure", "patient_signature": typed}
    second = query(app, "SELECT reference FROM screenings ORDER BY id DESC LIMIT 1")[0]["reference"]
    changed["revision"] = revision_of(doctor, second)
    refused = doctor.post(f"/practitioner/screening/{second}/answers", data=changed)
    assert refused.status_code == 400
    refused_html = refused.get_data(as_text=True)
    assert message in refused_html
    assert re.search(r'<input checked id="keloids-\d" name="keloids" type="radio" value="unsure">', refused_html)
    assert query(app, "SELECT count(*) AS n FROM reconfirmations") == [{"n": 0}]


def test_a_reconfirmation_is_signed_by_the_patient_and_the_practitioner(app: Flask, doctor: FlaskClient) -> None:
    reference = add_screening(app)["reference"]
    response = reconfirm(
        doctor,
        reference,
        unchanged="y",
        patient_signature="anna PETROVA",
    )
    assert response.status_code == 303
    (entry,) = query(app, "SELECT * FROM reconfirmations")
    assert entry["patient_signature_name"] == "anna PETROVA"
    assert entry["patient_signed_at"] and entry["patient_signature_address"] == "127.0.0.1"
    assert entry["practitioner_signature_name"] == NAME
    history = page_text(doctor.get(f"/practitioner/screening/{reference}")).split("History")[-1]
    assert "Signed by the patient: anna PETROVA" in history
    assert f"Signed by the practitioner: {NAME} (ada@example.com)" in history


# --- Integrity -----------------------------------------------------------------------


def test_the_detail_page_says_whether_the_record_still_matches_its_digest(
    app: Flask, client: FlaskClient, doctor: FlaskClient
) -> None:
    client.post("/screening", data=questionnaire_form(), headers=EN)
    (row,) = query(app, "SELECT reference, integrity_sha256 FROM screenings")
    reference, digest = row["reference"], row["integrity_sha256"]
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    text = page_text(doctor.get(f"/practitioner/screening/{reference}"))
    assert "The record matches its integrity digest" in text and digest in text

    # A re-confirmation adds signatures: the digest follows, and still matches.
    assert reconfirm(doctor, reference, unchanged="y").status_code == 303
    renewed = screening_row(app, reference)["integrity_sha256"]
    assert renewed != digest
    assert "The record matches its integrity digest" in page_text(doctor.get(f"/practitioner/screening/{reference}"))

    # Answers changed behind the app's back no longer match.
    execute(app, 'UPDATE screenings SET answers = replace(answers, \'"pregnant": "no"\', \'"pregnant": "yes"\')')
    assert screening_row(app, reference)["answers"]["pregnant"] == "yes"
    text = page_text(doctor.get(f"/practitioner/screening/{reference}"))
    assert "The record does not match its integrity digest" in text

    execute(app, "UPDATE screenings SET integrity_sha256 = NULL")
    assert "No integrity digest" in page_text(doctor.get(f"/practitioner/screening/{reference}"))
