"""Error answers for browsers: a page instead of problem+json.

A browser navigating asks for `text/html` above everything else; API clients
(`*/*`, `application/json`, nothing at all) keep getting problem+json.
"""

from __future__ import annotations

from flask import Response, current_app, render_template, request

ERROR_PAGE_POLICY = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'"


def wants_html() -> bool:
    accept = request.accept_mimetypes
    return accept.quality("text/html") > accept.quality("application/json")


def error_page(status: int, title: str, detail: str, headers: dict[str, str]) -> Response:
    body = render_template("web/error.html", status=status, title=title, detail=detail)
    response = current_app.response_class(body, status=status, mimetype="text/html")
    response.headers.update(headers)
    response.headers["Content-Security-Policy"] = ERROR_PAGE_POLICY
    return response
