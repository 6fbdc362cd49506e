"""The documented limits hold across gunicorn's workers: the counts live in a
SQLite file every worker shares (web/limit_storage.py)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bench.durability import Server, free_port

pytestmark = pytest.mark.slow  # starts gunicorn


def _status(url: str) -> int:
    data = urllib.parse.urlencode({"email": "someone@example.com", "password": "not the password"}).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_ten_sign_ins_per_minute_from_one_address_across_two_workers(tmp_path: Path) -> None:
    server = Server(
        tmp_path / "screening.sqlite",
        free_port(),
        workers=2,
        env={
            "SCREENING_RATELIMIT_ENABLED": "true",
            "SCREENING_RATELIMIT_STORAGE_URI": f"sqlite:///{tmp_path / 'ratelimits.sqlite'}",
        },
    )
    server.start()
    try:
        url = server.base + "/practitioner/login"
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(_status, [url] * 30))
    finally:
        server.stop()
    assert len(statuses) == 30
    assert statuses.count(429) == 20  # 10 per minute (the default), whichever worker answered
    assert 500 not in statuses
