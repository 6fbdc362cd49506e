"""Where the machine's CPU goes per request under load: the gunicorn workers'
user and system time, and the whole machine's, for the trivial endpoint and
for the POST, measured in the same run (wrk -t2 -c32, 8 s each, 2 sync workers).

    .venv/bin/python -m bench.cpu_split [--duration 8]

Read with BENCHMARKS.md, section 2: with wrk on the same 2 cores, a POST at
half the trivial endpoint's throughput may cost the machine at most twice
what a trivial request costs it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.durability import Server, free_port
from bench.http_load import answered, post_script, wrk_installed

TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def machine_cpu() -> tuple[float, float, float]:
    """The machine's user (with nice), system, and interrupt CPU seconds so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (values[0] + values[1]) / TICKS, values[2] / TICKS, (values[5] + values[6]) / TICKS


def measure(server: Server, url: str, duration: int, script: Path | None = None) -> dict[str, float]:
    """Requests per second and CPU milliseconds per request (workers' user and system, machine's total)."""
    server.start()
    try:
        assert server.process is not None
        found = subprocess.run(["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True)
        workers = [int(pid) for pid in found.stdout.split()]
        before = [process_cpu(pid) for pid in workers]
        machine_before = machine_cpu()
        command = ["wrk", "-t2", "-c32", f"-d{duration}s", *(["-s", str(script)] if script else []), url]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        after = [process_cpu(pid) for pid in workers]
        machine_after = machine_cpu()
    finally:
        server.stop()
    requests = answered(output)
    per_request = 1000 / requests
    return {
        "rps": requests / duration,
        "user": sum(a[0] - b[0] for a, b in zip(after, before, strict=True)) * per_request,
        "system": sum(a[1] - b[1] for a, b in zip(after, before, strict=True)) * per_request,
        "machine": sum(a - b for a, b in zip(machine_after, machine_before, strict=True)) * per_request,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8)
    args = parser.parse_args()
    if not wrk_installed():
        return 2
    with tempfile.TemporaryDirectory() as folder:
        trivial = Server(Path(folder) / "unused", free_port(), app="bench.trivial_app:app", ready_path="/ping")
        baseline = measure(trivial, trivial.base + "/ping", args.duration)
        app = Server(Path(folder) / "bench.sqlite", free_port())
        post = measure(app, app.base + "/api/v1/screenings", args.duration, post_script(Path(folder)))
    print("CPU per request: gunicorn 2 sync workers, wrk -t2 -c32 on the same machine")
    print(f"{'endpoint':<28}{'req/s':>8}{'workers user':>14}{'workers sys':>13}{'machine':>9}{'vs trivial':>12}")
    for name, row in (("trivial GET /ping", baseline), ("POST /api/v1/screenings", post)):
        print(
            f"{name:<28}{row['rps']:>8.0f}{row['user']:>11.2f} ms{row['system']:>10.2f} ms"
            f"{row['machine']:>6.2f} ms{row['machine'] / baseline['machine']:>11.1f}x"
        )
    print(
        f"POST at 0.5 of trivial needs at most {2 * baseline['machine']:.2f} ms of the machine per POST;"
        f" its workers' user time alone is {post['user']:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
