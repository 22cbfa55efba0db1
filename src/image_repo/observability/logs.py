"""Log lines a person can read (LOG_FORMAT=text) or a log shipper can parse
(LOG_FORMAT=json: one JSON object per line), each naming its request.

The access line that ends each request goes to stdout, every other line to
stderr (gunicorn's own lines too: gunicorn.conf.py sends them this way).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from . import request_id

ACCESS = logging.getLogger("image_repo.access")
# Facts a line may carry beyond its message, in this order.
FIELDS = (
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "user",
    "job_id",
    "event",
    "webhook_id",
    "url",
)


class RequestFilter(logging.Filter):
    """Stamps each record with the facts of the request its thread is doing."""

    def filter(self, record: logging.LogRecord) -> bool:
        facts = request_id.facts()
        if facts is not None:
            for name in ("request_id", "method", "path", "user"):
                if getattr(record, name, None) is None:
                    setattr(record, name, getattr(facts, name))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2026-11-21 13:33:49,094 INFO image_repo.access [<request id>] GET /image/1 200 3.1 ms`"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(request_tag)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        record.request_tag = f" [{rid}]" if rid else ""
        return super().format(record)


class Handler(logging.StreamHandler):
    """Ours, so that configuring again replaces it rather than adding another."""


FORMATTERS = {"text": TextFormatter, "json": JsonFormatter}


def configure(log_format: str, level: str, *more_loggers: str) -> None:
    """Our handlers, in this format (replacing ones set before): the access
    lines on stdout, as gunicorn's own access log had them, and every other
    line on stderr. `level` for our loggers and `more_loggers` (other
    libraries' stay at WARNING)."""
    # Facts no line of ours shows (thread, process, the caller's file and
    # line): not computing them takes a third off each line's cost (the
    # logging HOWTO's "Optimization").
    logging.logThreads = logging.logMultiprocessing = False
    logging._srcfile = None
    _replace_handler(logging.getLogger(), sys.stderr, log_format)
    _replace_handler(ACCESS, sys.stdout, log_format)
    ACCESS.propagate = False
    for name in ("image_repo", *more_loggers):
        logging.getLogger(name).setLevel(level)


def _replace_handler(logger: logging.Logger, stream: TextIO, log_format: str) -> None:
    for handler in [h for h in logger.handlers if isinstance(h, Handler)]:
        logger.removeHandler(handler)
    handler = Handler(stream)
    handler.setFormatter(FORMATTERS[log_format]())
    handler.addFilter(RequestFilter())
    logger.addHandler(handler)


def access(method: str, path: str, status: int, seconds: float) -> None:
    """The one line each request ends with."""
    duration_ms = round(seconds * 1000, 1)
    ACCESS.info(
        "%s %s %s %.1f ms",
        method,
        path,
        status,
        duration_ms,
        extra={"status": status, "duration_ms": duration_ms},
    )
