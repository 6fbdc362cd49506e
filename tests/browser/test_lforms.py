"""A real FHIR client, LHC-Forms (npm ``lforms``, pinned in tests/browser/lforms and
installed by ``make install-test``), renders the app's /fhir/Questionnaire.

The page and LHC-Forms' files are served under the live server's own address by
Playwright's routing, so the page fetches the Questionnaire like any client
would, and nothing is requested from another host.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from playwright.sync_api import Locator, Page, Route, expect

from screening.api.fhir import ENABLE_WHEN_EXPRESSION, OPTION_EXCLUSIVE
from screening.core.model import NONE_OPTION, UNSURE
from tests.browser.helpers import DESKTOP, LiveServer, Session

HERE = Path(__file__).parent / "lforms"
DIST = HERE / "node_modules" / "lforms" / "dist" / "lforms"
PREFIX = "/lforms-client/"


def walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every item, depth first."""
    for item in items:
        yield item
        yield from walk(item.get("item", []))


def serve_lforms(route: Route) -> None:
    """The test page, then LHC-Forms' built files from node_modules."""
    name = route.request.url.split(PREFIX, 1)[1]
    route.fulfill(path=HERE / "index.html" if name == "index.html" else DIST / name)


def is_exclusive(option: dict[str, Any]) -> bool:
    return {"url": OPTION_EXCLUSIVE, "valueBoolean": True} in option.get("extension", [])


def choose(page: Page, link_id: str, label: str) -> None:
    """Pick ``label`` from the answer list LHC-Forms opens under a choice question."""
    page.locator(f'[id="{link_id}/1/1"]').click()
    # Each entry reads "<number>: <label>".
    page.locator("#lhc-tools-searchResults li").filter(has_text=re.compile(rf"^\d+:\s+{re.escape(label)}$")).click()


def item_box(page: Page, link_id: str) -> Locator:
    """The rendered row of an item (a group's or a question's), wherever it is nested."""
    return page.locator(f'[id^="item-{link_id}/"]')


def test_lhc_forms_renders_the_questionnaire_and_exports_a_matching_response(
    new_context: Callable[..., Session], live_server: LiveServer
) -> None:
    assert (DIST / "webcomponent" / "main.js").is_file(), "run `make install-test`: it installs npm lforms"
    page = new_context(viewport=DESKTOP).context.new_page()
    page.route(f"{live_server.url}{PREFIX}**", serve_lforms)
    page.goto(f"{PREFIX}index.html")
    page.locator("body[data-rendered], body[data-error]").wait_for(state="attached")
    assert page.locator("body").get_attribute("data-error") is None

    questionnaire: dict[str, Any] = page.evaluate("window.questionnaire")
    items = {item["linkId"]: item for item in walk(questionnaire["item"])}

    # Whole: LHC-Forms' form holds every item (help texts become its coding instructions),
    # and every item without a condition is on the page.
    loaded = page.evaluate(
        """() => {
            const ids = [];
            const walk = (items) => (items || []).forEach((item) => {
                ids.push(item.linkId);
                if (item.codingInstructionsLinkId) ids.push(item.codingInstructionsLinkId);
                walk(item.items);
            });
            walk(window.lformsForm.items);
            return ids;
        }"""
    )
    assert sorted(loaded) == sorted(items)
    conditional = {
        link_id
        for link_id, item in items.items()
        if "enableWhen" in item or any(e["url"] == ENABLE_WHEN_EXPRESSION for e in item.get("extension", []))
    }
    for link_id, item in items.items():
        if item["type"] == "display":  # a question's help, behind its button
            question = link_id.removesuffix("-help")
            if question not in conditional:
                expect(page.locator(f'[id^="help-button-{question}/"]')).to_have_count(1)
        elif link_id not in conditional:
            expect(item_box(page, link_id)).to_have_count(1)

    # enableWhen: the follow-up of a single answer of a choice question appears with that answer only.
    follow_up = next(
        item
        for item in items.values()
        if len(item.get("enableWhen", [])) == 1
        and "answerCoding" in item["enableWhen"][0]
        and not items[item["enableWhen"][0]["question"]].get("repeats")
    )
    condition = follow_up["enableWhen"][0]
    trigger = condition["answerCoding"]["display"]
    other = next(
        o["valueCoding"]["display"]
        for o in items[condition["question"]]["answerOption"]
        if o["valueCoding"]["display"] != trigger
    )
    choose(page, condition["question"], other)
    expect(page.locator(f'[id="{condition["question"]}/1/1"]')).to_have_value(other)
    expect(item_box(page, follow_up["linkId"])).to_have_count(0)
    choose(page, condition["question"], trigger)
    expect(item_box(page, follow_up["linkId"])).to_have_count(1)

    # optionExclusive: the Questionnaire LHC-Forms loaded marks "None of these" and "I'm not
    # sure" in a multi question, but LHC-Forms 40 does not implement the extension ("not yet
    # supported" in its sdc-support.md): it drops it and keeps both ticks.
    multis = [item for item in items.values() if item.get("repeats") and any(map(is_exclusive, item["answerOption"]))]
    assert multis, "no multi question marks an option with optionExclusive"
    multi = multis[0]
    exclusive = [o["valueCoding"] for o in multi["answerOption"] if is_exclusive(o)]
    assert {c["code"] for c in exclusive} == {NONE_OPTION, UNSURE}
    unsure = next(c for c in exclusive if c["code"] == UNSURE)
    ordinary = next(o["valueCoding"] for o in multi["answerOption"] if not is_exclusive(o))
    choose(page, multi["linkId"], ordinary["display"])
    choose(page, multi["linkId"], unsure["display"])
    assert OPTION_EXCLUSIVE not in page.evaluate("JSON.stringify(window.lformsForm)")

    # The exported QuestionnaireResponse is valid FHIR and names only the Questionnaire's items.
    response = page.evaluate("LForms.Util.getFormFHIRData('QuestionnaireResponse', 'R4')")
    QuestionnaireResponse.model_validate(response)
    assert response["questionnaire"].startswith(questionnaire["url"] + "|")
    answered = {item["linkId"]: item for item in walk(response["item"])}
    assert set(answered) <= set(items)
    assert {condition["question"], multi["linkId"]} <= set(answered)
    assert [a["valueCoding"]["code"] for a in answered[condition["question"]]["answer"]] == [
        condition["answerCoding"]["code"]
    ]
    assert [a["valueCoding"]["code"] for a in answered[multi["linkId"]]["answer"]] == [ordinary["code"], UNSURE]
