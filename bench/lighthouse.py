"""Lighthouse (mobile) scores for `/`, `/screening` and a patient's result page, from gunicorn.

Starts the app under gunicorn (2 workers) on a temporary database, stores one
screening through the JSON API for its result page, and runs Lighthouse's
default mobile audit (simulated throttling) in Debian's chromium several times
per page. Lighthouse's performance score moves from run to run on a shared
2-core machine, so each category's median over the runs is what counts; every
run is printed too. The baseline, measured in the same run and interleaved with
the app's pages, is a one-paragraph page from the smallest Flask app under the
same gunicorn (bench/trivial_app.py): when it loses points too, the machine was
busy. Exit 1 when any median of the app's pages is below 1.0, with the audits
that cost points.

    make lighthouse                      # installs Lighthouse with npm into .lighthouse/ first
    .venv/bin/python -m bench.lighthouse [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from bench.durability import Server, free_port
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = ROOT / ".lighthouse" / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
CHROME_FLAGS = ["--headless", *CHROMIUM_ARGS]
BASELINE = "baseline (trivial page)"


def store_screening(base: str) -> str:
    """Submit examples/screening.json through the API and return the result page's URL."""
    body = (ROOT / "examples" / "screening.json").read_bytes()
    request = urllib.request.Request(
        base + "/api/v1/screenings", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.loads(response.read())["result_url"])


def run_lighthouse(url: str, folder: Path) -> dict[str, object]:
    """One mobile Lighthouse run of ``url``: the parsed JSON report."""
    report = folder / "report.json"
    subprocess.run(
        [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={report}",
            f"--only-categories={','.join(CATEGORIES)}",
            f"--chrome-flags={' '.join(CHROME_FLAGS)}",
        ],
        check=True,
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        stdout=subprocess.DEVNULL,
    )
    result: dict[str, object] = json.loads(report.read_text())
    return result


def read_scores(report: dict[str, object]) -> dict[str, float]:
    """Each category's score (0 to 1) from a report, and Lighthouse's benchmarkIndex of the host during it."""
    categories, environment = report["categories"], report["environment"]
    assert isinstance(categories, dict) and isinstance(environment, dict)
    scores = {name: float(categories[name]["score"] or 0.0) for name in CATEGORIES}
    # Lighthouse's own measure of the host's CPU speed when the run started (higher is faster).
    scores["benchmarkIndex"] = float(environment.get("benchmarkIndex", 0.0))
    return scores


def list_lost_points(report: dict[str, object]) -> list[str]:
    """The weighted audits below a full score, as 'category: audit id (score)'."""
    categories, audits = report["categories"], report["audits"]
    assert isinstance(categories, dict) and isinstance(audits, dict)
    lost = []
    for name in CATEGORIES:
        for ref in categories[name]["auditRefs"]:
            audit = audits[ref["id"]]
            if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
                lost.append(f"{name}: {ref['id']} ({audit['score']:.2f}) {audit.get('displayValue', '')}".rstrip())
    return lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Lighthouse runs per page (the median counts)")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        print(f"Lighthouse is missing at {LIGHTHOUSE}: run `make lighthouse`", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        trivial = Server(Path(folder) / "unused", free_port(), app="bench.trivial_app:app", ready_path="/page")
        server = Server(Path(folder) / "lighthouse.sqlite", free_port())
        trivial.start()
        try:
            server.start()
            try:
                pages = {BASELINE: trivial.base + "/page", "/": server.base + "/"}
                pages["/screening"] = server.base + "/screening"
                pages["result page"] = store_screening(server.base)
                runs: dict[str, list[dict[str, float]]] = {name: [] for name in pages}
                lost: dict[str, set[str]] = {name: set() for name in pages}
                for _ in range(args.runs):  # pages interleaved, so a busy spell spreads over all of them
                    for name, url in pages.items():
                        report = run_lighthouse(url, Path(folder))
                        runs[name].append(read_scores(report))
                        lost[name].update(list_lost_points(report))
            finally:
                server.stop()
        finally:
            trivial.stop()
    version = subprocess.run([str(LIGHTHOUSE), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"Lighthouse {version}, mobile (simulated throttling), Debian's chromium, gunicorn 2 workers")
    print(f"Median of {args.runs} runs per page (performance varies between runs on a shared machine);")
    indexes = [s["benchmarkIndex"] for scores in runs.values() for s in scores]
    print(
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores; "
        f"Lighthouse's benchmarkIndex of the host {min(indexes):.0f}-{max(indexes):.0f} (higher is faster)"
    )
    width, column = max(len(name) for name in runs) + 2, max(16, 5 * args.runs + 2)
    print(f"{'page':<{width}}" + "".join(f"{name:>{column}}" for name in CATEGORIES))
    ok = True
    for name, scores in runs.items():
        medians = {category: statistics.median(s[category] for s in scores) for category in CATEGORIES}
        if name != BASELINE:
            ok = ok and all(value >= 1.0 for value in medians.values())
        print(f"{name:<{width}}" + "".join(f"{medians[category]:>{column}.2f}" for category in CATEGORIES))
        each = {category: "/".join(f"{s[category]:.2f}" for s in scores) for category in CATEGORIES}
        print(f"{'  each run':<{width}}" + "".join(f"{each[category]:>{column}}" for category in CATEGORIES))
    for name, audits in lost.items():
        for audit in sorted(audits):
            print(f"  {name}: lost points in a run: {audit}")
    print("PASS: every median of the app's pages is 1.00" if ok else "FAIL: a median of the app's pages is below 1.00")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
