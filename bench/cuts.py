"""One API POST in-process: wall and CPU time and SQL statements per POST, on SQLite and PostgreSQL.

The WSGI callable is called in a loop (no server, no client), so what it measures is the app's own
work per POST, the figure the cheap cuts of issue 35 move; run it before and after a change:

    .venv/bin/python -m bench.cuts [--posts 1500] [--rounds 3] [--postgresql] [--profile] [--request-cuts]

SQLite runs as served (``synchronous=FULL``, WAL, the writer lock); PostgreSQL is a throwaway
cluster with fsync on (as a clinic runs it), so its wall time includes the commit's flush.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from bench.durability import ANSWERS
from screening import create_app


def body(number: int) -> bytes:
    """One screening as JSON, of a patient of its own (one patient's 50 earlier screenings would
    each be read and compared with the new answers: not the POST a clinic mostly sees)."""
    patient = {"name": "Bench Patient", "email": f"bench{number}@example.com"}
    return json.dumps({"answers": ANSWERS, "patient": patient, "consent": True}).encode()


CONFIG = {
    "SECRET_KEY": "bench-secret-key-" + "x" * 32,
    "SESSION_COOKIE_SECURE": False,
    "RATELIMIT_ENABLED": False,  # as under bench.http_load's gunicorn
    "PUBLIC_URL": "http://127.0.0.1:8000",
}


def post_environ() -> Callable[[bytes], dict[str, Any]]:
    """A fresh WSGI environ of one API POST of ``data`` each call (its body stream is consumed)."""
    base = {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/api/v1/screenings",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": "application/json",
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    return lambda data: {**base, "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data)}


class Counter:
    """Statements sent to the database while counting."""

    def __init__(self) -> None:
        self.statements = 0

    def __call__(self, *_: Any) -> None:
        self.statements += 1


@contextmanager
def counting_postgres(counter: Counter) -> Iterator[None]:
    """Count psycopg's round trips of this process: a statement outside a pipeline (execute,
    commit, rollback), and in pipeline mode only each wait for results (sync, the pipeline's end);
    executemany runs in a pipeline of its own, counted at its end."""
    import psycopg

    def outside_pipeline(owner: Any) -> bool:
        connection = owner if isinstance(owner, psycopg.Connection) else owner.connection
        return connection._pipeline is None

    originals: list[tuple[type, str, Any]] = []
    # Connection.execute runs a cursor's execute: counted there, once.
    for cls, name, counts in (
        (psycopg.Cursor, "execute", outside_pipeline),
        (psycopg.Connection, "commit", outside_pipeline),
        (psycopg.Connection, "rollback", outside_pipeline),
        (psycopg.Pipeline, "sync", lambda _: True),
        (psycopg.Pipeline, "__exit__", lambda _: True),
    ):
        original = getattr(cls, name)
        originals.append((cls, name, original))

        def wrapped(self: Any, *args: Any, _original: Any = original, _counts: Any = counts, **kwargs: Any) -> Any:
            if _counts(self):
                counter()
            return _original(self, *args, **kwargs)

        setattr(cls, name, wrapped)
    try:
        yield
    finally:
        for cls, name, original in originals:
            setattr(cls, name, original)


@contextmanager
def without_pipeline() -> Iterator[None]:
    """PostgreSQL's write transactions as before pipeline mode: each statement its own round trip."""
    from screening.storage.postgres import PgDatabase

    original = PgDatabase.pipelined
    PgDatabase.pipelined = lambda self: nullcontext()  # type: ignore[method-assign,assignment,return-value]
    try:
        yield
    finally:
        PgDatabase.pipelined = original  # type: ignore[method-assign]


def measure(database: str, posts: int, rounds: int, postgresql: bool) -> dict[str, float]:
    """Median of ``rounds`` rounds of ``posts`` POSTs: wall and CPU µs per POST, statements per POST."""
    app = create_app({**CONFIG, "DATABASE": database})
    environ = post_environ()
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    bodies = iter([body(number) for number in range(50 + 1 + rounds * posts)])

    def post() -> None:
        for chunk in app(environ(next(bodies)), start_response):
            del chunk
        if not statuses[-1].startswith("201"):
            raise RuntimeError(f"POST answered {statuses[-1]}")

    for _ in range(50):  # warm: imports, catalogs, the connection, the statement cache
        post()
    counter = Counter()
    if postgresql:
        with counting_postgres(counter):
            post()
    else:
        conn = app.extensions["db_connections"].db.conn
        conn.set_trace_callback(counter)
        post()
        conn.set_trace_callback(None)
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(posts):
            post()
        walls.append((time.perf_counter() - wall) / posts * 1e6)
        cpus.append((time.process_time() - cpu) / posts * 1e6)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "statements": counter.statements}


# The request cuts of issue 35 (no session, limiter or locale work an API POST does not need),
# each undone on its own app so that they are measured one by one in the same run.
REQUEST_CUTS = ("session", "limiter", "locale")


def undo_session_cut(app: Any) -> None:
    """Flask's own cookie sessions: a signer built per request, ``Vary: Cookie`` on every answer."""
    from flask.sessions import SecureCookieSessionInterface

    app.session_interface = SecureCookieSessionInterface()


def undo_locale_cut(app: Any) -> None:
    """Flask-Babel handed the language code, parsing it into a Locale each request."""
    from screening.web.i18n import select_language

    app.extensions["babel"].locale_selector = select_language


@contextmanager
def limiter_cut(kept: bool) -> Iterator[None]:
    """Flask-Limiter's own check (evaluating an empty list of limits while switched off) unless ``kept``."""
    from flask_limiter import Limiter

    from screening.web.limits import SwitchedLimiter

    if kept:
        yield
        return
    original = SwitchedLimiter.__dict__["_check_request_limit"]
    SwitchedLimiter._check_request_limit = Limiter._check_request_limit  # type: ignore[method-assign]
    try:
        yield
    finally:
        SwitchedLimiter._check_request_limit = original  # type: ignore[method-assign]


def measure_request_cuts(folder: str, posts: int, rounds: int) -> dict[str, dict[str, float]]:
    """CPU and wall µs per API POST on SQLite with none of the request cuts, each alone and all,
    the variants' rounds interleaved (each its own app and database) so that load drifts hit all."""
    variants: dict[str, tuple[str, ...]] = {"none (as before)": ()}
    variants.update({f"{cut} only": (cut,) for cut in REQUEST_CUTS})
    variants["all three"] = REQUEST_CUTS
    posters: dict[str, Callable[[], None]] = {}
    for number, (name, cuts) in enumerate(variants.items()):
        app = create_app({**CONFIG, "DATABASE": str(Path(folder) / f"request_cuts{number}.sqlite")})
        if "session" not in cuts:
            undo_session_cut(app)
        if "locale" not in cuts:
            undo_locale_cut(app)
        posters[name] = poster(app)
    walls: dict[str, list[float]] = {name: [] for name in variants}
    cpus: dict[str, list[float]] = {name: [] for name in variants}
    for name, post in posters.items():
        with limiter_cut("limiter" in variants[name]):
            for _ in range(50):
                post()
    for _ in range(rounds):
        for name, post in posters.items():
            with limiter_cut("limiter" in variants[name]):
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(posts):
                    post()
                walls[name].append((time.perf_counter() - wall) / posts * 1e6)
                cpus[name].append((time.process_time() - cpu) / posts * 1e6)
    return {name: {"wall": statistics.median(walls[name]), "cpu": statistics.median(cpus[name])} for name in variants}


def poster(app: Any) -> Callable[[], None]:
    """One API POST of a new patient to ``app`` per call, checked to be a 201."""
    environ = post_environ()
    statuses: list[str] = []
    numbers = iter(range(10**9))

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    def post() -> None:
        for chunk in app(environ(body(next(numbers))), start_response):
            del chunk
        if not statuses[-1].startswith("201"):
            raise RuntimeError(f"POST answered {statuses[-1]}")

    return post


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgresql", action="store_true", help="also on a throwaway PostgreSQL (fsync on)")
    parser.add_argument("--profile", action="store_true", help="cProfile one round on SQLite, top 25 by own time")
    parser.add_argument(
        "--request-cuts",
        action="store_true",
        help="SQLite only: the session, limiter and locale cuts undone, each alone and all, in one run",
    )
    args = parser.parse_args()
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        if args.request_cuts:
            cut_rows = measure_request_cuts(folder, args.posts, args.rounds)
            print(f"API POST in-process on SQLite, {args.posts} POSTs x {args.rounds} rounds (median), one thread")
            print(f"{'request cuts':<20}{'wall µs':>10}{'CPU µs':>10}{'CPU saved µs':>14}")
            before = cut_rows["none (as before)"]["cpu"]
            for name, row in cut_rows.items():
                print(f"{name:<20}{row['wall']:>10.0f}{row['cpu']:>10.0f}{before - row['cpu']:>14.0f}")
            return 0
        sqlite_path = str(Path(folder) / "cuts.sqlite")
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            measure(sqlite_path, args.posts, 1, False)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            return 0
        rows["SQLite (FULL, WAL)"] = measure(sqlite_path, args.posts, args.rounds, False)
        if args.postgresql:
            from bench.servers import PostgresServer

            server = PostgresServer(durable=True).start()
            try:
                with without_pipeline():
                    rows["PostgreSQL, no pipeline"] = measure(
                        server.create_database("cuts_before"), args.posts, args.rounds, True
                    )
                rows["PostgreSQL (fsync on)"] = measure(server.create_database("cuts"), args.posts, args.rounds, True)
            finally:
                server.stop()
    print(f"API POST in-process, {args.posts} POSTs x {args.rounds} rounds (median), one thread")
    print(f"{'database':<24}{'wall µs':>10}{'CPU µs':>10}{'statements':>12}{'wall vs SQLite':>16}{'CPU vs SQLite':>15}")
    lite = rows["SQLite (FULL, WAL)"]
    for name, row in rows.items():
        print(
            f"{name:<24}{row['wall']:>10.0f}{row['cpu']:>10.0f}{row['statements']:>12.0f}"
            f"{row['wall'] / lite['wall']:>16.2f}{row['cpu'] / lite['cpu']:>15.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
