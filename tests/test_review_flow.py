"""A review measured in clicks: what the detail page puts first, the one-click
confirm, the next undecided screening, the one-step day-of-session check."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import add_screening, page_text, query, revision_of, screening_row

EN = {"Accept-Language": "en"}


def detail_html(doctor: FlaskClient, reference: str, **args: str) -> str:
    return doctor.get(f"/practitioner/screening/{reference}", query_string=args, headers=EN).get_data(as_text=True)


def test_the_verdict_reasons_and_decision_come_before_the_folded_answers(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    html = detail_html(doctor, screening["reference"])
    order = [
        html.index('class="outcome'),
        html.index('href="#decision-title"'),  # a "review" verdict: no confirmation, the way to the decision
        html.index('id="reasons-title"'),
        html.index('class="review-form"'),
        html.index('id="patient-title"'),
        html.index('id="answers-title"'),
    ]
    assert order == sorted(order)
    folded = html[html.index('id="answers-title"') :]
    assert folded.index("<details") < folded.index('class="answers-table stack-on-phone"') < folded.index("</details>")
    assert "Keyboard shortcuts:" in html and "<kbd>E</kbd>" in html and "<kbd>C</kbd>" not in html


# A "review" verdict decided: eligible, with its reason.
ELIGIBLE = {"status": "eligible", "reason_code": "clarified_with_patient"}


def test_one_click_confirms_the_verdict(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, pregnant="yes")
    html = detail_html(doctor, screening["reference"])
    form = re.search(r'<form method="post" action="([^"]+)" class="no-print confirm-form">(.*?)</form>', html, re.S)
    assert form
    fields = dict(re.findall(r'name="([^"]+)" type="hidden" value="([^"]*)"', form.group(2)))
    button = re.search(r'<button type="submit" name="status" value="deferred"[^>]*>([^<]+)</button>', form.group(2))
    assert button and button.group(1) == "Confirm the verdict: Deferred"
    assert doctor.post(form.group(1), data={**fields, "status": "deferred"}).status_code == 303
    (review,) = query(app, "SELECT decision, status FROM reviews")
    assert review == {"decision": "confirm", "status": "deferred"}
    assert 'id="confirm-button"' not in detail_html(doctor, screening["reference"])


def test_after_a_decision_the_next_undecided_screening_in_the_filter_opens(app: Flask, doctor: FlaskClient) -> None:
    oldest = add_screening(app, "Old Review", keloids="unsure")
    add_screening(app, "Deferred One", pregnant="yes")  # another view: skipped
    decided = add_screening(app, "Done Already", epilepsy="unsure")
    middle = add_screening(app, "Middle Review", keloids="unsure")
    newest = add_screening(app, "New Review", keloids="unsure")
    queue = {"status": "review", "reviewed": "no"}
    assert doctor.post(
        f"/practitioner/screening/{decided['reference']}/review",
        data={"revision": revision_of(doctor, decided["reference"]), **ELIGIBLE},
    ).headers["Location"]

    data = {"revision": revision_of(doctor, newest["reference"]), **ELIGIBLE}
    data.update({f"queue-{key}": value for key, value in queue.items()})
    response = doctor.post(f"/practitioner/screening/{newest['reference']}/review", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/practitioner/screening/{middle['reference']}?status=review&reviewed=no"
    opened = doctor.get(response.headers["Location"], headers=EN)
    assert f"Your decision on {newest['reference']} is recorded." in page_text(opened)
    html = opened.get_data(as_text=True)
    # The filter travels on: in the forms, and in the links to the neighbours.
    assert '<input type="hidden" name="queue-status" value="review">' in html
    assert f'href="/practitioner/screening/{oldest["reference"]}?status=review&amp;reviewed=no" rel="next"' in html

    data = {"revision": revision_of(doctor, oldest["reference"]), **ELIGIBLE}
    data.update({f"queue-{key}": value for key, value in queue.items()})
    response = doctor.post(f"/practitioner/screening/{oldest['reference']}/review", data=data)
    # The newer one left undecided comes next.
    assert response.headers["Location"] == f"/practitioner/screening/{middle['reference']}?status=review&reviewed=no"


def test_when_nothing_is_left_to_decide_the_queue_opens(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    data = {"revision": revision_of(doctor, screening["reference"]), **ELIGIBLE, "queue-q": "Anna"}
    response = doctor.post(f"/practitioner/screening/{screening['reference']}/review", data=data)
    assert response.headers["Location"] == "/practitioner/?q=Anna"
    assert "No screening in this view waits for a decision." in page_text(doctor.get(response.headers["Location"]))


def test_the_queue_links_keep_its_filter(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app, keloids="unsure")
    html = doctor.get("/practitioner/", query_string={"status": "review"}).get_data(as_text=True)
    assert f'href="/practitioner/screening/{screening["reference"]}?status=review"' in html


def test_nothing_has_changed_is_one_button(app: Flask, doctor: FlaskClient) -> None:
    screening = add_screening(app)
    html = detail_html(doctor, screening["reference"])
    check = html[html.index('class="reconfirm-form"') :]
    check = check[: check.index("</form>")]
    assert 'type="checkbox"' not in check
    button = re.search(r'<button type="submit" class="button" id="reconfirm-submit" name="(\w+)" value="(\w+)">', check)
    assert button
    data = {
        "revision": revision_of(doctor, screening["reference"]),
        button.group(1): button.group(2),
        "patient_signature": screening["patient_name"],  # typed by the patient at the clinic
    }
    response = doctor.post(f"/practitioner/screening/{screening['reference']}/reconfirm", data=data)
    assert response.status_code == 303
    assert screening_row(app, screening["reference"])["confirmed_at"]
    assert "The answers are confirmed for today" in page_text(doctor.get(response.headers["Location"], headers=EN))


def test_changing_one_answer_asks_only_that_question_worded_for_staff(app: Flask, doctor: FlaskClient, ruleset) -> None:
    screening = add_screening(app, isotretinoin="stopped", isotretinoin_stopped_on="2020-01-10")
    detail = detail_html(doctor, screening["reference"])
    link = f'href="/practitioner/screening/{screening["reference"]}/answers?question=isotretinoin"'
    assert link in detail
    page = doctor.get(
        f"/practitioner/screening/{screening['reference']}/answers",
        query_string={"question": "isotretinoin"},
        headers=EN,
    )
    html = page.get_data(as_text=True)
    legends = re.findall(r"<legend>([^<]+)</legend>", html)
    question = ruleset.question_by_id["isotretinoin"].text["en"]
    assert question in legends
    assert ruleset.question_by_id["pregnant"].text["en"] not in html
    assert 'id="isotretinoin_stopped_on"' in html  # its follow-up comes along
    assert 'name="pregnant" value="no"' in html and 'type="hidden" name="other_conditions" value="none"' in html
    for q in ruleset.questions:
        if q.help:
            assert q.help["en"] not in html  # help texts speak to the patient
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    fields.update(re.findall(r'name="(revision)" type="hidden" value="([^"]+)"', html))
    form = {
        **fields,
        "isotretinoin": "current",
        "isotretinoin_stopped_on": "",
        "patient_signature": screening["patient_name"],
    }
    response = doctor.post(f"/practitioner/screening/{screening['reference']}/answers", data=form)
    assert response.status_code == 303
    row = screening_row(app, screening["reference"])
    assert row["answers"]["isotretinoin"] == "current"
    assert row["answers"]["pregnant"] == "no" and row["answers"]["other_conditions"] == ["none"]
    assert row["status"] != screening["status"]
