"""Every error the API answers is `application/problem+json` (RFC 9457); browsers
that ask for HTML get the same as a page (web/errors.py).

Domain exceptions map to statuses here, in one table, so that a route never
builds an error body by hand.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from apiflask import APIFlask, HTTPError
from flask import Response, current_app
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from ..accounts import TokenNotFound
from ..blobstore import StorageError, StorageWriteError
from ..generation.jobs import InvalidGenerationRequest, JobNotFound, RunnerUnavailable
from ..imaging import CorruptImage, EmptyFile, ImageRejected, ImageTooLarge, UnsupportedFormat
from ..observability import metrics, request_id
from ..permissions import NotPermitted
from ..pictures import PictureBusy
from ..repository import RepositoryMismatch
from ..serving import ImageNotFound
from ..web.errors import error_page, wants_html
from .auth import NEEDS_TOKEN, REALM
from .rate_limit import RateLimited

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = "5"

# The nearest class of a rejection decides (see rejection_status).
REJECTION_STATUS: dict[type[ImageRejected], int] = {
    ImageRejected: 422,
    EmptyFile: 400,
    ImageTooLarge: 413,
    UnsupportedFormat: 415,
    CorruptImage: 422,
}
QUERY_LOCATIONS = {"query", "path"}
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeoutError)
# MySQL/MariaDB error numbers: lock wait timeout exceeded, deadlock found.
MYSQL_LOCK_CONFLICTS = (1205, 1213)
SQLITE_LOCK_CONFLICTS = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
# A request with thousands of wrong fields, or one with a name of 60 KB, gets
# an answer of a few KB: the first errors (by field name), and a count of the rest.
MAX_LISTED_ERRORS = 20
MAX_LISTED_NAME = 100


@dataclass
class Problem:
    status: int
    detail: str
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        body = {
            "type": "about:blank",
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }
        # The answer's X-Request-ID: what to quote when asking why.
        if rid := request_id.current():
            body["request_id"] = rid
        return body

    def response(self) -> Response:
        if wants_html():  # a browser navigating: a page, not JSON
            return error_page(self.status, self.body()["title"], self.detail, self.headers)
        response = current_app.response_class(
            current_app.json.dumps(self.body()), status=self.status, mimetype=PROBLEM_JSON
        )
        response.headers.update(self.headers)
        return response


def problem_for(error: Exception) -> Problem | None:
    """The problem a known failure means for the client, or None if unknown."""
    if isinstance(error, ImageRejected):
        return Problem(rejection_status(error), f"Rejected: {str(error).rstrip('.')}.")
    if isinstance(error, StorageError):
        metrics.storage_error("request")
    if isinstance(error, StorageWriteError):
        return Problem(
            507,
            f"The storage does not take writes now ({error}); nothing was changed.",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    if isinstance(error, StorageError):
        return Problem(
            503,
            f"The storage is unavailable ({error}); nothing was changed. Try again shortly.",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    if isinstance(error, PictureBusy):
        return Problem(503, f"{error}.", headers={"Retry-After": RETRY_AFTER_SECONDS})
    if isinstance(error, ImageNotFound | JobNotFound | TokenNotFound):
        return Problem(404, str(error))
    if isinstance(error, NotPermitted):
        if error.needs_token:
            return Problem(
                401, NEEDS_TOKEN, headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'}
            )
        return Problem(403, str(error))
    if isinstance(error, RateLimited):
        return Problem(429, str(error), headers={"Retry-After": str(error.retry_after)})
    if isinstance(error, RepositoryMismatch):
        return Problem(503, f"This server is misconfigured: {error.message}")
    if is_lock_conflict(error):
        return Problem(
            503,
            "The database is busy: this request waited too long for a lock that "
            "another change to the same data held. Try again shortly.",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    if isinstance(error, DATABASE_DOWN):
        return Problem(
            503,
            "The database is unavailable; try again shortly.",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )
    if isinstance(error, InvalidGenerationRequest):
        errors = [{"location": "json", "field": error.field, "detail": str(error)}]
        return Problem(422, f"{error.field}: {error}", extra={"errors": errors})
    if isinstance(error, RunnerUnavailable):
        return Problem(503, str(error), headers={"Retry-After": RETRY_AFTER_SECONDS})
    return None


def is_lock_conflict(error: Exception) -> bool:
    """A database that is up but gave up on this request: it waited too long
    for another transaction's lock, or found the two deadlocked."""
    if not isinstance(error, OperationalError):
        return False
    cause = error.orig
    if isinstance(cause, sqlite3.Error):  # the low byte: extended codes are variants
        return (getattr(cause, "sqlite_errorcode", None) or 0) & 0xFF in SQLITE_LOCK_CONFLICTS
    args = getattr(cause, "args", ())
    return bool(args) and args[0] in MYSQL_LOCK_CONFLICTS


def rejection_status(error: ImageRejected) -> int:
    """The status of the nearest class in the table: a subclass of a rejection
    is answered as its parent is."""
    return next(REJECTION_STATUS[kind] for kind in type(error).__mro__ if kind in REJECTION_STATUS)


def register_error_handlers(app: APIFlask) -> None:
    @app.error_processor
    def apiflask_error(error: HTTPError) -> Response:
        """Validation errors, and `abort()` from routes.

        A body that parses but holds invalid values is 422 (APIFlask's choice);
        a query string that does not fit is a malformed request: 400.
        """
        status = error.status_code
        if isinstance(error.detail, dict) and error.detail:
            errors, detail = _validation_errors(error.detail)
            extra = {"errors": errors}
            if set(error.detail) <= QUERY_LOCATIONS:
                status = 400
        else:
            detail = error.message or HTTPStatus(status).description
            extra = dict(error.extra_data)
        return Problem(status, detail, dict(error.headers or {}), extra).response()

    @app.errorhandler(HTTPException)
    def werkzeug_error(error: HTTPException) -> Response:
        """Routing errors (404, 405), 413 from the body limit, a body that does
        not parse (webargs attaches its messages), and 500s."""
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        status = error.code or 500
        messages = getattr(error, "data", {}).get("messages")
        if messages:
            errors, detail = _validation_errors(messages)
            return Problem(status, detail, headers, {"errors": errors}).response()
        return Problem(
            status, error.description or HTTPStatus(status).description, headers
        ).response()

    for known in (
        ImageRejected,
        StorageError,
        PictureBusy,
        ImageNotFound,
        JobNotFound,
        TokenNotFound,
        NotPermitted,
        RepositoryMismatch,
        RateLimited,
        InvalidGenerationRequest,
        RunnerUnavailable,
        *DATABASE_DOWN,
    ):

        @app.errorhandler(known)
        def known_error(error: Exception) -> Response:
            if is_lock_conflict(error):
                app.logger.warning("database lock conflict: %s", error)
            elif isinstance(error, DATABASE_DOWN):
                app.logger.warning("database unavailable: %s", error)
            problem = problem_for(error)
            assert problem is not None
            return problem.response()


def _validation_errors(detail: dict[str, Any]) -> tuple[list[dict], str]:
    """The first MAX_LISTED_ERRORS of webargs' messages, as the answer's
    `errors`, and its `detail`: each of them in a sentence, then how many more."""
    everything = sorted(
        _flatten_validation_errors(detail), key=lambda e: (e["location"], e["field"])
    )
    errors = [e | {"field": _shortened(e["field"])} for e in everything[:MAX_LISTED_ERRORS]]
    sentences = [f"{e['field'] or e['location']}: {e['detail']}" for e in errors]
    if len(everything) > len(errors):
        sentences.append(f"and {len(everything) - len(errors):,} more")
    return errors, "; ".join(sentences)


def _shortened(name: str) -> str:
    return name if len(name) <= MAX_LISTED_NAME else f"{name[: MAX_LISTED_NAME - 1]}…"


def _flatten_validation_errors(detail: dict[str, Any]):
    """{"query": {"size": ["Must be one of..."]}} -> [{"location", "field", "detail"}]."""
    for location, fields in detail.items():
        yield from _flatten_fields(location, fields, "")


def _flatten_fields(location: str, messages: Any, name: str):
    if isinstance(messages, dict):
        for key, inner in messages.items():
            yield from _flatten_fields(location, inner, f"{name}.{key}" if name else str(key))
    else:
        texts = messages if isinstance(messages, list) else [messages]
        yield {"location": location, "field": name, "detail": " ".join(map(str, texts))}
