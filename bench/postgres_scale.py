"""PostgreSQL beside SQLite, measured in the same run: POST throughput under gunicorn + wrk,
and the practitioner queue's first page at a small and a large number of screenings.

    .venv/bin/python -m bench.postgres_scale [--rows 1000000] [--small 1000] [--duration 8]

The large database is filled once in SQLite (``queue_scale.fill``) and streamed into
PostgreSQL with COPY, so both backends hold the same screenings. PostgreSQL runs durable
(fsync on), as a clinic would run it.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.durability import Server, free_port
from bench.http_load import post_script, run_wrk
from bench.queue_scale import fill, signed_in_client
from bench.servers import PostgresServer
from screening import create_app, storage
from screening.storage.copy import copied_columns
from screening.web.ruleset import get_ruleset

SECRET = "bench-secret-key-" + "x" * 32
COPY_CHUNK = 1_000


def post_throughput(database: str, folder: Path, duration: int) -> dict[str, float]:
    """wrk against POST /api/v1/screenings on gunicorn (2 sync workers) with ``database``."""
    server = Server(Path(database), free_port(), env={"SCREENING_DATABASE": database})
    server.start()
    try:
        return run_wrk(server.base + "/api/v1/screenings", duration, 32, post_script(folder))
    finally:
        server.stop()


def copy_screenings(sqlite_path: str, url: str) -> None:
    """Stream the screenings and the practitioner of the SQLite file into PostgreSQL with COPY."""
    import psycopg

    source = storage.connect(sqlite_path)
    target = storage.connect(url)
    try:
        for table in ("practitioners", "screenings"):
            columns = copied_columns(target, table)
            names = ", ".join(columns)
            rows = source.conn.execute(f"SELECT {names} FROM {table}")
            with psycopg.connect(url) as conn, conn.cursor() as cursor:
                # One COPY per chunk, each committed: the counters' triggers update the same
                # few rows once per screening, and PostgreSQL cannot prune those row versions
                # inside one transaction, so a single million-row COPY grows quadratically.
                while chunk := rows.fetchmany(COPY_CHUNK):
                    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        for row in chunk:
                            copy.write_row(row)
                    conn.commit()
        target.execute("SELECT setval(pg_get_serial_sequence('screenings', 'id'), (SELECT max(id) FROM screenings))")
        target.execute("ANALYZE")
    finally:
        source.close()
        target.close()


def first_page_ms(database: str, runs: int = 15) -> float:
    """Median time of the queue's first page (signed in), in milliseconds."""
    client = signed_in_client(database)
    client.get("/practitioner/")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        assert client.get("/practitioner/").status_code == 200
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def queue_pages(rows: int, server: PostgresServer, folder: Path) -> tuple[float, float]:
    """The first page's time on SQLite and on PostgreSQL, both holding the same ``rows`` screenings."""
    path = str(folder / f"queue-{rows}.sqlite")
    app = create_app({"DATABASE": path, "SECRET_KEY": SECRET, "SESSION_COOKIE_SECURE": False})
    start = time.perf_counter()
    fill(path, get_ruleset(app), rows, random.Random(rows))
    url = server.create_database(f"queue_{rows}")
    create_app({"DATABASE": url, "SECRET_KEY": SECRET, "SESSION_COOKIE_SECURE": False})  # migrates
    copy_screenings(path, url)
    print(f"  {rows:>9,} rows in both databases after {time.perf_counter() - start:.0f} s", flush=True)
    return first_page_ms(path), first_page_ms(url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--duration", type=int, default=8)
    args = parser.parse_args()
    server = PostgresServer(durable=True).start()
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            print("POST /api/v1/screenings, gunicorn 2 sync workers, wrk 32 connections", flush=True)
            sqlite_post = post_throughput(str(folder / "post.sqlite"), folder, args.duration)
            pg_post = post_throughput(server.create_database("post"), folder, args.duration)
            print("Queue first page (median of 15, test client)", flush=True)
            pages = {rows: queue_pages(rows, server, folder) for rows in (args.small, args.rows)}
    finally:
        server.stop()
    print(f"{'POST':<28}{'req/s':>9}{'vs SQLite':>11}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for label, r in (("SQLite (FULL, baseline)", sqlite_post), ("PostgreSQL (fsync on)", pg_post)):
        ratio = r["rps"] / sqlite_post["rps"]
        print(f"{label:<28}{r['rps']:>9.0f}{ratio:>11.2f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['errors']:>8.0f}")
    print(f"{'queue first page':<28}{'SQLite ms':>11}{'PostgreSQL ms':>15}{'PG vs SQLite':>14}")
    for rows, (lite, pg) in pages.items():
        print(f"{rows:>13,} screenings{'':<5}{lite:>11.2f}{pg:>15.2f}{pg / lite:>14.2f}")
    large, small = pages[args.rows], pages[args.small]
    print(f"large vs small: SQLite {large[0] / small[0]:.2f}x, PostgreSQL {large[1] / small[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
