"""Writes to a SQLite file: writers queue on the writer lock, FULL stays FULL, the WAL stays small."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from screening import storage
from screening.storage.sqlite_writes import WRITER_LOCK_SUFFIX


def open_table(path: Path) -> Database:
    db = storage.connect(str(path))
    db.execute("CREATE TABLE IF NOT EXISTS t (x TEXT)")
    return db


def test_a_writer_waits_for_another_process_holding_the_lock_then_commits(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = open_table(path)
    holder = textwrap.dedent(
        f"""
        import fcntl, os, sys, time
        fd = os.open({str(path) + WRITER_LOCK_SUFFIX!r}, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        print("held", flush=True)
        time.sleep(0.6)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    start = time.monotonic()
    with storage.write_transaction(db):
        db.execute("INSERT INTO t VALUES ('after the other writer')")
    waited = time.monotonic() - start
    process.communicate()
    assert waited >= 0.3
    assert db.execute("SELECT x FROM t").fetchall() == [("after the other writer",)]


def test_two_threads_writing_at_once_both_commit(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    open_table(path).close()

    def write(label: str) -> None:
        db = storage.connect(str(path))
        for i in range(200):
            with storage.write_transaction(db):
                db.execute("INSERT INTO t VALUES (?)", [f"{label}{i}"])
        db.close()

    threads = [threading.Thread(target=write, args=(label,)) for label in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sqlite3.connect(path).execute("SELECT count(DISTINCT x) FROM t").fetchone() == (400,)


def test_a_second_connection_in_the_same_thread_is_refused_rather_than_hanging(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    first, second = open_table(path), storage.connect(str(path))
    second.execute("PRAGMA busy_timeout=100")
    with storage.write_transaction(first):
        first.execute("INSERT INTO t VALUES ('first')")
        with pytest.raises(sqlite3.OperationalError, match="locked"), storage.write_transaction(second):
            second.execute("INSERT INTO t VALUES ('second')")
    assert first.execute("SELECT x FROM t").fetchall() == [("first",)]


def test_full_is_still_the_connections_level_after_a_write(tmp_path: Path) -> None:
    db = open_table(tmp_path / "db.sqlite")
    with storage.write_transaction(db):
        db.execute("INSERT INTO t VALUES ('x')")
    # 2 = FULL: writes outside write_transaction are synced by SQLite itself.
    assert db.execute("PRAGMA synchronous").fetchone() == (2,)


def test_the_wal_stays_small_under_a_stream_of_writes(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    db = open_table(path)
    for _ in range(3000):
        with storage.write_transaction(db):
            db.execute("INSERT INTO t VALUES (hex(randomblob(1500)))")
    # 3,000 commits of a page or more each: without checkpoints about 12 MB of WAL.
    assert os.path.getsize(str(path) + "-wal") < 2_000_000
    assert db.execute("SELECT count(*) FROM t").fetchone() == (3000,)


class _Refused(Exception):
    pass


@pytest.mark.parametrize("failing_level", [1, 2, 3])
def test_nested_writes_roll_back_only_the_level_that_failed(tmp_path: Path, failing_level: int) -> None:
    # Every level's savepoint has one name: the innermost one is rolled back, the outer ones kept.
    db = open_table(tmp_path / "db.sqlite")

    def write(level: int) -> None:
        with storage.write_transaction(db):
            db.execute("INSERT INTO t VALUES (?)", [f"level {level}"])
            if level < 3:
                with contextlib.suppress(_Refused):
                    write(level + 1)
            if level == failing_level:
                raise _Refused

    with storage.write_transaction(db):
        db.execute("INSERT INTO t VALUES ('outer')")
        with contextlib.suppress(_Refused):
            write(1)
    kept = {row[0] for row in sqlite3.connect(tmp_path / "db.sqlite").execute("SELECT x FROM t")}
    assert kept == {"outer", *(f"level {n}" for n in range(1, failing_level))}
