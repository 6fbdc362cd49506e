"""The rule-file commands: ``check-rules`` (structure, examples, warnings) and
``diff-rules`` (what a new file changes, and what it would do to past screenings)."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from .core.clinic import ClinicFileError, load_clinic
from .core.examples import seal_line
from .core.lint import lint_rules
from .core.loader import load_candidate, load_rules
from .core.model import RuleFileError, RuleSet, pick_text
from .core.rules_diff import diff_rulesets, replay_screenings, report_json, report_lines
from .practitioner.rules_page import stored_screenings
from .web.audit import audit


class CommandError(click.ClickException):
    """A user error of any command (cli.py raises it too): message on stderr, exit code 2."""

    exit_code = 2


def summarize_ruleset(ruleset: RuleSet) -> str:
    """One line saying what a rule file holds."""
    return (
        f"{ruleset.path}: OK, version {ruleset.full_version}, {len(ruleset.questions)} questions, "
        f"{len(ruleset.rules)} rules, languages {', '.join(ruleset.languages)}"
    )


def _load_or_exit(path: str) -> RuleSet:
    try:
        return load_rules(path)
    except RuleFileError as error:
        for problem in error.problems:
            click.echo(problem, err=True)
        click.echo(f"{len(error.problems)} problem(s) found.", err=True)
        sys.exit(2)


@click.command("check-rules")
@with_appcontext
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit code 2).")
@click.option("--seal", is_flag=True, help="Print the examples' 'reviewed:' entry for this file.")
@click.option("--clinic", "clinic_file", type=click.Path(dir_okay=False), help="The clinic file (default: the app's).")
def check_rules_command(file: str | None, strict: bool, seal: bool, clinic_file: str | None) -> None:
    """Validate a rule file (default: the one the app uses) and the clinic file: structure, examples, warnings."""
    ruleset = _load_or_exit(file or current_app.config["RULES_FILE"])
    try:
        clinic = load_clinic(clinic_file or current_app.config["CLINIC_FILE"], ruleset.languages)
    except ClinicFileError as error:
        for problem in error.problems:
            click.echo(problem, err=True)
        click.echo(f"{len(error.problems)} problem(s) found.", err=True)
        sys.exit(2)
    click.echo(summarize_ruleset(ruleset))
    click.echo(f"{clinic.path}: OK, {pick_text(clinic.name, ruleset.languages[0])}, time zone {clinic.timezone}")
    if ruleset.examples:
        fired = set().union(*(e.fired for e in ruleset.examples))
        every = "; every rule fired at least once" if all(r.id in fired for r in ruleset.rules) else ""
        click.echo(f"{len(ruleset.examples)} example(s) passed{every}.")
    warnings = lint_rules(ruleset)
    for warning in warnings:
        click.echo(warning, err=True)
    if seal:
        click.echo(seal_line(ruleset))
    if warnings and strict:
        click.echo(f"{len(warnings)} warning(s), refused by --strict.", err=True)
        sys.exit(2)


def _load_for_diff(path: str) -> tuple[RuleSet, list[str]]:
    """The rule set and its failing examples: any file that loads can be compared."""
    try:
        return load_candidate(path)
    except RuleFileError as error:
        raise CommandError("\n".join(error.problems)) from error


@click.command("diff-rules")
@with_appcontext
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--replay", "days", type=click.IntRange(min=1), help="Re-evaluate the screenings of the last DAYS days.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff_rules_command(old: str, new: str, days: int | None, output: str) -> None:
    """What changes from rule file OLD to NEW, and which of their examples fail (exit 1); with
    --replay, which past verdicts would change (nothing is stored)."""
    (before, old_failing), (after, new_failing) = _load_for_diff(old), _load_for_diff(new)
    failing = [*old_failing, *new_failing]
    changes = diff_rulesets(before, after)
    replay = None
    if days:
        replay = replay_screenings(before, after, stored_screenings(days))
        audit("rules.replay", details={"days": days, "screenings": replay.screenings})
    if output == "json":
        report = report_json(before, after, changes, replay, days, failing=failing)
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(report_lines(before, after, changes, replay, days, failing=failing)))
    if failing:
        # Part of the difference, not a refusal (exit 2 is a file that does not load).
        sys.exit(1)
