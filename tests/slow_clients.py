"""Slow clients, as an attacker sends them, and a probe of whether others still get answers.

Three kinds, each `count` connections held open until the `with` block ends:

- slow headers: a request whose header lines come one every `interval` seconds;
- slow body: a multipart upload whose body comes one byte every `interval` seconds;
- slow reader: a request for a large file whose answer is never read (a tiny
  receive window, so the server's writes stall at once).

And `idle`: connections that send nothing at all. A `FLOOD` of them is more
than the server `make run` starts has places for.

`python tests/slow_clients.py URL` runs each against a server and prints how
its `/health` fared; the tests and `bench/servers.py` use the same functions.
"""

from __future__ import annotations

import argparse
import os
import resource
import select
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlsplit

import requests

from image_repo.web_worker import CONNECTION_LIMIT

KINDS = ("slow-headers", "slow-body", "slow-reader")
BOUNDARY = "slowslowslow"
# More connections than the server holds: its workers (as gunicorn.conf.py
# counts them) times each worker's places, and a hundred more.
FLOOD = int(os.environ.get("WEB_CONCURRENCY", "2")) * CONNECTION_LIMIT + 100


@contextmanager
def room_for_sockets(count: int) -> Iterator[None]:
    """This process, and the servers it starts meanwhile, may open `count`
    files and sockets (as far as the hard limit allows)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(count, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _connect(host: str, port: int, small_window: bool = False) -> socket.socket:
    connection = socket.socket()
    if small_window:  # set before connecting: the window is agreed in the handshake
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    connection.settimeout(5)
    connection.connect((host, port))
    return connection


def _opening(kind: str, host: str, path: str, token: str | None) -> tuple[bytes, bytes]:
    """What each connection sends at once, and what it then drips byte by byte."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    if kind == "idle":
        return b"", b""
    if kind == "slow-headers":
        start = f"GET /health HTTP/1.1\r\nHost: {host}\r\n".encode()
        return start, b"X-Slow: 1\r\n" * 10_000
    if kind == "slow-body":
        body = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; '
            f'filename="slow.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode() + b"\xff" * 100_000
        start = (
            f"POST /image/upload HTTP/1.1\r\nHost: {host}\r\n{auth}"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"Content-Length: {len(body) + 100}\r\n\r\n"
        ).encode()
        return start, body
    if kind == "slow-reader":
        return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}\r\n".encode(), b""
    raise ValueError(kind)


@contextmanager
def attack(
    url: str,
    kind: str,
    *,
    count: int = 24,
    interval: float = 5.0,
    path: str = "/health",
    token: str | None = None,
) -> Iterator[list[socket.socket]]:
    """`count` connections of `kind` against `url`, held (and dripping one
    line or byte every `interval` s) until the block ends."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port
    start, drip = _opening(kind, host, path, token)
    connections = []
    for _ in range(count):
        connection = _connect(host, port, small_window=kind == "slow-reader")
        connection.sendall(start)
        connections.append(connection)
    stop = threading.Event()

    def dripping() -> None:
        position = 0
        step = drip.index(b"\n") + 1 if kind == "slow-headers" else 1
        while not stop.wait(interval) and position < len(drip):
            piece = drip[position : position + step]
            position += step
            for connection in connections:
                with suppress(OSError):
                    connection.sendall(piece)

    dripper = threading.Thread(target=dripping, daemon=True)
    if drip:
        dripper.start()
    try:
        yield connections
    finally:
        stop.set()
        for connection in connections:
            connection.close()
        if drip:
            dripper.join()


def wait_until_answered(connections: list[socket.socket], timeout: float = 60) -> None:
    """Until each connection has the start of its answer, or was closed by the server."""
    waiting = select.poll()
    for connection in connections:
        waiting.register(connection, select.POLLIN)
    pending = len(connections)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for fd, _ in waiting.poll(200):
            waiting.unregister(fd)
            pending -= 1
    if pending:
        raise TimeoutError(f"{pending} of {len(connections)} connections got no answer")


def probe(
    url: str,
    *,
    path: str = "/health",
    rounds: int = 5,
    pause: float = 1.0,
    timeout: float = 2.0,
) -> list[float]:
    """Seconds each of `rounds` fresh `GET path` took (a connection each);
    `timeout` for none that got an answer in time (or got one that is not 200)."""
    times = []
    for _ in range(rounds):
        started = time.monotonic()
        try:
            ok = requests.get(f"{url}{path}", timeout=timeout).status_code == 200
        except requests.RequestException:
            ok = False
        times.append(time.monotonic() - started if ok else timeout)
        time.sleep(pause)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="e.g. http://127.0.0.1:5000")
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--path", default="/health", help="what slow readers ask for")
    parser.add_argument("--token", help="for the slow upload")
    options = parser.parse_args()
    for kind in KINDS:
        with attack(options.url, kind, count=options.count, path=options.path, token=options.token):
            time.sleep(1)
            times = probe(options.url)
        print(
            f"{kind:<13} /health: median {statistics.median(times):.3f} s, worst {max(times):.3f} s"
        )


if __name__ == "__main__":
    main()
