"""File answers: an object of the store sent with its type, name, ETag,
Last-Modified, 304 and Range, or handed to whoever sends files for us
(FILE_OFFLOAD): a proxy in front (X-Sendfile, X-Accel-Redirect) or the
object store itself (a 302 to a presigned URL)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import BinaryIO

from flask import Response, current_app, redirect, request, send_file
from werkzeug.http import is_resource_modified

from ..blobstore import NotStored
from ..stores import current_storage

# On every answer of the service (create_app adds it): a browser takes the
# Content-Type as sent and never guesses a page out of a picture.
NOSNIFF = {"X-Content-Type-Options": "nosniff"}


def not_modified(etag: str, last_modified: datetime) -> Response | None:
    """A 304 when the client's copy is current (no need to touch the store)."""
    if is_resource_modified(request.environ, etag=etag, last_modified=last_modified):
        return None
    response = current_app.response_class(status=304)
    response.set_etag(etag)
    response.last_modified = last_modified
    return response


def send_object(
    key: str,
    *,
    mimetype: str,
    etag: str,
    last_modified: datetime,
    made: bytes | None = None,
    stream: BinaryIO | None = None,
    content_disposition: str | None = None,
) -> Response:
    """The object under `key` as an answer: from `stream` when the caller has
    opened it, from `made` when the bytes are not (yet) in the store.

    A conditional request that matches is answered 304 without touching the
    store. Raises NotStored when the object is gone.
    """
    unchanged = not_modified(etag, last_modified)
    if unchanged is not None:
        if stream is not None:
            stream.close()
        return unchanged
    storage = current_storage()
    offload = current_app.config["FILE_OFFLOAD"] if made is None and stream is None else ""
    if offload == "redirect":
        link = storage.link(key, mime_type=mimetype, content_disposition=content_disposition)
        if link is not None:
            response = redirect(link.url, 302)
            response.headers["Cache-Control"] = "private, no-store"
            return response
    if offload in ("x-sendfile", "x-accel-redirect"):
        if storage.stat(key) is None:
            raise NotStored(key)
        body: BinaryIO = io.BytesIO()
    elif made is not None:
        body = io.BytesIO(made)
    else:
        body = stream if stream is not None else storage.open(key)
    response = send_file(
        body, mimetype=mimetype, conditional=False, etag=False, last_modified=last_modified
    )
    response.set_etag(etag)
    if content_disposition is not None:
        response.headers["Content-Disposition"] = content_disposition
    if offload in ("x-sendfile", "x-accel-redirect"):
        # Headers only: the proxy sends the bytes, and answers a Range itself.
        response.content_length = 0
        if offload == "x-accel-redirect":
            response.headers["X-Accel-Redirect"] = current_app.config["X_ACCEL_PREFIX"] + key
        else:
            response.headers["X-Sendfile"] = str(storage.local_path(key))
        return response
    size = body.seek(0, io.SEEK_END)
    body.seek(0)
    response.content_length = size
    return response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
