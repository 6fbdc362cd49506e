"""The procedures of the rule file as the web sees them: which ones a request chose, their names
for a select, and the rule set a stored screening is read with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.model import RuleSet, UnknownProcedure, pick_text
from .ruleset import get_rulebook, get_ruleset

# The query parameter and form field naming a procedure (repeated for several): ``?procedure=<id>``.
PROCEDURE_FIELD = "procedure"


def chosen_procedures(values: Iterable[str]) -> tuple[str, ...]:
    """The procedures named by ``values`` (blanks left out, repeats once, in the rule file's order);
    the default alone when none is named. Raise ``UnknownProcedure`` for an id the file does not declare."""
    book = get_rulebook()
    named = {value.strip() for value in values if value.strip()}
    for value in sorted(named):
        if value not in book.procedures:
            raise UnknownProcedure(value, tuple(book.procedures))
    chosen = tuple(procedure for procedure in book.procedures if procedure in named)
    return chosen or (book.default,)


def procedure_names(language: str) -> dict[str, str]:
    """Every procedure's id and name in ``language``, in the rule file's order."""
    return {pid: pick_text(ruleset.procedure.name, language) for pid, ruleset in get_rulebook().procedures.items()}


def has_several_procedures() -> bool:
    """Whether the rule file offers more than one procedure (else every page looks as it did before)."""
    return len(get_rulebook().procedures) > 1


def ruleset_of(screening: Mapping[str, Any]) -> RuleSet:
    """The rule set a stored screening is read with: its procedure's, or the default's when the
    rule file no longer declares that procedure (its stored reasons still carry their texts)."""
    try:
        return get_ruleset(procedure=screening.get("procedure"))
    except UnknownProcedure:
        return get_ruleset()
