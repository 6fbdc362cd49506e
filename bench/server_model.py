"""The server model: sync gunicorn, gthread gunicorn and granian at a few worker and thread counts,
each serving our API POST and GET /screening beside the same server's trivial endpoint, in one run.

    .venv/bin/python -m bench.server_model [--duration 5] [--connections 32] [--all | --only gthread]

granian is a bench-only dependency (``pip install -e ".[bench]"``); without it its rows are left out.
The database is made (migrated) once before the servers start, so no server migrates under load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.durability import ROOT, free_port
from bench.http_load import post_script, run_wrk, wrk_installed
from screening import create_app

BIN = Path(sys.executable).parent
SECRET = "server-model-secret-key-0123456789-0123456789"

# (label, server, workers, threads); "sync" ignores threads. ``--all`` measures every row; by
# default (``make bench``) the best of each server model on four runs (BENCHMARKS.md section 7)
# and the production configuration.
SHORT_LIST = {"gunicorn sync, 2 workers", "gunicorn gthread, 2 x 32 threads", "granian wsgi, 2 workers x 4 threads"}
CONFIGS = [
    ("gunicorn sync, 2 workers", "sync", 2, 1),
    ("gunicorn sync, 4 workers", "sync", 4, 1),
    ("gunicorn gthread, 2 x 4 threads", "gthread", 2, 4),
    ("gunicorn gthread, 2 x 16 threads", "gthread", 2, 16),
    ("gunicorn gthread, 2 x 32 threads", "gthread", 2, 32),
    ("gunicorn gthread, 4 x 8 threads", "gthread", 4, 8),
    ("granian wsgi, 2 workers x 4 threads", "granian", 2, 4),
    ("granian wsgi, 2 workers x 32 threads", "granian", 2, 32),
]


def command(kind: str, workers: int, threads: int, port: int, app: str) -> list[str]:
    """The command line serving ``app`` on ``port``."""
    if kind == "granian":
        return [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(threads),
            "--no-log",
            app,
        ]
    line = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-b", f"127.0.0.1:{port}", "-w", str(workers)]
    return [*line, "-k", kind, "--threads", str(threads), "--access-logfile", "/dev/null", app]


class Served:
    """One server process group on a free port."""

    def __init__(self, kind: str, workers: int, threads: int, app: str, database: Path) -> None:
        self.port = free_port()
        self.log = database.with_suffix(f".{kind}-{workers}x{threads}.log")
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "SCREENING_DATABASE": str(database),
            "SCREENING_SECRET_KEY": SECRET,
            "SCREENING_SESSION_COOKIE_SECURE": "false",
            "SCREENING_RATELIMIT_ENABLED": "false",  # as in bench.http_load
            "SCREENING_PUBLIC_URL": self.base,
        }
        self.process = subprocess.Popen(
            command(kind, workers, threads, self.port, app),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
            start_new_session=True,
        )

    def wait(self, path: str) -> None:
        """Until ``path`` answers (30 s at most)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                last = self.log.read_text(errors="replace").strip().splitlines()[-3:]
                raise RuntimeError(f"the server exited with {self.process.returncode}: {' / '.join(last)}")
            try:
                with urllib.request.urlopen(self.base + path, timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the server did not answer within 30 s")

    def stop(self) -> None:
        """Stop the whole process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def loaded(url: str, args: argparse.Namespace, script: Path | None = None) -> dict[str, float]:
    """wrk against ``url`` after a 1 s warm-up (each worker's first pages compile their templates)."""
    run_wrk(url, 1, 4, script)
    return run_wrk(url, args.duration, args.connections, script)


def measure(
    kind: str, workers: int, threads: int, folder: Path, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """The trivial endpoint, GET /screening and the API POST under one server configuration."""
    results = {}
    trivial = Served(kind, workers, threads, "bench.trivial_app:app", folder / "unused.sqlite")
    try:
        trivial.wait("/ping")
        results["trivial"] = loaded(trivial.base + "/ping", args)
    finally:
        trivial.stop()
    app = Served(kind, workers, threads, "app:app", folder / "app.sqlite")
    try:
        app.wait("/")
        results["GET"] = loaded(app.base + "/screening", args)
        results["POST"] = loaded(app.base + "/api/v1/screenings", args, post_script(folder))
    finally:
        app.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", default="", help="measure only the configurations whose label contains this")
    parser.add_argument("--all", action="store_true", help="every worker and thread count, not the short list")
    args = parser.parse_args()
    if not wrk_installed():
        return 2
    configs = [c for c in CONFIGS if c[1] != "granian" or shutil.which("granian", path=str(BIN))]
    configs = [c for c in configs if args.only in c[0] and (args.all or args.only or c[0] in SHORT_LIST)]
    rows = {}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        # Migrated once, here: servers without gunicorn's preload would otherwise migrate in each worker.
        create_app({"DATABASE": str(folder / "app.sqlite"), "SECRET_KEY": SECRET, "PUBLIC_URL": "http://x"})
        for label, kind, workers, threads in configs:
            print(f"  {label}", flush=True)
            try:
                rows[label] = measure(kind, workers, threads, folder, args)
            except RuntimeError as error:  # one configuration failing to start leaves the others' rows
                print(f"    not measured: {error}", flush=True)
    print(f"Server model: wrk -t2 -c{args.connections} -d{args.duration}s on the same 2 cores, one run")
    head = f"{'server':<38}{'trivial':>9}{'GET /screening':>16}{'vs triv':>8}{'API POST':>10}{'vs triv':>8}"
    print(head + f"{'GET p99':>9}{'POST p50':>10}{'POST p99':>10}{'errors':>8}")
    for label, r in rows.items():
        trivial, get, post = r["trivial"]["rps"], r["GET"]["rps"], r["POST"]["rps"]
        errors = r["trivial"]["errors"] + r["GET"]["errors"] + r["POST"]["errors"]
        print(
            f"{label:<38}{trivial:>9.0f}{get:>16.0f}{get / trivial:>8.2f}{post:>10.0f}{post / trivial:>8.2f}"
            f"{r['GET']['p99']:>9.1f}{r['POST']['p50']:>10.1f}{r['POST']['p99']:>10.1f}{errors:>8.0f}"
        )
    if not rows:
        return 1
    best = max(rows, key=lambda label: rows[label]["POST"]["rps"])
    print(f"most API POSTs per second: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
