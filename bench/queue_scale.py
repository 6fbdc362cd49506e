"""The practitioner queue at scale: first page and filters with 1,000 and
1,000,000 screenings.

    .venv/bin/python bench/queue_scale.py            # 1,000 and 1,000,000 rows
    .venv/bin/python bench/queue_scale.py --rows 200000

Rows are realistic: answer sets drawn with plausible frequencies, each run
through the engine for its verdict and reasons (a pool of evaluated answer
sets is reused, since 1,000,000 distinct evaluations would only measure the
engine), patient names for the full-text search, screenings spread over
three years, and older ones reviewed. Rows go in with one bulk insert,
through the same schema, indexes and triggers as the app's (the name index
and the table's indexes are built once after the load, from the same SQL).

Each page is fetched through the Flask test client, signed in, so the time
includes routing, the queries, the per-status counts, the 30-day chart and
template rendering. Both databases are filled first; then each page is fetched at
one size and the other in turn, so the ratio compares fetches made in the same
moments of a shared machine. The acceptance bar: first page and a status filter "well
under 100 ms" at a million rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The repository, not bench/, first on the path: run as a script, bench/ would
# come first and its modules could shadow the standard library's.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from screening import create_app  # noqa: E402
from screening.core.answers import NONE_OPTION  # noqa: E402
from screening.core.engine import Verdict, screen  # noqa: E402
from screening.core.model import RuleSet  # noqa: E402
from screening.practitioner.auth import hash_password  # noqa: E402
from screening.storage import REFERENCE_ALPHABET, REFERENCE_LENGTH, connect, create_practitioner  # noqa: E402
from screening.storage.screenings import verdict_columns  # noqa: E402
from screening.web.ruleset import get_ruleset  # noqa: E402

PASSWORD = "bench password 123"
# The rate limits stay on, counted in this process: in the instance folder's store, the
# sign-ins of earlier runs (and of anything else signing in from 127.0.0.1) would refuse this one.
APP_CONFIG = {
    "SECRET_KEY": "bench-secret-key-" + "x" * 32,
    "SESSION_COOKIE_SECURE": False,
    "RATELIMIT_STORAGE_URI": "memory://",
}
POOL_SIZE = 3000
# The verdict's columns, status first (the bench reads it back for decided_status).
VERDICT_COLUMNS = ("status", "reasons", "notes", "rescreen_after", "rules_version", "answers", "birth_date", "goals")
SPAN_DAYS = 3 * 365
# 30 x 50 names: a surname matches about 2% of the rows, a full name 0.07%.
FIRST_NAMES = [
    *("Anna", "Maria", "Olga", "Elena", "Irina", "Natalia", "Sofia", "Daria", "Ksenia", "Polina"),
    *("Emma", "Olivia", "Ava", "Mia", "Grace", "Chloe", "Lucy", "Amelia", "Isla", "Ella"),
    *("Ivan", "Pavel", "Dmitry", "Sergey", "Alexei", "James", "Oliver", "Jack", "Harry", "Noah"),
]
LAST_NAMES = [
    *("Petrova", "Ivanova", "Smirnova", "Kuznetsova", "Popova", "Sokolova", "Lebedeva", "Kozlova"),
    *("Novikova", "Morozova", "Volkova", "Solovyova", "Vasilyeva", "Zaitseva", "Pavlova", "Semenova"),
    *("Golubeva", "Vinogradova", "Bogdanova", "Vorobyova", "Fedorova", "Mikhailova", "Belyaeva", "Tarasova"),
    *("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright"),
    *("Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke"),
    *("Patel", "Khan", "Lewis", "Harris", "Martin", "Cooper"),
]


def random_answers(ruleset: RuleSet, rng: random.Random, today: dt.date) -> dict[str, Any]:
    """One patient's answers: mostly the clear answer, sometimes another."""
    answers: dict[str, Any] = {}
    for question in ruleset.questions:
        if question.type == "date":
            if question.id == ruleset.roles.get("birth_date"):
                day = today - dt.timedelta(days=rng.randint(16 * 365, 75 * 365))
            else:
                day = today - dt.timedelta(days=rng.randint(1, 3 * 365))
            answers[question.id] = day.isoformat()
        elif question.type == "multi":
            values = [o.value for o in question.options]
            picked = rng.sample(values, rng.randint(1, min(3, len(values))))
            # "none" is refused together with other options, as the form refuses it.
            answers[question.id] = [NONE_OPTION] if NONE_OPTION in picked else picked
        else:
            values = [o.value for o in question.options]
            clear = next((v for v in ("no", "none", "never") if v in values), values[0])
            if question.id == "skin_type" or rng.random() < 0.04:
                answers[question.id] = rng.choice(values)
            else:
                answers[question.id] = clear
    return answers


def verdict_pool(ruleset: RuleSet, rng: random.Random, today: dt.date) -> list[Verdict]:
    """Evaluated answer sets to draw rows from (follow-ups dropped by the engine)."""
    return [screen(ruleset, random_answers(ruleset, rng, today), today) for _ in range(POOL_SIZE)]


def fill(path: str, ruleset: RuleSet, rows: int, rng: random.Random) -> None:
    """Bulk-insert ``rows`` screenings spread over the last three years."""
    today = dt.date.today()
    # The columns as the app stores them (storage.verdict_columns), in VERDICT_COLUMNS order.
    pool = [tuple(verdict_columns(v)[c] for c in VERDICT_COLUMNS) for v in verdict_pool(ruleset, rng, today)]
    now = dt.datetime.now(dt.UTC)
    span = dt.timedelta(days=SPAN_DAYS).total_seconds()
    references: set[str] = set()
    db = connect(path)
    # A throw-away database: no journal, no fsync while loading.
    with db.ensure_autocommit_on():
        db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    sql = (
        "INSERT INTO screenings (reference, token_hash, created_at, source, language, patient_name, contact_email,"
        f" contact_phone, {', '.join(VERDICT_COLUMNS)}, consent_version, reviewed, decided_status, reviewed_at)"
        f" VALUES (?, ?, ?, 'web', 'en', ?, ?, NULL, {', '.join('?' for _ in VERDICT_COLUMNS)}, '2026-11', ?, ?, ?)"
    )
    batch: list[tuple[Any, ...]] = []
    # The name index is built once at the end (FTS5 'rebuild'), not row by row:
    # the app's trigger is dropped for the load and put back as it was.
    name_trigger = db.execute("SELECT sql FROM sqlite_master WHERE name = 'screenings_ai'").fetchone()
    # Likewise the table's indexes: built once from the loaded rows (a sort each), not kept
    # up to date row by row, then put back as the migrations made them.
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'screenings' AND sql IS NOT NULL"
    ).fetchall()
    with db.atomic():
        if name_trigger:
            db.execute("DROP TRIGGER screenings_ai")
        for name, _sql in indexes:
            db.execute(f"DROP INDEX [{name}]")
        for index in range(rows):
            while True:
                reference = "".join(rng.choices(REFERENCE_ALPHABET, k=REFERENCE_LENGTH))
                if reference not in references:
                    references.add(reference)
                    break
            # Spread evenly, newest last; the newest 2% are not reviewed yet.
            age = span * (1 - (index + rng.random()) / rows)
            created = (now - dt.timedelta(seconds=age)).isoformat(timespec="microseconds")
            verdict = rng.choice(pool)
            status = verdict[0]
            reviewed = index < rows * 0.98
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            batch.append(
                (
                    reference,
                    rng.randbytes(32).hex(),  # stands for a token's hash: random, never used
                    created,
                    name,
                    f"patient{index}@example.com",
                    *verdict,
                    int(reviewed),
                    status if reviewed else None,
                    created if reviewed else None,
                )
            )
            if len(batch) == 10_000:
                db.conn.executemany(sql, batch)
                batch.clear()
        if batch:
            db.conn.executemany(sql, batch)
        for _name, sql in indexes:
            db.execute(sql)
        if name_trigger:
            db.execute("INSERT INTO screenings_fts (screenings_fts) VALUES ('rebuild')")
            db.execute(name_trigger[0])
    db.execute("ANALYZE")
    with db.ensure_autocommit_on():
        db.execute("PRAGMA journal_mode=WAL")
    create_practitioner(db, "bench@example.com", "Bench Mark", hash_password(PASSWORD))
    db.close()


def fill_database(path: str, rows: int, seed: int) -> None:
    """``fill`` the database at ``path`` (created by the app already), in a process of its own."""
    app = create_app({**APP_CONFIG, "DATABASE": path})
    fill(path, get_ruleset(app), rows, random.Random(seed))


def create_database(path: str, rows: int, seed: int) -> None:
    """A database at ``path`` with the app's schema and ``rows`` screenings, filled in a child
    process: the loader's page cache (1 GB) and its pools must not count in the memory this
    process reports after serving the pages."""
    create_app({**APP_CONFIG, "DATABASE": path})  # the schema, by the app's migrations
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(fill_database, (path, rows, seed))


def signed_in_client(database: str) -> Any:
    """A test client of the app on ``database``, signed in as the bench's practitioner."""
    app = create_app({**APP_CONFIG, "DATABASE": database})
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    response = client.post("/practitioner/login", data={"email": "bench@example.com", "password": PASSWORD})
    if response.status_code != 303:
        raise RuntimeError(f"sign-in failed ({response.status_code}): was {database} filled by this bench?")
    return client


def fetch_ms(client: Any, url: str) -> float:
    """One fetch of ``url``, in milliseconds."""
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def rows_shown(client: Any, url: str) -> int:
    """The rows the page shows (one warm-up fetch): a filter that matches few of 1,000 rows
    shows a shorter page."""
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True).count('data-reference="')


def prepare(folder: str, rows: int, seed: int) -> tuple[Any, dict[str, str]]:
    """Fill a fresh database of ``rows`` screenings; a signed-in client and the pages' URLs."""
    path = str(Path(folder) / f"bench-{rows}.sqlite")
    start = time.perf_counter()
    create_database(path, rows, seed)
    size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
    print(
        f"  {rows:>9,} rows inserted in {time.perf_counter() - start:.1f} s;"
        f" database {size / 1e6:.1f} MB, {size / rows / 1024:.2f} KB per screening",
        flush=True,
    )
    client = signed_in_client(path)
    db = connect(path)
    row = next(db.query("SELECT reference, patient_name FROM screenings ORDER BY random() LIMIT 1"))
    db.close()
    first = client.get("/practitioner/").get_data(as_text=True)
    print(f"  resident memory after its first page: {resident_mib():.1f} MiB", flush=True)
    marker = 'rel="next"'
    next_url = first.split(marker)[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    urls = {
        "first page": "/practitioner/",
        "status=review": "/practitioner/?status=review",
        "review, not reviewed": "/practitioner/?status=review&reviewed=no",
        "status=ineligible": "/practitioner/?status=ineligible",
        "second page": next_url,
        "search reference": f"/practitioner/?q={row['reference']}",
        "search surname": f"/practitioner/?q={row['patient_name'].split()[1]}",
        "search full name": f"/practitioner/?q={row['patient_name']}",
        "last 7 days": f"/practitioner/?since={(dt.date.today() - dt.timedelta(days=7)).isoformat()}",
    }
    return client, urls


Timing = tuple[float, float, int]  # median ms, worst ms, rows shown


def measure(sizes: tuple[int, int], runs: int, seed: int) -> tuple[dict[str, Timing], dict[str, Timing]]:
    """Both databases filled first, then each page fetched at both sizes in turn, so that a
    busy moment of the shared machine slows both sides alike, not one of them."""
    with tempfile.TemporaryDirectory() as folder:
        prepared = []
        for size in sizes:
            print(f"Filling {size:,} screenings ...", flush=True)
            prepared.append(prepare(folder, size, seed))
        (small, small_urls), (large, large_urls) = prepared
        results: tuple[dict[str, Timing], dict[str, Timing]] = ({}, {})
        for label in small_urls:
            shown = (rows_shown(small, small_urls[label]), rows_shown(large, large_urls[label]))
            times: tuple[list[float], list[float]] = ([], [])
            for _ in range(runs):
                times[0].append(fetch_ms(small, small_urls[label]))
                times[1].append(fetch_ms(large, large_urls[label]))
            for side in (0, 1):
                results[side][label] = (statistics.median(times[side]), max(times[side]), shown[side])
        print(f"  resident memory after the pages at both sizes: {resident_mib():.1f} MiB", flush=True)
        return results


def resident_mib() -> float:
    """This process's resident memory (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="the large size (default 1,000,000)")
    parser.add_argument("--small", type=int, default=1_000, help="the small size (default 1,000)")
    parser.add_argument("--runs", type=int, default=30, help="timed fetches per page and size (default 30)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    small, large = measure((args.small, args.rows), args.runs, args.seed)
    print()
    print(f"{'page':<22}{args.small:>12,} rows{args.rows:>14,} rows{'ratio':>8}  shown  (median ms, worst in brackets)")
    for label in small:
        (s_med, s_max, s_shown), (l_med, l_max, l_shown) = small[label], large[label]
        print(
            f"{label:<22}{s_med:>8.1f} ({s_max:5.1f}){l_med:>10.1f} ({l_max:5.1f}){l_med / s_med:>8.2f}"
            f"  {s_shown:>2} / {l_shown:>2} rows"
        )
    slow = [label for label in ("first page", "status=review") if large[label][0] >= 100]
    if slow:
        print(f"\nSLOWER THAN 100 ms at {args.rows:,} rows: {', '.join(slow)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
