"""Concurrency and crash safety against a real gunicorn server on 127.0.0.1.

N concurrent clients post screenings through the JSON API and through the web
form (with its CSRF token). Afterwards every acknowledged screening (201 or
303) must be in the database exactly once, with no 5xx and unique references.
With --crash the server is killed with SIGKILL in the middle of the load,
restarted, and the database must pass PRAGMA integrity_check and still hold
every screening whose acknowledgement reached a client.

    .venv/bin/python -m bench.durability [--clients 16] [--requests 25] [--crash] [--postgresql]

``--postgresql`` runs the same checks with the app on a throwaway PostgreSQL cluster (fsync on):
only the app is killed, so PostgreSQL's own integrity is not in question; every acknowledged
screening must still be there, once.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from screening import storage
from screening.storage import hash_token
from tests.helpers import CLEAR_ANSWERS

ROOT = Path(__file__).resolve().parent.parent
# The clearest patient; the load varies one answer.
ANSWERS = CLEAR_ANSWERS


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """gunicorn with 2 workers serving ``app`` (app:app by default) on a temporary database."""

    def __init__(
        self,
        database: Path,
        port: int,
        workers: int = 2,
        app: str = "app:app",
        ready_path: str = "/",
        env: dict[str, str] | None = None,
    ):
        self.database, self.port, self.workers, self.env = database, port, workers, env or {}
        self.app, self.ready_path = app, ready_path
        self.process: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        """Start gunicorn and wait until it answers."""
        env = {
            **os.environ,
            "SCREENING_DATABASE": str(self.database),
            "SCREENING_SECRET_KEY": "durability-test-secret-key-0123456789",
            "SCREENING_SESSION_COOKIE_SECURE": "false",
            "SCREENING_RATELIMIT_ENABLED": "false",
            # Links under the server's own address (the app refuses to serve without one).
            "SCREENING_PUBLIC_URL": self.base,
            **self.env,
        }
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.process = subprocess.Popen(
            [
                str(gunicorn),
                "-c",
                "gunicorn.conf.py",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                str(self.workers),
                "--access-logfile",
                "/dev/null",
                self.app,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, so SIGKILL reaches every worker
        )
        self.wait_until_up(self.ready_path)

    def wait_until_up(self, path: str) -> None:
        """Poll ``path`` until it answers 200 (30 s at most)."""
        assert self.process is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read() if self.process.stderr else b""
                raise RuntimeError("gunicorn exited: " + stderr.decode())
            try:
                with urllib.request.urlopen(self.base + path, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not answer within 30 s")

    def kill(self) -> None:
        """SIGKILL the master and every worker: no clean shutdown at all."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._close()

    def stop(self) -> None:
        """Stop gracefully."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        self._close()

    def _close(self) -> None:
        if self.process and self.process.stderr:
            self.process.stderr.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # a 303 is the acknowledgement we want to see, not follow


@dataclass
class Tally:
    """What the clients saw, shared between threads."""

    sent: int = 0
    acknowledged_api: list[str] = field(default_factory=list)  # references
    acknowledged_form: list[str] = field(default_factory=list)  # result tokens
    server_errors: int = 0
    other: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acknowledged(self) -> int:
        """How many requests the server has acknowledged so far."""
        with self.lock:
            return len(self.acknowledged_api) + len(self.acknowledged_form)

    def note(self, key: str) -> None:
        with self.lock:
            self.other[key] = self.other.get(key, 0) + 1


def _post_api(base: str, i: int, tally: Tally) -> None:
    body = json.dumps(
        {
            "answers": {**ANSWERS, "epilepsy": random.choice(["no", "yes", "unsure"])},
            "patient": {"name": f"Load Test {i}", "email": f"load{i}@example.com"},
            "consent": True,
        }
    ).encode()
    request = urllib.request.Request(
        base + "/api/v1/screenings", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with tally.lock:
        tally.sent += 1
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = json.loads(response.read())
            if response.status == 201:
                with tally.lock:
                    tally.acknowledged_api.append(payload["reference"])
    except urllib.error.HTTPError as error:
        if error.code >= 500:
            with tally.lock:
                tally.server_errors += 1
        tally.note(f"api {error.code}")
    except (OSError, http.client.HTTPException, ValueError) as error:
        # Cut off by the kill: connection reset, truncated status line or body.
        tally.note(f"api {type(error).__name__}")


def csrf_token(page: str) -> str | None:
    """The CSRF token of the first form on ``page``, if it has one."""
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    return found.group(1) if found else None


def _post_form(base: str, i: int, tally: Tally) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    try:
        with opener.open(base + "/screening", timeout=30) as response:
            page = response.read().decode()
        token = csrf_token(page)
        if not token:
            tally.note("form without csrf token")
            return
        data = urllib.parse.urlencode(
            {
                **ANSWERS,
                "patient_name": f"Form Test {i}",
                "email": f"form{i}@example.com",
                "consent": "y",
                "signature": f"Form Test {i}",
                "csrf_token": token,
            },
            doseq=True,  # a multi answer (["none"]) is one field per value, as a browser sends it
        ).encode()
        with tally.lock:
            tally.sent += 1
        opener.open(base + "/screening", data=data, timeout=30)
        tally.note("form answered without redirect")
    except urllib.error.HTTPError as error:
        if error.code == 303:
            location = error.headers.get("Location", "")
            with tally.lock:
                tally.acknowledged_form.append(location.rsplit("/", 1)[-1])
            return
        if error.code >= 500:
            with tally.lock:
                tally.server_errors += 1
        tally.note(f"form {error.code}")
    except (OSError, http.client.HTTPException) as error:
        tally.note(f"form {type(error).__name__}")


def run_load(base: str, clients: int, requests: int, tally: Tally, stop: threading.Event | None = None) -> None:
    """Each client posts ``requests`` screenings, alternating API and form."""

    def client(number: int) -> None:
        for j in range(requests):
            if stop is not None and stop.is_set():
                return
            i = number * requests + j
            (_post_api if i % 2 == 0 else _post_form)(base, i, tally)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        list(pool.map(client, range(clients)))


@dataclass
class Report:
    """The figures the script prints and the tests assert."""

    sent: int
    acknowledged: int
    rows: int
    lost: int
    duplicates: int
    server_errors: int
    integrity: str
    other: dict[str, int]


# What the PostgreSQL report says in the integrity line: the server was not killed, the app was.
NOT_KILLED = "n/a (server not killed)"


def serve(database: str, port: int) -> Server:
    """gunicorn on ``database``: an SQLite file's path or a ``postgresql://`` URL."""
    if storage.is_postgres_url(database):
        return Server(Path(tempfile.gettempdir()) / "unused.sqlite", port, env={"SCREENING_DATABASE": database})
    return Server(Path(database), port)


def check_database(database: str, tally: Tally) -> Report:
    """Compare what the clients were told with what the database holds."""
    if storage.is_postgres_url(database):
        db = storage.connect(database)
        try:
            rows = list(db.query("SELECT reference, token_hash FROM screenings"))
        finally:
            db.close()
        return compare_stored([r["reference"] for r in rows], {r["token_hash"] for r in rows}, tally, NOT_KILLED)
    conn = sqlite3.connect(database)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        references = [r for (r,) in conn.execute("SELECT reference FROM screenings")]
        hashes = {h for (h,) in conn.execute("SELECT token_hash FROM screenings")}
    finally:
        conn.close()
    return compare_stored(references, hashes, tally, integrity)


def compare_stored(references: list[str], hashes: set[str], tally: Tally, integrity: str) -> Report:
    """What the clients were told beside the stored references and token hashes (any backend)."""
    stored = set(references)
    lost = [r for r in tally.acknowledged_api if r not in stored]
    lost += [t for t in tally.acknowledged_form if hash_token(t) not in hashes]
    acknowledged = len(tally.acknowledged_api) + len(tally.acknowledged_form)
    return Report(
        sent=tally.sent,
        acknowledged=acknowledged,
        rows=len(references),
        lost=len(lost),
        duplicates=len(references) - len(stored),
        server_errors=tally.server_errors,
        integrity=integrity,
        other=dict(tally.other),
    )


def concurrency_check(clients: int, requests: int, database: str | None = None) -> Report:
    """Load a fresh server (on a new SQLite file, or the empty PostgreSQL ``database``); every
    acknowledged screening stored once."""
    with tempfile.TemporaryDirectory() as folder:
        database = database or str(Path(folder) / "load.sqlite")
        server = serve(database, free_port())
        server.start()
        tally = Tally()
        try:
            run_load(server.base, clients, requests, tally)
        finally:
            server.stop()
        return check_database(database, tally)


def crash_check(clients: int, kill_after: float, database: str | None = None) -> Report:
    """SIGKILL the server mid-load, restart it, and check nothing acknowledged was lost.

    The clients post without pause until the kill, so it lands mid-request.
    """
    with tempfile.TemporaryDirectory() as folder:
        database = database or str(Path(folder) / "crash.sqlite")
        server = serve(database, free_port())
        server.start()
        tally = Tally()
        stop = threading.Event()
        loader = threading.Thread(target=run_load, args=(server.base, clients, 10**6, tally, stop))
        loader.start()
        time.sleep(kill_after)
        # Mid-load, not mid-start-up: on a busy machine the first answers may take longer than
        # ``kill_after``, so the kill also waits for each client's first acknowledgement (a minute at most).
        deadline = time.monotonic() + 60
        while tally.acknowledged() < clients and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()
        stop.set()
        loader.join()
        restarted = serve(database, server.port)
        restarted.start()  # the app reopens and migrates the database after the crash
        try:
            with urllib.request.urlopen(restarted.base + "/screening", timeout=10) as response:
                assert response.status == 200
        finally:
            restarted.stop()
        return check_database(database, tally)


def print_report(title: str, report: Report) -> None:
    """The table the issue asks for."""
    print(title)
    for label, value in [
        ("requests sent", report.sent),
        ("acknowledged (201/303)", report.acknowledged),
        ("rows found", report.rows),
        ("lost (must be 0)", report.lost),
        ("duplicate references (must be 0)", report.duplicates),
        ("5xx (must be 0)", report.server_errors),
        ("integrity_check", report.integrity),
    ]:
        print(f"  {label:<34}{value!s:>10}")
    if report.other:
        print(f"  other outcomes: {report.other}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=25, help="screenings per client")
    parser.add_argument("--crash", action="store_true", help="also run the kill -9 check")
    parser.add_argument("--kill-after", type=float, default=1.5, help="seconds of load before SIGKILL")
    parser.add_argument("--postgresql", action="store_true", help="the app on a throwaway PostgreSQL (fsync on)")
    args = parser.parse_args()
    if not args.postgresql:
        return 0 if run_checks(args, None, None) else 1
    from bench.servers import PostgresServer

    server = PostgresServer(durable=True).start()
    try:
        return 0 if run_checks(args, server.create_database("load"), server.create_database("crash")) else 1
    finally:
        server.stop()


def run_checks(args: argparse.Namespace, load: str | None, crash_database: str | None) -> bool:
    """The concurrency check (and the crash check with ``--crash``), printed; whether both passed."""
    where = "PostgreSQL" if load else "SQLite"
    report = concurrency_check(args.clients, args.requests, load)
    print_report(
        f"Concurrency ({where}): {args.clients} clients x {args.requests} screenings, gunicorn 2 workers", report
    )
    whole = ("ok", NOT_KILLED)
    ok = report.lost == 0 and report.server_errors == 0 and report.duplicates == 0 and report.integrity in whole
    ok = ok and report.rows == report.acknowledged
    if args.crash:
        crash = crash_check(args.clients, args.kill_after, crash_database)
        print_report(f"Crash ({where}): SIGKILL after {args.kill_after} s of load, restart", crash)
        # Requests cut off by the kill are not acknowledged, so rows may exceed acknowledgements.
        ok = ok and crash.lost == 0 and crash.server_errors == 0 and crash.duplicates == 0
        ok = ok and crash.integrity in whole and sum(crash.other.values()) > 0  # the kill cut requests off
    print("PASS" if ok else "FAIL")
    return ok


if __name__ == "__main__":
    sys.exit(main())
