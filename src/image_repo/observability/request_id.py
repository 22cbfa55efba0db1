"""Which request a line of work belongs to: its id, and who asked what.

The facts live in a context variable, so every log line of the request's
thread can name them (see logs.py). Work a request hands to another thread or
process (a generation job, a webhook delivery) carries the id there with
`carried`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass

HEADER = "X-Request-ID"
# What a client's id may look like: short, and nothing that could break a log line.
SANE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,200}")


@dataclass
class RequestFacts:
    request_id: str
    method: str | None = None
    path: str | None = None
    user: str | None = None


_current: ContextVar[RequestFacts | None] = ContextVar("image_repo_request", default=None)


def choose(sent: str | None) -> str:
    """The client's id when it is sane, else a new one."""
    if sent and SANE.fullmatch(sent):
        return sent
    return os.urandom(16).hex()  # as random as uuid4().hex, at a fifth of the cost


def facts() -> RequestFacts | None:
    return _current.get()


def current() -> str | None:
    """The id of the request (or of the work it caused) this thread is doing."""
    found = _current.get()
    return found.request_id if found else None


def begin(request_id: str, method: str, path: str) -> Token:
    """Facts of the request this thread now serves; `end` with the token."""
    return _current.set(RequestFacts(request_id, method, path))


def end(token: Token) -> None:
    _current.reset(token)


def note_user(name: str | None) -> None:
    """Who the request turned out to be (once its token is checked)."""
    found = _current.get()
    if found is not None:
        found.user = name


@contextmanager
def carried(request_id: str | None) -> Iterator[None]:
    """Do work another thread or process was handed under the request id it came with."""
    token = _current.set(RequestFacts(request_id) if request_id else None)
    try:
        yield
    finally:
        _current.reset(token)
