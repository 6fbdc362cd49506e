"""Page weight: bytes transferred and requests for the questionnaire, in a real browser.

Loads /screening in Debian's chromium (English and Russian) from gunicorn and
sums what crossed the wire, with every request's host.

    .venv/bin/python bench/page_weight.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

from bench.durability import Server, free_port
from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS

BUDGET_BYTES, BUDGET_REQUESTS = 40 * 1024, 3


def measure(base: str, language: str) -> tuple[int, list[tuple[str, int]]]:
    """Total bytes (headers and bodies, both ways) and each request's URL and size."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale=language, extra_http_headers={"Accept-Language": language})
            page = context.new_page()
            finished = []
            page.on("requestfinished", lambda request: finished.append(request))
            page.goto(base + "/screening", wait_until="networkidle")
            rows = []
            for request in finished:
                sizes = request.sizes()
                size = sum(
                    sizes[k]
                    for k in ("requestHeadersSize", "requestBodySize", "responseHeadersSize", "responseBodySize")
                )
                rows.append((request.url, size))
            context.close()
        finally:
            browser.close()
    return sum(size for _, size in rows), rows


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        server = Server(Path(folder) / "weight.sqlite", free_port())
        server.start()
        try:
            results = {lang: measure(server.base, lang) for lang in ("en", "ru")}
        finally:
            server.stop()
    host = urlsplit(server.base).netloc
    ok = True
    print(f"Page weight of /screening (budget {BUDGET_BYTES // 1024} KB and {BUDGET_REQUESTS} requests, no other host)")
    for language, (total, rows) in results.items():
        foreign = [url for url, _ in rows if urlsplit(url).netloc != host]
        print(
            f"  {language}: {total / 1024:.1f} KB in {len(rows)} requests "
            f"({total / BUDGET_BYTES:.2f} of budget); requests to other hosts: {len(foreign)}"
        )
        for url, size in rows:
            print(f"      {size / 1024:6.1f} KB  {urlsplit(url).path}")
        ok = ok and total <= BUDGET_BYTES and len(rows) <= BUDGET_REQUESTS and not foreign
    print("PASS" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
