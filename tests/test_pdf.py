"""The patient's and the chart's PDFs, read back as a person's PDF reader would
(``pdftotext``, pypdf). Each document is rendered once for the module."""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader

from screening import ROOT
from screening.core.model import RuleSet
from screening.documents import FONT_FOLDER, RefusedResource, shipped_font, url_fetcher
from screening.practitioner.words import rule_titles
from tests.helpers import (
    NAME,
    SESSION_SETTINGS,
    add_screening,
    audit_rows,
    build_app,
    decide,
    query,
    questionnaire_form,
    reconfirm,
    screening_row,
    signed_in,
    today,
)

EN = {"Accept-Language": "en"}
RU = {"Accept-Language": "ru"}
A4_POINTS = (595, 842)
COMMENT = "Tan fading; patient shows photos from last week."


@dataclass
class Document:
    """A downloaded PDF: its response, its pages' text (spaces collapsed) and its reader."""

    response: Any
    pages: list[str]
    reader: PdfReader

    @property
    def text(self) -> str:
        """Every page's text, in order."""
        return " ".join(self.pages)


def read_pdf(response: Any) -> Document:
    """The PDF in ``response`` as pdftotext and pypdf read it; pdftotext in content order
    (``-raw``), so that the lines of one table cell stay together."""
    data = response.get_data()
    extracted = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
    )
    pages = [re.sub(r"\s+", " ", page).strip() for page in extracted.stdout.decode("utf-8").split("\f")]
    return Document(response, [page for page in pages if page], PdfReader(io.BytesIO(data)))


@dataclass
class Rendered:
    """What the module's one journey made."""

    app: Flask
    patient_en: Document
    patient_ru: Document
    chart: Document
    chart_ru: Document
    # The screenings the documents were made from.
    english: dict[str, Any]
    russian: dict[str, Any]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """An English and a Russian patient sign and download their PDFs; a practitioner
    overrides the English one's verdict, re-confirms it with the patient and downloads the chart."""
    folder = tmp_path_factory.mktemp("pdf")
    clinic = (ROOT / "clinic.yaml").read_text(encoding="utf-8")
    clinic = clinic.replace("Example Skin Clinic", "Clinic Lumen").replace("+44 20 7946 0000", "+7 495 123-45-67")
    (folder / "clinic.yaml").write_text(clinic, encoding="utf-8")
    app = build_app(folder, CLINIC_FILE=str(folder / "clinic.yaml"))
    patient = app.test_client()
    sent = patient.post("/screening", data=questionnaire_form(recent_tan="yes"), headers=EN)
    result_html = patient.get(sent.headers["Location"], headers=EN).get_data(as_text=True)
    link = re.search(r'href="(/result/[^"]+/record\.pdf)"', result_html)
    assert link, "the result page links the PDF"
    patient_en = read_pdf(patient.get(link.group(1), headers=EN))
    reference = re.search(r'id="reference-code">(\w+)<', result_html)
    assert reference
    english = screening_row(app, reference.group(1))

    russian_patient = app.test_client()
    sent_ru = russian_patient.post("/screening", data=questionnaire_form("Анна Петрова", recent_tan="yes"), headers=RU)
    # The patient's language is the one they answered in, whatever the browser says later.
    patient_ru = read_pdf(russian_patient.get(sent_ru.headers["Location"] + "/record.pdf", headers=EN))
    newest = query(app, "SELECT reference FROM screenings ORDER BY id DESC LIMIT 1")[0]["reference"]
    russian = screening_row(app, newest)

    doctor = signed_in(app)
    decided = decide(doctor, english["reference"], status="ineligible", reason_code="other", comment=COMMENT)
    assert decided.status_code == 303
    assert reconfirm(doctor, english["reference"], unchanged="y").status_code == 303
    chart = read_pdf(doctor.get(f"/practitioner/screening/{english['reference']}/chart.pdf", headers=EN))
    chart_ru = read_pdf(doctor.get(f"/practitioner/screening/{english['reference']}/chart.pdf", headers=RU))
    return Rendered(app, patient_en, patient_ru, chart, chart_ru, english, russian)


def test_the_patient_pdf_has_what_the_patient_needs(rendered: Rendered, ruleset: RuleSet) -> None:
    doc, screening = rendered.patient_en, rendered.english
    assert doc.response.status_code == 200 and doc.response.mimetype == "application/pdf"
    assert (
        doc.response.headers["Content-Disposition"] == f'attachment; filename="screening-{screening["reference"]}.pdf"'
    )
    assert doc.response.headers["Cache-Control"] == "no-store"  # it holds patient data
    text = doc.text
    for expected in (
        "Clinic Lumen",
        "+7 495 123-45-67",
        "Anna Petrova",
        screening["reference"],
        "Not just now: the treatment should wait for a while, and you are welcome to come back later.",
        re.sub(r"\s+", " ", screening["reasons"][0]["patient"]["en"]),
        "What happens next",
        f"Consent version 2026.12.1 · SHA-256 {screening['consent_sha256'][:12]}",
        "Consent to the screening and to storing your answers",  # the text signed, in full
        "Privacy notice",
    ):
        assert expected in text, expected
    # On the shipped clinic's clock (Europe/London), its zone named.
    assert re.search(r"Signed by Anna Petrova Signed at \d{1,2} \w{3} 2\d{3}, \d{2}:\d{2} (GMT|BST)", text)


def test_an_eligible_patient_pdf_has_the_preparation_and_aftercare(ruleset: RuleSet, tmp_path: Any) -> None:
    app = build_app(tmp_path)
    client = app.test_client()
    sent = client.post("/screening", data=questionnaire_form(), headers=EN)
    text = read_pdf(client.get(sent.headers["Location"] + "/record.pdf")).text
    for item in (*ruleset.procedure.preparation, *ruleset.procedure.aftercare):
        assert re.sub(r"\s+", " ", item["en"]) in text


def test_the_russian_patient_pdf_extracts_as_cyrillic(rendered: Rendered) -> None:
    text = rendered.patient_ru.text
    for expected in (
        "Анна Петрова",
        "Лазерное омоложение лица",
        "Не сейчас: с процедурой лучше немного подождать, и мы будем рады видеть вас позже.",
        re.sub(r"\s+", " ", rendered.russian["reasons"][0]["patient"]["ru"]),
        "Согласие на анкетирование и хранение ответов",
        "Версия согласия 2026.12.1",
    ):
        assert expected in text, expected
    assert "�" not in text and "□" not in text
    fonts = {font["/BaseFont"] for page in rendered.patient_ru.reader.pages for font in _fonts(page)}
    assert fonts and all("Document-Sans" in str(font) for font in fonts)  # the shipped DejaVu, embedded


def _fonts(page: Any) -> list[Any]:
    resources = page["/Resources"]
    return [font.get_object() for font in resources["/Font"].values()]


@pytest.mark.parametrize("which", ["patient_en", "patient_ru", "chart"])
def test_every_document_is_a4_with_the_reference_and_page_numbers_on_every_page(rendered: Rendered, which: str) -> None:
    doc: Document = getattr(rendered, which)
    reference = (rendered.russian if which == "patient_ru" else rendered.english)["reference"]
    assert len(doc.reader.pages) >= 2
    assert len(doc.pages) == len(doc.reader.pages)
    word = "Страница" if which == "patient_ru" else "Page"
    for number, (page, pdf_page) in enumerate(zip(doc.pages, doc.reader.pages, strict=True), start=1):
        assert (round(float(pdf_page.mediabox.width)), round(float(pdf_page.mediabox.height))) == A4_POINTS
        assert reference in page
        assert f"{word} {number} / {len(doc.pages)}" in page


def test_the_chart_pdf_has_the_decision_the_answers_and_the_signatures(rendered: Rendered, ruleset: RuleSet) -> None:
    text, screening = rendered.chart.text, rendered.english
    stored = screening_row(rendered.app, screening["reference"])
    for expected in (
        f"Screening {screening['reference']}",
        f"{NAME} (ada@example.com) overrode the verdict to Not eligible",
        "Reason: Other",
        f"Comment: {COMMENT}",
        "Current decision: Not eligible",
        f"Rules version {stored['rules_version']}",
        re.sub(r"\s+", " ", screening["reasons"][0]["source"]),
        re.sub(r"\s+", " ", screening["reasons"][0]["practitioner"]["en"]),
        "confirmed with the patient that nothing has changed.",
        "Signed by the patient: Anna Petrova",
        f"Signed by the practitioner: {NAME} (ada@example.com)",
        "Signed by Anna Petrova",
        "The record matches its integrity digest",
        stored["integrity_sha256"],
    ):
        assert expected in text, expected
    # Every question, whatever the table cells' line breaks (pdftotext joins "pus-" + "filled" as "pusfilled").
    unbroken = "".join(text.replace("-", "").split())
    for question in ruleset.questions:
        assert "".join(question.text["en"].replace("-", "").split()) in unbroken, question.id
    fired = screening["reasons"][0]["rule"]
    title = rule_titles(ruleset, "en")[fired]
    # the flagged answer is marked with the title of the rule it fired (table cells break lines anywhere)
    assert "".join(f"⚑ {title}".replace("-", "").split()) in unbroken
    assert fired not in text  # rules are named by title, never by id


def test_the_chart_pdf_is_in_the_practitioners_language(rendered: Rendered) -> None:
    text = rendered.chart_ru.text
    assert "Подпись пациента: Anna Petrova" in text and "Комментарий:" in text and COMMENT in text
    assert "Страница 1 /" in text and "Signed by" not in text


def test_every_download_is_audited(rendered: Rendered) -> None:
    patient_rows = audit_rows(rendered.app, "document.patient_pdf")
    assert [row["target"] for row in patient_rows] == [
        f"screening:{rendered.english['reference']}",
        f"screening:{rendered.russian['reference']}",
    ]
    assert {row["actor"] for row in patient_rows} == {"patient"}
    charts = audit_rows(rendered.app, "document.chart_pdf")
    assert [(row["target"], row["actor"]) for row in charts] == [
        (f"screening:{rendered.english['reference']}", "ada@example.com")
    ] * 2


def test_the_documents_are_only_for_their_readers(rendered: Rendered) -> None:
    anonymous = rendered.app.test_client()
    assert anonymous.get("/result/not-a-token/record.pdf").status_code == 404
    chart = anonymous.get(f"/practitioner/screening/{rendered.english['reference']}/chart.pdf")
    assert chart.status_code == 302 and chart.headers["Location"].startswith("/practitioner/login")


def test_patient_pdfs_are_limited_per_client_address(tmp_path: Any) -> None:
    app = build_app(tmp_path, RATELIMIT_ENABLED=True, PDF_RATE_LIMIT="1 per minute")
    client = app.test_client()
    result = client.post("/screening", data=questionnaire_form()).headers["Location"]
    assert client.get(result + "/record.pdf").status_code == 200
    assert client.get(result + "/record.pdf").status_code == 429
    assert client.get(result).status_code == 200  # the page itself is not limited


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/font.ttf",
        "https://fonts.example.com/DejaVuSans.ttf",
        "file:///etc/passwd",
        f"file://{FONT_FOLDER}/../../settings.py",
        f"file://otherhost{FONT_FOLDER}/DejaVuSans.ttf",
        "data:font/ttf;base64,AAAA",
    ],
)
def test_documents_load_only_the_shipped_fonts(url: str) -> None:
    with pytest.raises(RefusedResource):
        shipped_font(url)
    with pytest.raises(RefusedResource):
        url_fetcher()(url)  # the fetcher WeasyPrint is given


def test_the_shipped_fonts_load_with_their_licence() -> None:
    assert shipped_font((FONT_FOLDER / "DejaVuSans.ttf").as_uri()) == FONT_FOLDER / "DejaVuSans.ttf"
    assert "Bitstream Vera" in (FONT_FOLDER / "LICENSE.txt").read_text(encoding="utf-8")


def test_the_chart_pdf_has_the_course_with_every_session_and_names_rules_by_title(
    app: Flask, doctor: Any, ruleset: RuleSet
) -> None:
    """Two sessions recorded on two screenings of one patient; a third screening's chart holds both."""
    first, second = add_screening(app), add_screening(app)
    started = today().isoformat()
    assert (
        doctor.post(
            f"/practitioner/screening/{first['reference']}/course",
            data={"started_on": started, "planned_sessions": "6", "interval_weeks": "4"},
        ).status_code
        == 303
    )
    notes = {1: "Mild erythema, settled in an hour", 2: "Tolerated well; patient happy"}
    for number, screening in ((1, first), (2, second)):
        assert decide(doctor, screening["reference"], status="eligible").status_code == 303
        sent = doctor.post(
            f"/practitioner/screening/{screening['reference']}/session",
            data={
                "given_on": started,
                "number": str(number),
                "note": notes[number],
                **SESSION_SETTINGS,
                "fluence_j_cm2": f"1{number}",
            },
        )
        assert sent.status_code == 303
    later = add_screening(app, recent_tan="yes")
    text = read_pdf(doctor.get(f"/practitioner/screening/{later['reference']}/chart.pdf", headers=EN)).text
    assert "2 of 6 sessions given, one every 4 weeks" in text
    day = f"{today().day} {today():%B %Y}"
    for number, screening in ((1, first), (2, second)):
        assert f"{number} {day} {NAME} (screening {screening['reference']})" in text
        # A narrow cell may wrap after the unit's slash ("J/ cm²").
        assert f"1064 nm, 1{number} J/cm², 10 ms, spot 5 mm" in text.replace("/ ", "/") and notes[number] in text
    titles = rule_titles(ruleset, "en")
    for reason in later["reasons"]:
        assert titles[reason["rule"]] in text
        assert reason["rule"] not in text
