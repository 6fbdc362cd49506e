"""The rule-file commands: ``check-rules`` (structure, examples, warnings) and
``diff-rules`` (what a new file changes, and what it would do to past screenings)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from .core.clinic import ClinicFileError, load_clinic
from .core.devices import DevicesFileError, load_protocol_for
from .core.examples import seal_line
from .core.lint import lint_rules
from .core.loader import load_book_candidate, load_rulebook
from .core.model import RuleBook, RuleFileError, RuleSet, UnknownProcedure, pick_text
from .core.rules_diff import (
    book_report_json,
    book_report_lines,
    diff_rulebooks,
    replay_screenings,
    stopped_adverse_sessions,
)
from .practitioner.rules_page import stored_screenings
from .practitioner.safety_report import adverse_event_sessions
from .web.audit import audit


class CommandError(click.ClickException):
    """A user error of any command (cli.py raises it too): message on stderr, exit code 2."""

    exit_code = 2


def summarize_rulebook(book: RuleBook) -> str:
    """One line saying what a rule file holds."""
    rules = sum(len(ruleset.rules) for ruleset in book.procedures.values())
    return (
        f"{book.path}: OK, version {book.full_version}, {len(book.questions)} questions, "
        f"{rules} rules in {len(book.procedures)} procedure(s), languages {', '.join(book.languages)}"
    )


def summarize_procedure(ruleset: RuleSet) -> str:
    """One line per procedure: what it asks, its rules and its examples."""
    line = f"{ruleset.procedure.id}: {len(ruleset.questions)} questions, {len(ruleset.rules)} rules"
    if not ruleset.examples:
        return f"{line}, no examples."
    fired = set().union(*(e.fired for e in ruleset.examples))
    every = "; every rule fired at least once" if all(r.id in fired for r in ruleset.rules) else ""
    return f"{line}, {len(ruleset.examples)} example(s) passed{every}."


def _load_or_exit(path: str) -> RuleBook:
    try:
        return load_rulebook(path)
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
@click.option(
    "--devices",
    "devices_file",
    type=click.Path(dir_okay=False),
    help="The devices file to check against the rule file (default: the app's, when FILE is the app's rule file).",
)
def check_rules_command(
    file: str | None, strict: bool, seal: bool, clinic_file: str | None, devices_file: str | None
) -> None:
    """Validate a rule file (default: the one the app uses), the clinic file and the devices file
    (checked against the rule file: the app's with the app's, another only with --devices):
    structure, examples, warnings."""
    rules_file = current_app.config["RULES_FILE"]
    book = _load_or_exit(file or rules_file)
    ruleset = book.get()
    # The app's devices file names the app's procedures and skin types: checked against another rule
    # file (a draft, a small test file) it would fail for what that file leaves out.
    if devices_file is None and (file is None or Path(file).resolve() == Path(rules_file).resolve()):
        devices_file = current_app.config["DEVICES_FILE"]
    try:
        clinic = load_clinic(clinic_file or current_app.config["CLINIC_FILE"], ruleset.languages)
        protocol = load_protocol_for(devices_file, book) if devices_file else None
    except (ClinicFileError, DevicesFileError) as error:
        for problem in error.problems:
            click.echo(problem, err=True)
        click.echo(f"{len(error.problems)} problem(s) found.", err=True)
        sys.exit(2)
    click.echo(summarize_rulebook(book))
    click.echo(f"{clinic.path}: OK, {pick_text(clinic.name, ruleset.languages[0])}, time zone {clinic.timezone}")
    if protocol is not None:
        click.echo(f"{protocol.path}: OK, {len(protocol.devices)} device(s), {len(protocol.ranges)} protocol range(s)")
    else:
        click.echo("Devices file not checked: give --devices FILE to check one against this rule file.")
    for each in book.procedures.values():
        click.echo(summarize_procedure(each))
    # Each procedure is checked on its own; a shared question's warning is printed once.
    warnings = list(dict.fromkeys(w for each in book.procedures.values() for w in lint_rules(each)))
    for warning in warnings:
        click.echo(warning, err=True)
    if seal:
        for each in book.procedures.values():
            click.echo(f"# {each.procedure.id}: under its examples")
            click.echo(seal_line(each))
    if warnings and strict:
        click.echo(f"{len(warnings)} warning(s), refused by --strict.", err=True)
        sys.exit(2)


def _load_for_diff(path: str) -> tuple[RuleBook, list[str]]:
    """The rule file and its failing examples: any file that loads can be compared."""
    try:
        return load_book_candidate(path)
    except RuleFileError as error:
        raise CommandError("\n".join(error.problems)) from error


@click.command("diff-rules")
@with_appcontext
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("--procedure", help="Compare only this procedure (default: every procedure of the two files).")
@click.option("--replay", "days", type=click.IntRange(min=1), help="Re-evaluate the screenings of the last DAYS days.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def diff_rules_command(old: str, new: str, procedure: str | None, days: int | None, output: str) -> None:
    """What changes from rule file OLD to NEW, per procedure, and which of their examples fail
    (exit 1); with --replay, which past verdicts of each procedure would change (nothing is stored)."""
    (before, _old_failing), (after, _new_failing) = _load_for_diff(old), _load_for_diff(new)
    try:
        diffs = diff_rulebooks(before, after, procedure)
    except UnknownProcedure as error:
        raise CommandError(f"--procedure: {error}") from error
    if days:
        for diff in diffs:
            if diff.old is None or diff.new is None:
                continue  # a procedure only in one file has nothing to compare its screenings with
            # Each procedure's own screenings, under its own rules.
            diff.replay = replay_screenings(diff.old, diff.new, stored_screenings(days, diff.id))
            # Every recorded adverse event, whatever its day: they are few, and each one counts.
            diff.adverse = stopped_adverse_sessions(diff.new, adverse_event_sessions(diff.id))
        replayed = sum(diff.replay.screenings for diff in diffs if diff.replay)
        audit("rules.replay", details={"days": days, "screenings": replayed})
    if output == "json":
        click.echo(json.dumps(book_report_json(before, after, diffs, days), ensure_ascii=False, indent=2))
    else:
        click.echo("\n".join(book_report_lines(before, after, diffs, days)))
    if any(diff.old_failing or diff.new_failing for diff in diffs):
        # Part of the difference, not a refusal (exit 2 is a file that does not load).
        sys.exit(1)
