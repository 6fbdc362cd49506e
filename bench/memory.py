"""Resident memory of each gunicorn worker under a stream of POSTs.

The baseline is the same workers' memory after their first 1,000 requests,
measured in the same run; then after 10,000 and 50,000 (the goal: no growth
between the 10,000th and the 50,000th request).

    .venv/bin/python -m bench.memory [--requests 50000]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.durability import Server, free_port
from bench.http_load import answered, post_script, wrk_installed


def worker_memory(master: int) -> dict[int, int]:
    """Resident memory (KiB) of each worker of the gunicorn master ``master``."""
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    memory = {}
    for pid in map(int, children):
        status = Path(f"/proc/{pid}/status").read_text()
        memory[pid] = int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]
    return memory


def send(url: str, script: Path, requests: int) -> int:
    """POST over 32 connections in 2-second rounds until ``requests`` were answered; return how many."""
    done = 0
    while done < requests:
        command = ["wrk", "-t2", "-c32", "-d2s", "-s", str(script), url]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        done += answered(output)
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()
    if not wrk_installed():
        return 2
    marks = [1_000, 10_000, args.requests]
    with tempfile.TemporaryDirectory() as folder:
        script = post_script(Path(folder))
        server = Server(Path(folder) / "memory.sqlite", free_port())
        server.start()
        assert server.process is not None
        rows = []
        sent = 0
        try:
            for mark in marks:
                sent += send(server.base + "/api/v1/screenings", script, mark - sent)
                rows.append((sent, worker_memory(server.process.pid)))
        finally:
            server.stop()
    print("Worker memory: gunicorn 2 sync workers, POST /api/v1/screenings over wrk -c32")
    baseline = rows[0][1]
    print(f"{'requests':>10}" + "".join(f"{'worker ' + str(i + 1) + ' MiB':>16}" for i in range(len(baseline))))
    for sent, memory in rows:
        print(f"{sent:>10,}" + "".join(f"{kib / 1024:>16.1f}" for kib in memory.values()))
    growth = {pid: rows[-1][1][pid] - rows[1][1].get(pid, 0) for pid in rows[-1][1]}
    print(
        f"growth from request {rows[1][0]:,} to {rows[-1][0]:,}: "
        + ", ".join(f"{kib / 1024:+.1f} MiB" for kib in growth.values())
        + f" (vs the first {rows[0][0]:,}: "
        + ", ".join(f"{(rows[-1][1][pid] - baseline.get(pid, 0)) / 1024:+.1f} MiB" for pid in growth)
        + ")"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
