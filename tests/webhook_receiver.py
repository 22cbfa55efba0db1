"""A webhook receiver on 127.0.0.1 for the tests: it records what it is sent,
and can answer with errors, or hang, as a broken receiver would."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str = SECRET) -> dict:
        """The event, once `standardwebhooks` has checked its signature."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    """`statuses` are answered in order (the last one repeats); `hang` seconds
    pass before each answer. `start()` may come later: until then the port is
    closed, as for a receiver that is down."""

    def __init__(self, statuses: tuple[int, ...] = (204,), hang: float = 0.0) -> None:
        self.statuses = list(statuses)
        self.hang = hang
        self.received: list[Received] = []
        self.attempts = 0
        self._lock = threading.Lock()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._server: ThreadingHTTPServer | None = None
        self._closing = threading.Event()

    def start(self) -> Receiver:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        self._closing.set()  # hanging answers end now
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def events(self, count: int, timeout: float = 15) -> list[dict]:
        """The first `count` events received (verified), waiting for them."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} events came"
            time.sleep(0.02)
        return [received.verified() for received in self.received[:count]]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver._closing.wait(receiver.hang)
                with receiver._lock:
                    receiver.attempts += 1
                    status = receiver.statuses[min(receiver.attempts, len(receiver.statuses)) - 1]
                    if 200 <= status < 300:
                        receiver.received.append(Received(dict(self.headers), body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
