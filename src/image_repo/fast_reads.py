"""Stored files answered before Flask: thumbnails already made, and originals.

A gallery page asks for dozens of thumbnails at once, nearly all of them made
long ago. Through Flask each costs about 1.5 ms of Python (routing, the query
schema, the token policy, the ORM, response objects) around 0.2 ms of work:
one indexed query and one read of the store. This layer gives an anonymous
GET of a stored thumbnail or original the answer its route in api/images.py
gives (type, ETag, Last-Modified, 304, the download name, cache and security
headers) and what observability adds (the request id, the access line, the
request metric), without them.

Everything else goes on to Flask untouched: a token (the route checks it), a
Range, a parameter the route would have to read or refuse, a thumbnail not
made yet, FILE_OFFLOAD, reads that need a token, a repository not verified
yet, and any failure of the database or the store (the route answers those).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any
from urllib.parse import parse_qsl

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.http import http_date, is_resource_modified, quote_etag
from werkzeug.wsgi import wrap_file

from . import download_names, imaging, serving, thumbnails
from .api.files import NOSNIFF
from .api.images import FILE_SECURITY_HEADERS, thumbnail_headers
from .blobstore import NotStored, StorageError
from .models import db
from .observability import logs, metrics, request_id
from .serving import ServedImage

WSGIApplication = Callable[[dict[str, Any], Callable], Iterable[bytes]]
Answer = tuple[str, list[tuple[str, str]], Iterable[bytes]]

# The routes' URLs, with the ids their converter takes (no leading zeros).
PATH = re.compile(r"/image/([1-9][0-9]{0,17})(/thumbnail)?")
THUMBNAIL, DOWNLOAD = "images.thumbnail", "images.download"
SIZES = {str(size): size for size in thumbnails.SIZES}
# `?download=` values as the route reads them; other spellings go to the route.
ATTACHMENT = {"0": False, "false": False, "1": True, "true": True}
# Headers that need the route: a token to check, a part of the file.
FOR_THE_ROUTE = ("HTTP_AUTHORIZATION", "HTTP_RANGE", "HTTP_IF_RANGE")
# Originals are sent from the store in pieces this big, not read whole.
BLOCK = 256 * 1024


class FastReads:
    """WSGI middleware around the app's `wsgi_app` (see create_app)."""

    def __init__(self, app: Flask) -> None:
        self.application: WSGIApplication = app.wsgi_app
        self.config = app.config
        self.extensions = app.extensions
        self.storage = app.extensions["image_repo.storage"]
        with app.app_context():
            self.engine = db.engine

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        started = perf_counter()
        matched = self._matched(environ)
        if matched is None:
            return self.application(environ, start_response)
        endpoint, image_id, params = matched
        read = self._thumbnail if endpoint == THUMBNAIL else self._original
        answer = read(environ, image_id, params)
        if answer is None:
            return self.application(environ, start_response)
        status, headers, body = answer
        sent_id = request_id.choose(environ.get("HTTP_X_REQUEST_ID"))
        start_response(status, [*headers, *NOSNIFF.items(), (request_id.HEADER, sent_id)])
        seconds = perf_counter() - started
        code = int(status[:3])
        metrics.observe_request(endpoint, "GET", code, seconds)
        facts = request_id.begin(sent_id, "GET", environ["PATH_INFO"])
        try:
            logs.access("GET", environ["PATH_INFO"], code, seconds)
        finally:
            request_id.end(facts)
        return body

    def _matched(self, environ: dict[str, Any]) -> tuple[str, int, dict[str, str]] | None:
        """The endpoint, image id and parameters of a request this layer may
        answer, or None."""
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
        if len(params) < len(pairs):
            return None  # a parameter given twice: the route says which one counts
        endpoint = THUMBNAIL if matched[2] else DOWNLOAD
        return endpoint, int(matched[1]), params

    def _find(self, image_id: int) -> ServedImage | None:
        try:
            with self.engine.connect() as connection:
                return serving.find(image_id, connection)
        except (serving.ImageNotFound, SQLAlchemyError):
            return None

    def _thumbnail(self, environ: dict[str, Any], image_id: int, params: dict) -> Answer | None:
        size, name = params.pop("size", str(thumbnails.DEFAULT_SIZE)), params.pop("format", None)
        if params or size not in SIZES or name not in (None, *imaging.THUMBNAIL_FORMATS):
            return None
        image = self._find(image_id)
        if image is None:
            return None
        name = name or thumbnails.negotiate(environ.get("HTTP_ACCEPT"), image.has_alpha)
        etag = thumbnails.etag(image.sha512, SIZES[size], name)
        headers = [*thumbnail_headers(public=True).items(), ("ETag", quote_etag(etag))]
        if not is_resource_modified(environ, etag=etag, last_modified=image.uploaded_at):
            return "304 Not Modified", headers, []
        try:
            with self.storage.open(thumbnails.key(image.sha512, SIZES[size], name)) as stream:
                body = stream.read()
        except (NotStored, StorageError):
            return None
        metrics.thumbnail_cache(hit=True)
        mime_type = imaging.THUMBNAIL_FORMATS[name][1]
        return "200 OK", headers + _file_headers(mime_type, len(body), image), [body]

    def _original(self, environ: dict[str, Any], image_id: int, params: dict) -> Answer | None:
        attachment = ATTACHMENT.get(params.pop("download", "false"))
        if params or attachment is None:
            return None
        image = self._find(image_id)
        if image is None:
            return None
        headers = [*FILE_SECURITY_HEADERS.items(), ("ETag", quote_etag(image.original_etag))]
        if not is_resource_modified(
            environ, etag=image.original_etag, last_modified=image.uploaded_at
        ):
            return "304 Not Modified", headers, []
        try:
            stream = self.storage.open(image.storage_key)
        except (NotStored, StorageError):
            return None
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        disposition = download_names.content_disposition(
            image.original_name, image.id, image.format, attachment=attachment
        )
        headers += [
            *_file_headers(image.mime_type, size, image),
            ("Content-Disposition", disposition),
            ("Cache-Control", "no-cache"),  # as send_file's: a client asks again, with its ETag
        ]
        return "200 OK", headers, wrap_file(environ, stream, BLOCK)


def _file_headers(mime_type: str, size: int, image: ServedImage) -> list[tuple[str, str]]:
    return [
        ("Accept-Ranges", "bytes"),
        ("Content-Type", mime_type),
        ("Content-Length", str(size)),
        ("Last-Modified", http_date(image.uploaded_at)),
    ]
