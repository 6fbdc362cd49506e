"""The rule file, clinic file and consent texts edited on disk, picked up by the running app.

Each process compares the files' modification time and size (and the reload stamp that
``flask reload`` and gunicorn's SIGHUP touch) at most once every ``CONFIG_CHECK_SECONDS``,
from a request. A changed set is read and validated as at start-up (the rule file's examples
run); only a set that loads whole replaces the one in force, so a broken edit keeps the
running version while its file:line problems are logged and shown to administrators.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app, g
from flask.cli import with_appcontext

from ..core.clinic import Clinic, ClinicFileError, load_clinic
from ..core.consent import KINDS, ConsentFileError, ConsentSet, load_consent
from ..core.loader import load_rules
from ..core.model import RuleFileError, RuleSet
from .ruleset import IN_FORCE, get_ruleset

log = logging.getLogger(__name__)

# What a file's state is compared by: (modification time in ns, size), or None when it is missing.
Stamp = tuple[int, int] | None


class ConfigFilesError(Exception):
    """The files on disk do not load; ``problems`` are ``file:line: message`` lines."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Files:
    """The rule set, clinic and consent texts read together (the clinic and texts follow the rules' languages)."""

    ruleset: RuleSet
    clinic: Clinic
    consent: ConsentSet


@dataclass
class _Watch:
    """One process's view of the files: when it last looked, what it saw, what failed to load."""

    stamps: tuple[Stamp, ...]
    checked: float = field(default_factory=time.monotonic)
    problems: tuple[str, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)


def read_files(config: Mapping[str, Any]) -> Files:
    """Read and validate the rule file, clinic file and consent texts; raise ``ConfigFilesError``."""
    try:
        ruleset = load_rules(config["RULES_FILE"])  # its examples run here, as at start-up
    except RuleFileError as error:
        raise ConfigFilesError(error.problems) from error
    problems: list[str] = []
    try:
        clinic = load_clinic(config["CLINIC_FILE"], ruleset.languages)
    except ClinicFileError as error:
        problems.extend(error.problems)
    try:
        consent = load_consent(config["CONSENT_FOLDER"], ruleset.languages)
    except ConsentFileError as error:
        problems.extend(error.problems)
    if problems:
        raise ConfigFilesError(problems)
    return Files(ruleset, clinic, consent)


def watched_paths(app: Flask) -> list[Path]:
    """The files whose change makes the app read them again, the reload stamp last."""
    config = app.config
    folder = Path(config["CONSENT_FOLDER"])
    texts = [folder / f"{kind}.{language}.md" for kind in KINDS for language in get_ruleset(app).languages]
    return [Path(config["RULES_FILE"]), Path(config["CLINIC_FILE"]), *texts, Path(config["RELOAD_STAMP"])]


def file_stamps(paths: list[Path]) -> tuple[Stamp, ...]:
    """Each file's (mtime_ns, size): a stat per file, no reading."""
    stamps: list[Stamp] = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            stamps.append(None)
        else:
            stamps.append((info.st_mtime_ns, info.st_size))
    return tuple(stamps)


def put_in_force(app: Flask, files: Files) -> None:
    """Serve ``files`` from the next request on (one swap: a request keeps the set it started with)."""
    app.extensions["ruleset"] = files.ruleset
    app.extensions["clinic"] = files.clinic
    app.extensions["consent"] = files.consent
    app.extensions[IN_FORCE] = {"ruleset": files.ruleset, "clinic": files.clinic, "consent": files.consent}


def check_files(app: Flask) -> None:
    """Read the files again if they changed since last seen; on problems keep the set in force."""
    watch: _Watch = app.extensions["reload_watch"]
    if time.monotonic() - watch.checked < app.config["CONFIG_CHECK_SECONDS"]:
        return
    if not watch.lock.acquire(blocking=False):
        return  # another thread of this process is looking: serve what is in force
    try:
        watch.checked = time.monotonic()
        paths = watched_paths(app)
        stamps = file_stamps(paths)
        if stamps == watch.stamps:
            return
        # Stamped before reading: an edit made while reading differs at the next check.
        watch.stamps = stamps
        try:
            files = read_files(app.config)
        except ConfigFilesError as error:
            watch.problems = tuple(error.problems)
            # The files' own lines only: they hold no patient data.
            running = get_ruleset(app).full_version
            log.error("Edited files not loaded, still serving rules %s:\n  %s", running, "\n  ".join(error.problems))
            return
        put_in_force(app, files)
        watch.problems = ()
        if watched_paths(app) != paths:  # another list of languages: other consent texts to watch
            watch.stamps = file_stamps(watched_paths(app))
        log.info("Edited files loaded: rules %s, clinic %s", files.ruleset.full_version, files.clinic.path)
    finally:
        watch.lock.release()


def load_problems(app: Flask | None = None) -> tuple[str, ...]:
    """The file:line problems of an edit that did not load (empty when the files on disk are in force)."""
    watch: _Watch = (app or current_app).extensions["reload_watch"]
    return watch.problems


def request_reload(app: Flask) -> None:
    """Touch the reload stamp: every process of this machine reads the files at its next check."""
    stamp = Path(app.config["RELOAD_STAMP"])
    stamp.parent.mkdir(parents=True, exist_ok=True)
    before = stamp.stat().st_mtime_ns if stamp.exists() else 0
    # Past the previous time even within one tick of a coarse file-system clock, so two touches differ.
    moment = max(time.time_ns(), before + 1)
    stamp.touch()
    os.utime(stamp, ns=(moment, moment))


@click.command("reload")
@with_appcontext
def reload_command() -> None:
    """Check the rule file, clinic file and consent texts; when they load, running servers pick them up."""
    try:
        files = read_files(current_app.config)
    except ConfigFilesError as error:
        for problem in error.problems:
            click.echo(problem, err=True)
        click.echo(f"{len(error.problems)} problem(s) found; running servers keep the version in force.", err=True)
        raise SystemExit(2) from error
    request_reload(current_app)
    click.echo(
        f"OK: rules {files.ruleset.full_version}, clinic {files.clinic.path}, consent texts "
        f"{current_app.config['CONSENT_FOLDER']}; running servers read them at their next request."
    )


def pin_files() -> None:
    """Check the files, then fix this request's set: every part of one request sees the same version."""
    check_files(current_app)
    setattr(g, IN_FORCE, current_app.extensions[IN_FORCE])


def init_app(app: Flask) -> None:
    """Watch the files ``create_app`` loaded (before any other request hook), and add ``flask reload``."""
    app.extensions[IN_FORCE] = {key: app.extensions[key] for key in ("ruleset", "clinic", "consent")}
    app.extensions["reload_watch"] = _Watch(file_stamps(watched_paths(app)))
    app.before_request(pin_files)
    app.cli.add_command(reload_command)
