"""Several procedures in one rule file: the shared questionnaire, each procedure's own rules,
examples and test patches, the default, and the single-procedure shape refused."""

from __future__ import annotations

import datetime as dt

import pytest

from screening.core.engine import InvalidAnswers, screen, screen_each
from screening.core.loader import load_rulebook, parse_rulebook
from screening.core.model import RuleBook, RuleFileError, UnknownProcedure
from screening.core.patch import patch_requirement
from tests.helpers import MINIMAL, RULES_FILE, problems_of

LASER, IPL = "laser_rejuvenation", "ipl_photorejuvenation"
TODAY = dt.date(2026, 6, 15)


@pytest.fixture(scope="module")
def book() -> RuleBook:
    """The shipped rule file, every procedure."""
    return load_rulebook(RULES_FILE)


def clear_answers(book: RuleBook, procedure: str) -> dict[str, object]:
    """The procedure's first example base: nothing applies."""
    first = book.get(procedure).examples[0]
    return dict(first.answers)


def test_both_procedures_load_and_laser_is_the_default(book: RuleBook) -> None:
    assert list(book.procedures) == [LASER, IPL]
    assert book.default == LASER and book.get().procedure.id == LASER
    assert book.get(IPL).procedure.name["en"] == "IPL photorejuvenation"
    assert book.get(IPL).procedure.name["ru"] == "IPL-фотоомоложение"
    assert book.get(LASER).full_version == book.get(IPL).full_version == book.full_version


def test_shared_questions_are_written_once(book: RuleBook) -> None:
    laser, ipl = book.get(LASER), book.get(IPL)
    # One Question object per id: both procedures ask the very same question.
    assert laser.question_by_id["pregnant"] is ipl.question_by_id["pregnant"]
    assert [q.id for q in book.questions].count("skin_type") == 1
    assert RULES_FILE.read_text(encoding="utf-8").count("\n  - id: pregnant\n") == 1


@pytest.mark.parametrize("question", ["recent_tan_on", "pigmented_lesions", "caution_medicines", "recent_pdt"])
def test_a_question_only_ipl_reads_is_not_in_the_laser_questionnaire(book: RuleBook, question: str) -> None:
    assert question in book.get(IPL).question_by_id
    assert question not in book.get(LASER).question_by_id
    with pytest.raises(InvalidAnswers) as info:
        screen(book.get(LASER), {**clear_answers(book, LASER), question: "no"}, TODAY)
    assert [p.code for p in info.value.problems] == ["unknown_question"]


def test_a_question_only_the_laser_reads_is_not_in_the_ipl_questionnaire(book: RuleBook) -> None:
    assert "keloids" in book.get(LASER).question_by_id and "keloids" not in book.get(IPL).question_by_id


def test_an_unknown_procedure_is_a_named_error(book: RuleBook) -> None:
    with pytest.raises(UnknownProcedure) as info:
        book.get("tattoo_removal")
    assert info.value.procedure == "tattoo_removal" and info.value.known == (LASER, IPL)


def test_the_web_layer_serves_each_procedure(app) -> None:
    from screening.web.ruleset import get_rulebook, get_ruleset

    with app.app_context():
        assert get_ruleset().procedure.id == LASER
        assert get_ruleset(procedure=IPL).procedure.id == IPL
        assert get_rulebook().default == LASER
        with pytest.raises(UnknownProcedure):
            get_ruleset(procedure="nope")


OLD_SHAPE = """\
version: "1"
procedure: {name: Laser, description: Light pulses., course: 4-6 sessions.}
sections: [{id: main, title: Main}]
questions:
  - {id: sore, section: main, type: choice, text: Sore?, options: [yes, no, unsure]}
rules:
  - {id: sore, when: {sore: yes}, outcome: review, patient: P., practitioner: P., source: S}
"""


def test_the_single_procedure_shape_is_refused_with_its_line() -> None:
    problems = problems_of(OLD_SHAPE)
    assert [p.split(" at the top")[0] for p in problems] == ["test.yaml:2: 'procedure'", "test.yaml:6: 'rules'"]
    assert all("move the procedure's texts, its rules and its examples under 'procedures:'" in p for p in problems)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("- id: laser\n", "- id: Laser\n"), "must start with a lower-case letter"),
        (lambda t: "default_procedure: other\n" + t, "default_procedure names 'other'"),
        (
            lambda t: t.replace("procedures:\n- id: laser\n", "procedures: []\nfoo:\n- id: laser\n"),
            "lists no procedure",
        ),
    ],
    ids=["bad-id", "unknown-default", "empty"],
)
def test_bad_procedures_are_file_line_errors(change, message: str) -> None:
    problems = problems_of(change(MINIMAL))
    assert any(message in p and p.startswith("test.yaml:") for p in problems), problems


def test_same_answers_give_different_verdicts_per_procedure(book: RuleBook) -> None:
    """A tan 5 weeks ago and skin type IV: the laser's 8 weeks defer; IPL's 4 weeks have passed,
    its type IV goes to review."""
    tan = {"recent_tan": "yes", "skin_type": "IV"}
    laser = screen(book.get(LASER), {**clear_answers(book, LASER), **tan}, TODAY)
    ipl = screen(book.get(IPL), {**clear_answers(book, IPL), **tan, "recent_tan_on": "2026-05-11"}, TODAY)
    assert (laser.status, sorted(r.rule for r in laser.reasons)) == ("deferred", ["recent_tan"])
    assert (ipl.status, [r.rule for r in ipl.reasons]) == ("review", ["skin_type_iv"])
    # One questionnaire for both: each procedure is screened on the answers it asks.
    both = {**clear_answers(book, LASER), **clear_answers(book, IPL), **tan, "recent_tan_on": "2026-05-11"}
    verdicts = screen_each(book, [LASER, IPL], both, TODAY)
    assert {p: v.status for p, v in verdicts.items()} == {LASER: "deferred", IPL: "review"}
    combined = book.combined([LASER, IPL])
    assert set(combined.question_by_id) == set(book.get(LASER).question_by_id) | set(book.get(IPL).question_by_id)
    assert book.combined([IPL, LASER]) is book.combined([IPL, LASER])


def test_screen_each_names_a_missing_answer_of_either_procedure(book: RuleBook) -> None:
    with pytest.raises(InvalidAnswers) as info:
        screen_each(book, [LASER, IPL], clear_answers(book, LASER), TODAY)
    assert {p.field for p in info.value.problems} >= {"pigmented_lesions", "caution_medicines"}


@pytest.mark.parametrize("procedure", [LASER, IPL])
def test_every_rule_fires_in_an_example_of_its_procedure(book: RuleBook, procedure: str) -> None:
    ruleset = book.get(procedure)
    assert ruleset.examples
    assert {r.id for r in ruleset.rules} <= set().union(*(e.fired for e in ruleset.examples))


@pytest.mark.parametrize(
    ("procedure", "skin_type", "hours", "days"),
    [
        (LASER, "II", None, None),
        (LASER, "IV", 48, 90),
        (LASER, "V", 14 * 24, 90),
        (IPL, "II", 24, 90),
        (IPL, "IV", 48, 90),
    ],
)
def test_patch_requirement_by_procedure_and_skin_type(
    book: RuleBook, procedure: str, skin_type: str, hours: int | None, days: int | None
) -> None:
    ruleset = book.get(procedure)
    answers = screen(ruleset, {**clear_answers(book, procedure), "skin_type": skin_type}, TODAY).answers
    required = patch_requirement(ruleset, answers)
    if hours is None:
        assert required is None
        return
    assert required is not None
    assert (required.readout_hours, required.valid_days, required.readout) == (hours, days, dt.timedelta(hours=hours))
    assert required.line > 0 and required.source


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("- when: always\n    valid_days: 30\n    source: S\n", "needs one of readout_hours or readout_days"),
        ("- when: always\n    readout_hours: 24\n    source: S\n", "needs valid_days"),
        (
            "- when: {pregnant: maybe}\n    readout_hours: 24\n    valid_days: 30\n    source: S\n",
            "has no option 'maybe'",
        ),
        ("- when: always\n    readout_days: 99\n    valid_days: 30\n    source: S\n", "at most 8 weeks"),
        ("- when: always\n    readout_hours: 24\n    valid_days: 30\n", "patch_test needs a 'source'"),
    ],
    ids=["no-readout", "no-validity", "bad-condition", "too-long", "no-source"],
)
def test_bad_patch_tests_are_file_line_errors(entry: str, message: str) -> None:
    text = MINIMAL.replace("  rules:\n", "  patch_test:\n  " + entry + "  rules:\n")
    problems = problems_of(text)
    assert any(message in p for p in problems), problems
    assert all(p.startswith("test.yaml:") for p in problems)


def test_a_patch_test_loads_and_applies_in_file_order() -> None:
    entries = (
        "  patch_test:\n"
        "  - when: {pregnant: 'no'}\n    readout_days: 2\n    valid_days: 30\n    source: A\n"
        "  - when: always\n    readout_hours: 24\n    valid_days: 60\n    source: B\n"
    )
    ruleset = parse_rulebook(MINIMAL.replace("  rules:\n", entries + "  rules:\n").encode(), "t.yaml").get()
    first = patch_requirement(ruleset, {"pregnant": "no"})
    second = patch_requirement(ruleset, {"pregnant": "unsure"})
    assert first is not None and (first.readout_hours, first.valid_days, first.source) == (48, 30, "A")
    assert second is not None and (second.readout_hours, second.valid_days, second.source) == (24, 60, "B")


def test_a_broken_file_still_raises_rule_file_error() -> None:
    with pytest.raises(RuleFileError):
        parse_rulebook(b"version: 1\n", "x.yaml")
