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

from ..storage import NotStored
from ..stores import current_storage


def send_object(
    key: str,
    *,
    mimetype: str,
    etag: str,
    last_modified: datetime,
    made: bytes | None = None,
    content_disposition: str | None = None,
) -> Response:
    """The object under `key` (or `made`, bytes not in the store) as an answer.

    A conditional request that matches is answered 304 without touching the
    store. Raises NotStored when the object is gone.
    """
    if not is_resource_modified(request.environ, etag=etag, last_modified=last_modified):
        response = current_app.response_class(status=304)
        response.set_etag(etag)
        response.last_modified = last_modified
        return response
    storage = current_storage()
    offload = current_app.config["FILE_OFFLOAD"] if made is None else ""
    if offload == "redirect":
        link = storage.link(key, mime_type=mimetype, content_disposition=content_disposition)
        if link is not None:
            response = redirect(link.url, 302)
            response.headers["Cache-Control"] = "private, no-store"
            return response
    if offload in ("x-sendfile", "x-accel-redirect"):
        stream: BinaryIO = io.BytesIO()
        found = storage.stat(key)
        if found is None:
            raise NotStored(key)
        size = found.size
    else:
        stream = io.BytesIO(made) if made is not None else storage.open(key)
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
    response = send_file(
        stream, mimetype=mimetype, conditional=False, etag=False, last_modified=last_modified
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
    response.content_length = size
    return response.make_conditional(request.environ, accept_ranges=True, complete_length=size)
