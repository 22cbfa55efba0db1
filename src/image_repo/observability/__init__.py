"""What an operator sees: request ids, log lines, metrics.

`init_app` wraps every request: it takes or makes its id, answers with it in
`X-Request-ID`, counts the request and logs one line when it ends.
"""

from __future__ import annotations

from time import perf_counter

from flask import Flask, Response, g, request

from ..models import db
from . import logs, metrics, request_id


def init_app(app: Flask) -> None:
    logs.configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    with app.app_context():
        metrics.watch_database(db.engine)
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_end)


def _begin() -> None:
    g.request_started = perf_counter()
    sent = request.headers.get(request_id.HEADER)
    g.request_facts = request_id.begin(request_id.choose(sent), request.method, request.path)


def _finish(response: Response) -> Response:
    facts = request_id.facts()
    if facts is None:  # the request failed before `_begin` ran
        return response
    response.headers[request_id.HEADER] = facts.request_id
    seconds = perf_counter() - g.request_started
    metrics.observe_request(request.endpoint, request.method, response.status_code, seconds)
    logs.access(request.method, request.path, response.status_code, seconds)
    return response


def _end(_error: BaseException | None) -> None:
    # Only a request `_begin` saw: a context pushed to build URLs ends here too.
    if token := g.pop("request_facts", None):
        request_id.end(token)
