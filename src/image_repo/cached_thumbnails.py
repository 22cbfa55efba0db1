"""Thumbnails already made, answered before Flask.

A gallery page asks for dozens of thumbnails at once, nearly all of them made
long ago. Through Flask each costs about 1.5 ms of Python (routing, the query
schema, the token policy, the ORM, response objects) around 0.2 ms of work:
one indexed query and one read of the store. This layer gives an anonymous
GET of a stored thumbnail the answer the route in api/images.py gives (type,
ETag, Last-Modified, 304, cache and security headers) and what observability
adds (the request id, the access line, the request metric), without them.

Everything else goes on to Flask untouched: a token (the route checks it), a
Range, a parameter the route would have to read or refuse, a thumbnail not
made yet, FILE_OFFLOAD, reads that need a token, a repository not verified
yet, and any failure of the database or the store (the route answers those).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.http import http_date, is_resource_modified, quote_etag

from . import imaging, serving, thumbnails
from .api.files import NOSNIFF
from .api.images import thumbnail_headers
from .blobstore import NotStored, StorageError
from .models import db
from .observability import logs, metrics, request_id

WSGIApplication = Callable[[dict[str, Any], Callable], Iterable[bytes]]

# The route's URL, with the ids its converter takes (no leading zeros).
PATH = re.compile(r"/image/([1-9][0-9]{0,17})/thumbnail")
ENDPOINT = "images.thumbnail"
SIZES = {str(size): size for size in thumbnails.SIZES}
# Headers that need the route: a token to check, a part of the file.
FOR_THE_ROUTE = ("HTTP_AUTHORIZATION", "HTTP_RANGE", "HTTP_IF_RANGE")


class CachedThumbnails:
    """WSGI middleware around the app's `wsgi_app` (see create_app)."""

    def __init__(self, app: Flask) -> None:
        self.application: WSGIApplication = app.wsgi_app
        self.config = app.config
        self.extensions = app.extensions
        self.storage = app.extensions["image_repo.storage"]
        with app.app_context():
            self.engine = db.engine
        self.headers = [*thumbnail_headers(public=True).items(), *NOSNIFF.items()]

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = perf_counter()
        asked = self._asked(environ)
        answer = self._answer(environ, *asked) if asked else None
        if answer is None:
            return self.application(environ, start_response)
        status, headers, body = answer
        sent_id = request_id.choose(environ.get("HTTP_X_REQUEST_ID"))
        start_response(status, [*headers, (request_id.HEADER, sent_id)])
        seconds = perf_counter() - started
        code = int(status[:3])
        metrics.observe_request(ENDPOINT, "GET", code, seconds)
        facts = request_id.begin(sent_id, "GET", environ["PATH_INFO"])
        try:
            logs.access("GET", environ["PATH_INFO"], code, seconds)
        finally:
            request_id.end(facts)
        return [body]

    def _asked(self, environ: dict[str, Any]) -> tuple[int, int, str | None] | None:
        """The image id, size and format (None: negotiated) of a request this
        layer may answer, or None."""
        if environ["REQUEST_METHOD"] != "GET" or any(h in environ for h in FOR_THE_ROUTE):
            return None
        config = self.config
        if not config["PUBLIC_READ"] or config["FILE_OFFLOAD"]:
            return None
        if not self.extensions["image_repo.verified"]:
            return None
        matched = PATH.fullmatch(environ["PATH_INFO"])
        if matched is None:
            return None
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        params = dict(pairs)
        if len(params) < len(pairs) or not params.keys() <= {"size", "format"}:
            return None  # a parameter given twice, or one the route must read or refuse
        size, name = params.get("size", str(thumbnails.DEFAULT_SIZE)), params.get("format")
        if size not in SIZES or (name is not None and name not in imaging.THUMBNAIL_FORMATS):
            return None
        return int(matched[1]), SIZES[size], name

    def _answer(
        self, environ: dict[str, Any], image_id: int, size: int, name: str | None
    ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        """Status, headers and body, or None when the thumbnail is not at hand."""
        try:
            with self.engine.connect() as connection:
                image = serving.find(image_id, connection)
        except (serving.ImageNotFound, SQLAlchemyError):
            return None
        name = name or thumbnails.negotiate(environ.get("HTTP_ACCEPT"), image.has_alpha)
        etag = thumbnails.etag(image.sha512, size, name)
        headers = [*self.headers, ("ETag", quote_etag(etag))]
        if not is_resource_modified(environ, etag=etag, last_modified=image.uploaded_at):
            return "304 Not Modified", headers, b""
        try:
            with self.storage.open(thumbnails.key(image.sha512, size, name)) as stream:
                body = stream.read()
        except (NotStored, StorageError):
            return None
        metrics.thumbnail_cache(hit=True)
        headers += [
            ("Accept-Ranges", "bytes"),
            ("Content-Type", imaging.THUMBNAIL_FORMATS[name][1]),
            ("Content-Length", str(len(body))),
            ("Last-Modified", http_date(image.uploaded_at)),
        ]
        return "200 OK", headers, body
