"""One queue page against a database kept on disk: for measuring a change to a page or its
queries before and after, on the same rows (not in make bench).

    .venv/bin/python -m bench.queue_page --fill /tmp/q1m.sqlite --rows 1000000   # once, ~70 s
    .venv/bin/python -m bench.queue_page /tmp/q1m.sqlite "/practitioner/?q=Smith"
    .venv/bin/python -m bench.queue_page /tmp/q1m.sqlite "/practitioner/?q=Smith" --profile

The rows are ``bench.queue_scale``'s (same generator, same seed). Prints the median and the
best of ``--runs`` signed-in fetches after one warm-up, and the rows the page shows; with
``--profile``, cProfile's top functions over the same fetches.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from pathlib import Path

from bench.queue_scale import create_database, fetch_ms, rows_shown, signed_in_client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", nargs="?", help="the database file to read")
    parser.add_argument("url", nargs="?", default="/practitioner/", help="the page (default the first page)")
    parser.add_argument("--fill", metavar="PATH", help="create and fill a database at PATH, then stop")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to fill (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=20, help="timed fetches (default 20)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top 30 functions")
    args = parser.parse_args()
    if args.fill:
        create_database(args.fill, args.rows, 1)
        print(f"{args.rows:,} screenings in {args.fill}")
        return 0
    if not args.database or not Path(args.database).is_file():
        parser.error("name a database file to read, or --fill one")
    try:
        client = signed_in_client(args.database)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 2
    shown = rows_shown(client, args.url)
    times = [fetch_ms(client, args.url) for _ in range(args.runs)]
    print(f"{args.url}: median {statistics.median(times):.2f} ms, best {min(times):.2f} ms, {shown} rows shown")
    if args.profile:
        profile = cProfile.Profile()
        start = time.perf_counter()
        profile.runcall(lambda: [client.get(args.url) for _ in range(args.runs)])
        print(f"profiled: {(time.perf_counter() - start) * 1000 / args.runs:.2f} ms a fetch")
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
