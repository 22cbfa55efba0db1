"""A stand-in for Gemini's REST API on 127.0.0.1, for the real google-genai SDK.

It answers `POST /v1beta/models/{model}:generateContent` (and `/v1/...`) from a
script of replies, in order (the last one repeats), and records every request.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GENERATE = re.compile(r"/(v1beta|v1)/models/([^/:]+):generateContent")
API_KEY = "test-key"


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    delay: float = 0.0  # seconds before answering


@dataclass
class Request:
    path: str
    model: str
    headers: dict[str, str]
    body: dict[str, Any]


def image(data: bytes, mime_type: str = "image/png") -> Reply:
    """A picture, after a line of text, as the image models answer."""
    encoded = base64.b64encode(data).decode()
    parts = [
        {"text": "Here is your picture."},
        {"inlineData": {"mimeType": mime_type, "data": encoded}},
    ]
    return Reply(
        200,
        {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]},
    )


def safety_block(reason: str = "IMAGE_SAFETY") -> Reply:
    return Reply(
        200,
        {"candidates": [{"finishReason": reason, "finishMessage": "The image was blocked."}]},
    )


def blocked_prompt(reason: str = "PROHIBITED_CONTENT") -> Reply:
    return Reply(200, {"promptFeedback": {"blockReason": reason}})


def text_only(text: str) -> Reply:
    parts = [{"text": text}]
    return Reply(
        200,
        {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]},
    )


def error(code: int, status: str, message: str) -> Reply:
    return Reply(code, {"error": {"code": code, "message": message, "status": status}})


@dataclass
class FakeGemini:
    replies: list[Reply] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.received = threading.Event()  # set on each request; tests clear it
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies = list(replies)

    def close(self) -> None:
        self._closing.set()  # ends replies still being delayed
        self.server.shutdown()
        self.server.server_close()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
        self.received.set()

    def _next(self) -> Reply:
        with self._lock:
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                match = GENERATE.fullmatch(self.path.split("?")[0])
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if match is None:
                    self._send(Reply(404, {"error": {"code": 404, "message": "no such path"}}))
                    return
                request = Request(self.path, match[2], dict(self.headers), body)
                fake._record(request)
                if self.headers.get("x-goog-api-key") != API_KEY:
                    self._send(error(401, "UNAUTHENTICATED", "API key not valid."))
                    return
                reply = fake._next()
                fake._closing.wait(reply.delay)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler
