"""The patient's PDF beside the HTML result page it is made from: time and size, same run.

A fresh app on a temporary database stores one signed screening; then the result
page and its PDF are each fetched ``--rounds`` times through the test client (the
first PDF, which loads WeasyPrint and the fonts, is timed apart). Goal: a patient
PDF in under 1 s.

    .venv/bin/python -m bench.pdf [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from screening import create_app
from tests.helpers import TEST_CONFIG, questionnaire_form

GOAL_SECONDS = 1.0


def timed(client: Any, url: str, rounds: int) -> tuple[list[float], int]:
    """Each round's seconds for GET ``url``, and the body's size in bytes."""
    times, size = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        response = client.get(url, headers={"Accept-Language": "en"})
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
        size = len(response.get_data())
    return times, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({**TEST_CONFIG, "DATABASE": str(Path(folder) / "pdf.sqlite")})
        client = app.test_client()
        # A deferred patient with a reason: a two-page record.
        sent = client.post("/screening", data=questionnaire_form(recent_tan="yes"), headers={"Accept-Language": "en"})
        result = sent.headers["Location"]
        first, _ = timed(client, result + "/record.pdf", 1)
        html_times, html_size = timed(client, result, args.rounds)
        pdf_times, pdf_size = timed(client, result + "/record.pdf", args.rounds)
    html_median, pdf_median = statistics.median(html_times), statistics.median(pdf_times)
    print(f"Patient record: HTML result page vs its PDF (median of {args.rounds}, same run)")
    print("| what | median ms | max ms | bytes | vs HTML |")
    print("|---|---:|---:|---:|---:|")
    html_row = f"{html_median * 1000:.1f} | {max(html_times) * 1000:.1f} | {html_size:,}"
    print(f"| HTML result page (baseline) | {html_row} | 1.00 |")
    print(
        f"| patient PDF | {pdf_median * 1000:.1f} | {max(pdf_times) * 1000:.1f} | {pdf_size:,}"
        f" | {pdf_median / html_median:.0f}x |"
    )
    print(f"First PDF of the process (imports WeasyPrint, loads the fonts): {first[0] * 1000:.0f} ms")
    met = pdf_median < GOAL_SECONDS
    print(f"Goal: a patient PDF in under {GOAL_SECONDS:.0f} s: {'met' if met else 'NOT met'} ({pdf_median:.2f} s)")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
