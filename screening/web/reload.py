"""The rule file, clinic file and consent texts edited on disk, picked up by the running app.

Each process compares the files' modification time and size (and the reload stamp that
``flask reload`` and gunicorn's SIGHUP touch) at most once every ``CONFIG_CHECK_SECONDS``,
from a request. A changed set is read and validated as at start-up (the rule file's examples
run); only a set that loads whole replaces the one in force, so a broken edit keeps the
running version while its file:line problems are logged and shown to administrators.

A rule file approved in the app (``practitioner.rule_changes``) lives in the database, so
every server of one database serves it: each check also reads the approved version's id
and digests (one indexed query) and loads its text when that changed. Precedence: the
approved version wins over the disk file it was approved against (the disk file's SHA-256
is stored at approval); an edit of the disk file made after the approval wins again,
until the next approval. The disk file itself is never written: servers on several
machines would otherwise disagree about which edit came last.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app, g
from flask.cli import with_appcontext

from .. import storage
from ..core.clinic import Clinic, ClinicFileError, load_clinic
from ..core.consent import KINDS, ConsentFileError, ConsentSet, load_consent
from ..core.devices import DevicesFileError, Protocol, load_protocol_for
from ..core.loader import load_rulebook, parse_rulebook
from ..core.model import RuleBook, RuleFileError, RuleSet
from .db import get_db
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
    protocol: Protocol  # devices.yaml, checked against the rules
    rulebook: RuleBook  # every procedure of the rule file (``ruleset`` is its default one)


@dataclass
class _Watch:
    """One process's view of the files: when it last looked, what it saw, what failed to load."""

    stamps: tuple[Stamp, ...]
    checked: float = field(default_factory=time.monotonic)
    problems: tuple[str, ...] = ()
    approved: storage.ApprovedRules | None = None  # the database's approved version when last looked
    serving: int | None = None  # the id of the approved version in force (None: the disk file)
    lock: threading.Lock = field(default_factory=threading.Lock)


def file_sha256(path: str | Path) -> str | None:
    """The SHA-256 of the file's bytes, or None when it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def approved_wins(rules_file: Path, approved: storage.ApprovedRules | storage.RuleVersionRecord | None) -> bool:
    """Whether the approved version is served rather than the disk file: it is, unless the
    disk file was edited after the approval (or no version is approved)."""
    if approved is None:
        return False
    on_disk = file_sha256(rules_file)
    return on_disk is None or on_disk == approved["disk_sha256"]


def version_label(rules_file: Path, version_id: int) -> str:
    """How problems and the rule set name an approved version's text (the file it replaces, and its number)."""
    return f"{rules_file.name}, approved version {version_id}"


def read_files(config: Mapping[str, Any], approved: storage.RuleVersionRecord | None = None) -> Files:
    """Read and validate the rule file (``approved``'s text when it wins over the disk file),
    clinic file and consent texts; raise ``ConfigFilesError``."""
    rules_file = Path(config["RULES_FILE"])
    if approved is not None and approved_wins(rules_file, approved):
        return read_text_files(config, approved["text"], version_label(rules_file, approved["id"]))
    try:
        rulebook = load_rulebook(rules_file)  # its examples run here, as at start-up
    except RuleFileError as error:
        raise ConfigFilesError(error.problems) from error
    return with_clinic_and_consent(config, rulebook)


def read_text_files(config: Mapping[str, Any], text: str, label: str) -> Files:
    """A rule file's text (a version proposed or approved in the app, named ``label`` in its
    problems) with the clinic file and consent texts; raise ``ConfigFilesError``."""
    try:
        rulebook = parse_rulebook(text.encode("utf-8"), label)  # its examples run here too
    except RuleFileError as error:
        raise ConfigFilesError(error.problems) from error
    return with_clinic_and_consent(config, rulebook)


def with_clinic_and_consent(config: Mapping[str, Any], rulebook: RuleBook) -> Files:
    """The clinic file and consent texts read for ``rulebook``'s languages; raise ``ConfigFilesError``."""
    ruleset = rulebook.get()
    problems: list[str] = []
    try:
        clinic = load_clinic(config["CLINIC_FILE"], ruleset.languages)
    except ClinicFileError as error:
        problems.extend(error.problems)
    try:
        consent = load_consent(config["CONSENT_FOLDER"], ruleset.languages)
    except ConsentFileError as error:
        problems.extend(error.problems)
    try:
        protocol = load_protocol_for(config["DEVICES_FILE"], rulebook)
    except DevicesFileError as error:
        problems.extend(error.problems)
    if problems:
        raise ConfigFilesError(problems)
    return Files(ruleset, clinic, consent, protocol, rulebook)


def watched_paths(app: Flask) -> list[Path]:
    """The files whose change makes the app read them again, the reload stamp last."""
    config = app.config
    folder = Path(config["CONSENT_FOLDER"])
    texts = [folder / f"{kind}.{language}.md" for kind in KINDS for language in get_ruleset(app).languages]
    return [
        Path(config["RULES_FILE"]),
        Path(config["CLINIC_FILE"]),
        Path(config["DEVICES_FILE"]),
        *texts,
        Path(config["RELOAD_STAMP"]),
    ]


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
    app.extensions["rulebook"] = files.rulebook
    app.extensions["clinic"] = files.clinic
    app.extensions["consent"] = files.consent
    app.extensions["protocol"] = files.protocol
    app.extensions[IN_FORCE] = {
        "ruleset": files.ruleset,
        "rulebook": files.rulebook,
        "clinic": files.clinic,
        "consent": files.consent,
        "protocol": files.protocol,
    }


def look_up_approved(db: storage.Database, last_seen: storage.ApprovedRules | None) -> storage.ApprovedRules | None:
    """The approved version's id and digests; what was last seen when the database cannot answer
    (the page that needs the database says so; the rules in force stay)."""
    try:
        return storage.latest_approved_rules(db)
    except (sqlite3.Error, storage.StorageUnavailable) as error:
        log.warning("Could not look for an approved rule version: %s", error)
        return last_seen


def check_files(app: Flask, db: storage.Database | None = None) -> None:
    """Read the files again if they, or the approved rule version, changed since last seen; on
    problems keep the set in force. ``db``: the connection to look with (default: the request's)."""
    watch: _Watch = app.extensions["reload_watch"]
    if time.monotonic() - watch.checked < app.config["CONFIG_CHECK_SECONDS"]:
        return
    if not watch.lock.acquire(blocking=False):
        return  # another thread of this process is looking: serve what is in force
    try:
        watch.checked = time.monotonic()
        paths = watched_paths(app)
        stamps = file_stamps(paths)
        db = db if db is not None else get_db()
        approved = look_up_approved(db, watch.approved)
        if stamps == watch.stamps and approved == watch.approved:
            return
        # Stamped before reading: an edit made while reading differs at the next check.
        watch.stamps, watch.approved = stamps, approved
        try:
            version = storage.get_rule_version(db, approved["id"]) if approved is not None else None
            files = read_files(app.config, version)
        except (sqlite3.Error, storage.StorageUnavailable) as error:
            watch.approved = None  # looked for again at the next check
            log.warning("Could not read the approved rule version: %s", error)
            return
        except ConfigFilesError as error:
            watch.problems = tuple(error.problems)
            # The files' own lines only: they hold no patient data.
            running = get_ruleset(app).full_version
            log.error("Edited files not loaded, still serving rules %s:\n  %s", running, "\n  ".join(error.problems))
            return
        put_in_force(app, files)
        watch.problems = ()
        watch.serving = version["id"] if version is not None and files.ruleset.digest == version["sha256"] else None
        if watched_paths(app) != paths:  # another list of languages: other consent texts to watch
            watch.stamps = file_stamps(watched_paths(app))
        log.info("Edited files loaded: rules %s, clinic %s", files.ruleset.full_version, files.clinic.path)
    finally:
        watch.lock.release()


def load_problems(app: Flask | None = None) -> tuple[str, ...]:
    """The file:line problems of an edit that did not load (empty when the files on disk are in force)."""
    watch: _Watch = (app or current_app).extensions["reload_watch"]
    return watch.problems


def serving_version(app: Flask | None = None) -> int | None:
    """The id of the approved rule version in force in this process (None: the disk file's rules)."""
    watch: _Watch = (app or current_app).extensions["reload_watch"]
    return watch.serving


def check_soon(app: Flask | None = None) -> None:
    """Look at the files and the approved version at this process's next request (after an approval)."""
    watch: _Watch = (app or current_app).extensions["reload_watch"]
    watch.checked = float("-inf")


def load_approved_at_start(app: Flask) -> None:
    """Serve the approved rule version from the start, when it wins over the disk file (the
    database is migrated by now; a connection of its own, not a pool made before a fork)."""
    check_soon(app)
    try:
        db = storage.connect(app.config["DATABASE"])
    except (sqlite3.Error, OSError, storage.StorageUnavailable) as error:
        log.warning("Could not look for an approved rule version at start-up: %s", error)
        return
    try:
        with app.app_context():
            check_files(app, db)
    finally:
        db.close()


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
    approved = storage.latest_approved_rules(get_db())
    version = storage.get_rule_version(get_db(), approved["id"]) if approved is not None else None
    try:
        files = read_files(current_app.config, version)
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
    kept = ("ruleset", "rulebook", "clinic", "consent", "protocol")
    app.extensions[IN_FORCE] = {key: app.extensions[key] for key in kept}
    app.extensions["reload_watch"] = _Watch(file_stamps(watched_paths(app)))
    app.before_request(pin_files)
    app.cli.add_command(reload_command)
