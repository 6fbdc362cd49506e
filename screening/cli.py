"""Command-line tools: ``flask --app app <command>``."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import sys
from typing import IO, Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .core.engine import InvalidAnswers, screen
from .core.people import NAME_MAX, is_email, normalise_email
from .core.text import INVALID_CHARACTERS, InvalidText, clean_text
from .practitioner.auth import PasswordError, check_new_password, hash_password
from .practitioner.safety_report import safety_report_command
from .rules_cli import CommandError, check_rules_command, diff_rules_command
from .storage import (
    API_SCOPES,
    AuditFilter,
    CopyRefused,
    PractitionerRecord,
    RestoreRefused,
    StorageUnavailable,
    backup_database,
    check_copy,
    compare_counts,
    connect,
    copy_database,
    count_screenings_before,
    create_api_token,
    create_practitioner,
    describe_url,
    end_sessions,
    erase_screening,
    finish_erasures,
    get_practitioner_by_email,
    has_live_api_token,
    is_postgres_url,
    list_audit,
    purge_screenings,
    restore_sqlite_backup,
    revoke_api_tokens,
    set_practitioner_active,
    verify_backup,
)
from .version import package_version
from .web.audit import audit, practitioner_target, screening_target
from .web.db import close_db, get_db, init_db, screening_day
from .web.roles import PRACTITIONER, ROLES, may_use_scope
from .web.ruleset import get_ruleset


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
    click.echo(f"Database ready: {database_label(current_app.config['DATABASE'])}")


def database_label(database: str) -> str:
    """The database setting as it may be printed: a PostgreSQL URL without its password."""
    return describe_url(database) if is_postgres_url(database) else database


@click.command("copy-database")
@click.argument("source")
@click.argument("target")
@with_appcontext
def copy_database_command(source: str, target: str) -> None:
    """Copy every table from SOURCE into the empty database TARGET (each an SQLite file or a postgresql:// URL)."""
    if not is_postgres_url(source) and not os.path.exists(source):
        raise CommandError(f"there is no database file {source}")
    try:
        # Both at this release's schema: the source is migrated if it is older, refused if newer.
        for database in (source, target):
            init_db(database)
        from_db, to_db = connect(source), connect(target)
    except StorageUnavailable as error:
        raise CommandError(str(error)) from error
    try:
        check_copy(from_db, to_db)
        for table, done, total in copy_database(from_db, to_db):
            if done == 0:
                click.echo(f"{table}: {total} row(s)", err=True)
            elif done == total:
                click.echo(f"{table}: {done} copied", err=True)
        differing = compare_counts(from_db, to_db)
    except CopyRefused as error:
        raise CommandError(str(error)) from error
    finally:
        from_db.close()
        to_db.close()
    if differing:
        details = ", ".join(f"{t} {a} != {b}" for t, (a, b) in differing.items())
        raise CommandError(f"row counts differ after the copy: {details}")
    audit("data.copy", details={"source": database_label(source), "target": database_label(target)})
    click.echo(f"Copied {database_label(source)} to {database_label(target)}; every table's row count matches.")


# --- Practitioner accounts and API tokens ------------------------------------------


def _practitioner(email: str) -> PractitionerRecord:
    row = get_practitioner_by_email(get_db(), email)
    if row is None:
        raise CommandError(f"there is no practitioner with the email {normalise_email(email)}")
    return row


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@click.command("create-practitioner")
@with_appcontext
@click.argument("email")
@click.option("--name", required=True, help="The practitioner's full name.")
@click.option(
    "--role", type=click.Choice(ROLES), default=PRACTITIONER, show_default=True, help="What the account may do."
)
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin instead of asking.")
def create_practitioner_command(email: str, name: str, role: str, password_stdin: bool) -> None:
    """Create a practitioner account; the password is asked for twice."""
    email = normalise_email(email)
    if not is_email(email):
        raise CommandError(f"'{email}' is not an email address")
    try:
        name = clean_text(name, required=True)  # core.text's rule, as the invite form's
    except InvalidText as error:
        if error.code == INVALID_CHARACTERS:
            raise CommandError("the name must not contain control characters or text-direction overrides") from None
        name = ""
    if not name or len(name) > NAME_MAX:
        raise CommandError(f"the name must have 1 to {NAME_MAX} characters")
    if get_practitioner_by_email(get_db(), email) is not None:
        raise CommandError(f"a practitioner with the email {email} already exists")
    password = _read_password(password_stdin)
    try:
        check_new_password(password, email)
    except PasswordError as error:
        raise CommandError(str(error)) from error
    try:
        create_practitioner(get_db(), email, name, hash_password(password), role)
    except sqlite3.IntegrityError as error:
        raise CommandError(f"a practitioner with the email {email} already exists") from error
    audit("practitioner.create", practitioner_target(email), {"role": role})
    click.echo(f"Created {role} {name.strip()} <{email}>.")


@click.command("deactivate-practitioner")
@with_appcontext
@click.argument("email")
def deactivate_practitioner_command(email: str) -> None:
    """Deactivate an account: it can no longer sign in, and its sessions and API tokens stop working."""
    row = _practitioner(email)
    set_practitioner_active(get_db(), row["email"], False)
    end_sessions(get_db(), row["id"], "deactivated")
    audit("practitioner.deactivate", practitioner_target(row["email"]))
    click.echo(f"Deactivated practitioner {row['name']} <{row['email']}>.")


@click.command("create-api-token")
@with_appcontext
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, e.g. 'booking system'.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(API_SCOPES),
    help="What it may read (repeat for several; default: all its owner's role may use).",
)
@click.option("--expires-days", type=click.IntRange(1, 3650), help="Days until it stops working (default: never).")
def create_api_token_command(email: str, name: str, scopes: tuple[str, ...], expires_days: int | None) -> None:
    """Issue an API token for a practitioner; it is printed once and never stored.
    It may carry only scopes the account's role may use (the role table)."""
    row = _practitioner(email)
    if not row["active"]:
        raise CommandError(f"the practitioner {row['email']} is deactivated")
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise CommandError(f"the token name must have 1 to {NAME_MAX} characters")
    if has_live_api_token(get_db(), row["id"], name):
        raise CommandError(f"{row['email']} already has a token named '{name}'; revoke it first or choose another name")
    role = row["role"]
    refused = [scope for scope in dict.fromkeys(scopes) if not may_use_scope(role, scope)]
    if refused:
        raise CommandError(f"the role {role} may not use the scope {', '.join(refused)}: its pages do not show that")
    scopes = tuple(dict.fromkeys(scopes)) or tuple(scope for scope in API_SCOPES if may_use_scope(role, scope))
    if not scopes:
        raise CommandError(f"the role {role} may use no API scope: a token of this account could read nothing")
    expires_at = None
    if expires_days is not None:
        expires_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=expires_days)).isoformat(timespec="microseconds")
    token = create_api_token(get_db(), row["id"], name, scopes, expires_at)
    audit(
        "api_token.create",
        practitioner_target(row["email"]),
        {"name": name, "scopes": " ".join(scopes), "expires_at": expires_at},
    )
    click.echo(token)
    click.echo("Keep this token secret; it is shown only once.", err=True)


@click.command("revoke-api-token")
@with_appcontext
@click.argument("email")
@click.option("--name", required=True, help="The name the token was created with.")
def revoke_api_token_command(email: str, name: str) -> None:
    """Revoke a practitioner's API token by name."""
    row = _practitioner(email)
    revoked = revoke_api_tokens(get_db(), row["id"], name)
    if not revoked:
        raise CommandError(f"{row['email']} has no live token named '{name.strip()}'")
    audit("api_token.revoke", practitioner_target(row["email"]), {"name": name.strip()})
    click.echo(f"Revoked the token '{name.strip()}' of {row['email']}.")


@click.command("purge")
@click.option("--older-than", "days", type=click.IntRange(min=1), required=True, help="Retention period in days.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def purge_command(days: int, yes: bool) -> None:
    """Delete screenings (and their reviews) older than the retention period."""
    db = get_db()
    cutoff = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat()
    total = count_screenings_before(db, cutoff)
    if total == 0:
        click.echo(f"No screenings older than {days} days.")
        return
    if not yes:
        click.confirm(f"Delete {total} screening(s) created before {cutoff[:10]}?", abort=True)
    counts = {"screenings": 0}
    with click.progressbar(length=total, label="Purging", file=sys.stderr) as bar:
        for counts in purge_screenings(db, cutoff):
            bar.update(counts["screenings"] - bar.pos)
    audit("data.purge", details={"older_than_days": days, **counts})
    click.echo(", ".join(f"{n} {table}" for table, n in counts.items()) + " deleted.")


@click.command("erase")
@click.argument("reference")
@with_appcontext
def erase_command(reference: str) -> None:
    """Erase one patient's screening on request (right to erasure); run again to finish an unfinished wipe."""
    reference = reference.strip().upper()
    db = get_db()
    counts = erase_screening(db, reference)
    if counts is None:
        if not list_audit(db, AuditFilter(action="screening.erase", targets=(screening_target(reference),)), limit=1):
            raise CommandError(f"no screening with reference {reference!r}")
        # Erased before, perhaps while a reader kept the old pages in the write-ahead log: finish that.
        cleared = finish_erasures(db)
        audit("screening.erase", screening_target(reference), details={"finished": 1, "wal_cleared": int(cleared)})
        if cleared:
            click.echo(f"Screening {reference} was erased before; no copy of it is left in the database files.")
    else:
        audit("screening.erase", screening_target(reference), details=counts)
        click.echo(f"Erased screening {reference} and {counts['reviews']} review(s).")
        cleared = bool(counts["wal_cleared"])
    if not cleared:
        click.echo(
            "The write-ahead log is in use and still holds old pages of this screening: "
            f"run `flask erase {reference}` again shortly to finish.",
            err=True,
        )
        sys.exit(1)


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup_command(path: str) -> None:
    """Write a consistent copy of the database to PATH while the app runs."""
    if os.path.exists(path):
        raise CommandError(f"{path} exists already; choose a new file name")
    db = get_db()
    with click.progressbar(length=100, label="Backing up", file=sys.stderr) as bar:
        for remaining, total in backup_database(db, path):
            bar.update(int(100 * (total - remaining) / max(total, 1)) - bar.pos)
    check = verify_backup(db, path)
    audit("data.backup", details={"integrity": check})
    click.echo(f"Backup written to {path} (integrity_check: {check}).")


@click.command("restore")
@click.argument("backup", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that holds screenings (stop the server first).")
@with_appcontext
def restore_command(backup: str, force: bool) -> None:
    """Put the SQLite backup BACKUP in place of the database, after checking it. Stop the server first."""
    database = current_app.config["DATABASE"]
    if is_postgres_url(database):
        raise CommandError(
            f"the database is PostgreSQL ({database_label(database)}): restore a dump of `backup` with pg_restore,"
            " e.g. pg_restore --clean --if-exists --no-owner --dbname=URL BACKUP"
        )
    close_db()  # this process's connection is to the file about to be replaced
    try:
        restored = restore_sqlite_backup(backup, database, force=force)
    except RestoreRefused as error:
        raise CommandError(f"not restored: {error}") from error
    applied = init_db(database)  # a backup of an earlier release is brought up to this one
    close_db()
    audit("data.restore", details={"screenings": restored.screenings, "migrated": len(applied), "forced": int(force)})
    click.echo(f"Restored {database} from {backup}: {restored.screenings} screening(s).")
    if applied:
        click.echo(f"Applied migrations: {', '.join(applied)}")


@click.command("version")
@with_appcontext
def version_command() -> None:
    """Print this release's version and the version of the rules in force."""
    click.echo(f"screening {package_version()}")
    click.echo(f"rules {get_ruleset().full_version}")


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in (
        check_rules_command,
        diff_rules_command,
        screen_command,
        init_db_command,
        create_practitioner_command,
        deactivate_practitioner_command,
        create_api_token_command,
        revoke_api_token_command,
        purge_command,
        erase_command,
        backup_command,
        restore_command,
        copy_database_command,
        version_command,
        safety_report_command,
    ):
        app.cli.add_command(command)
