"""Slow clients cannot stall gunicorn: with the project's gunicorn.conf.py, a
normal request is answered while many connections trickle their headers."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bench.durability import Server, free_port

pytestmark = pytest.mark.slow  # starts gunicorn

SLOW_CLIENTS = 16  # twice the 8 that stalled both sync workers
ANSWER_WITHIN = 20.0  # seconds: generous, the machine may be busy; the sync workers gave none in 45 s


def trickle(sockets: list[socket.socket], stop: threading.Event) -> None:
    """Send each connection's request headers one byte at a time, never finishing them."""
    header = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
    position = 0
    while not stop.wait(0.5):
        for sock in sockets:
            sock.sendall(header[position : position + 1])
        position += 1


def still_open(sock: socket.socket) -> bool:
    """Whether the server has neither answered nor closed this connection."""
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""  # data would be an answer to unfinished headers: not expected
    except BlockingIOError:
        return True  # nothing to read: the server is still waiting for the headers
    finally:
        sock.setblocking(True)


def test_a_request_is_answered_while_slow_clients_hang(tmp_path: Path) -> None:
    server = Server(tmp_path / "screening.sqlite", free_port(), workers=2)
    server.start()
    stop = threading.Event()
    sockets = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(SLOW_CLIENTS)]
    sender = threading.Thread(target=trickle, args=(sockets, stop), daemon=True)
    try:
        sender.start()
        time.sleep(3)  # every slow connection is accepted and has started its headers
        started = time.monotonic()
        with urllib.request.urlopen(server.base + "/", timeout=ANSWER_WITHIN) as response:
            status = response.status
            response.read()
        elapsed = time.monotonic() - started
        assert status == 200 and elapsed < ANSWER_WITHIN
        assert all(still_open(sock) for sock in sockets)  # answered while the slow clients still hang
        print(f"normal request answered in {elapsed:.3f} s beside {SLOW_CLIENTS} slow clients")
    finally:
        stop.set()
        sender.join()
        for sock in sockets:
            sock.close()
        server.stop()
