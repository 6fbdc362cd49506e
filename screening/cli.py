"""Command-line tools: ``flask --app app <command>``."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import IO, Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import get_ruleset
from .db import init_db, screening_day
from .engine import InvalidAnswers, screen
from .rules import RuleFileError, RuleSet, load_rules


class CommandError(click.ClickException):
    """A user error: message on stderr, exit code 2."""

    exit_code = 2


def summarize_ruleset(ruleset: RuleSet) -> str:
    """One line saying what a rule file holds."""
    return (
        f"{ruleset.path}: OK, version {ruleset.full_version}, {len(ruleset.questions)} questions, "
        f"{len(ruleset.rules)} rules, languages {', '.join(ruleset.languages)}"
    )


@click.command("check-rules")
@with_appcontext
@click.argument("file", required=False, type=click.Path(dir_okay=False))
def check_rules_command(file: str | None) -> None:
    """Validate a rule file (default: the one the app uses)."""
    path = file or current_app.config["RULES_FILE"]
    try:
        ruleset = load_rules(path)
    except RuleFileError as error:
        for problem in error.problems:
            click.echo(problem, err=True)
        click.echo(f"{len(error.problems)} problem(s) found.", err=True)
        sys.exit(2)
    click.echo(summarize_ruleset(ruleset))


def _read_answers(stream: IO[str]) -> dict[str, Any]:
    try:
        payload = json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CommandError(f"the input is not valid JSON: {error}") from error
    if not isinstance(payload, dict) or not isinstance(payload.get("answers"), dict):
        raise CommandError('the input must be a JSON object like {"answers": {"pregnant": "no", ...}}')
    answers: dict[str, Any] = payload["answers"]
    return answers


@click.command("screen")
@with_appcontext
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), help="Screening day (default: today).")
@click.option("--language", default=None, help="Language of the texts (default: the rule file's first).")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def screen_command(file: IO[str], today: dt.datetime | None, language: str | None) -> None:
    """Print the verdict for {"answers": {...}} read from FILE ('-' for stdin)."""
    ruleset = get_ruleset(current_app)
    language = language or ruleset.languages[0]
    if language not in ruleset.languages:
        raise CommandError(f"unknown language '{language}'; the rule file has {', '.join(ruleset.languages)}")
    answers = _read_answers(file)
    day = today.date() if today else screening_day()
    try:
        verdict = screen(ruleset, answers, day)
    except InvalidAnswers as error:
        for problem in error.problems:
            click.echo(f"{problem.field}: {problem.message}", err=True)
        sys.exit(2)
    click.echo(json.dumps(verdict.as_dict(language), ensure_ascii=False, indent=2))


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create or migrate the database."""
    applied = init_db(current_app.config["DATABASE"])
    if applied:
        click.echo(f"Applied migrations: {', '.join(applied)}")
    click.echo(f"Database ready: {current_app.config['DATABASE']}")


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in (check_rules_command, screen_command, init_db_command):
        app.cli.add_command(command)
