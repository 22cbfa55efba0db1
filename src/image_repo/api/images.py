"""The image endpoints: upload, download, delete, details, thumbnails, base64, list."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from apiflask import APIBlueprint, abort
from apiflask.fields import String
from flask import Response, current_app, jsonify, request, send_file, url_for
from marshmallow import RAISE
from werkzeug.datastructures import FileStorage

from .. import catalog, download_names, imaging, ingest, serving, thumbnails
from ..ingest import IngestResult, current_storage
from ..models import MAX_INTEGER, Image, db
from ..serving import ServedImage
from .auth import auth, current_user, ensure_may_delete, public_read, writer
from .errors import problem_for
from .schemas import (
    Base64QuerySchema,
    Base64Schema,
    DetailsSchema,
    DownloadQuerySchema,
    ImagePageSchema,
    ImageSchema,
    ListQuerySchema,
    ThumbnailQuerySchema,
    UploadResultSchema,
    UploadSchema,
)

bp = APIBlueprint("images", __name__, url_prefix="/image", tag="Images")

# Only non-negative integers match the route; anything else is a 404.
IMAGE_ID = "<int:image_id>"
# A file this service serves is an image, never a page: nothing in it may run.
FILE_SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'none'; sandbox"}
THUMBNAIL_MAX_AGE = 365 * 24 * 3600  # a thumbnail never changes: the key is the picture

record_schema = ImageSchema()


def _json(schema, description: str, headers: dict | None = None) -> dict:
    response: dict = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if headers:
        response["headers"] = headers
    return response


LOCATION_HEADER = {"Location": {"description": "The new image.", "schema": {"type": "string"}}}


@bp.post("/upload")
@bp.auth_required(auth, optional=True)
@writer
@bp.input(UploadSchema, location="form_and_files", arg_name="form")
@bp.doc(
    responses={
        201: _json(ImageSchema, "Stored: the new record.", LOCATION_HEADER),
        200: _json(ImageSchema, "The same picture was already stored: its record."),
        207: _json(UploadResultSchema(many=True), "Several files: one result per file, in order."),
        400: "The file is empty.",
        401: "No valid API token (and anonymous uploads are off).",
        413: "The body, or the image's pixel count, is over the limit.",
        415: "Not an image in an accepted format.",
        422: "The image is damaged or truncated.",
        503: "The database is unavailable.",
        507: "The storage cannot take the file.",
    }
)
def upload(form: dict) -> Response | tuple:
    """Upload images

    Send the picture as the multipart field `image` (repeat the field for
    several). The same picture (same pixels, whatever its EXIF or file name) is
    stored once: sending it again answers 200 with the existing record, whoever
    sent it first keeps owning it.
    """
    files: list[FileStorage] = form["image"]
    limit = current_app.config["MAX_UPLOAD_FILES"]
    if len(files) > limit:
        abort(413, f"At most {limit} files per request; this one has {len(files)}.")
    if len(files) == 1:
        result = ingest.ingest(files[0].stream, files[0].filename, owner=current_user())
        body = _record(result)
        if result.created:
            return body, 201, {"Location": body["url"]}
        return body, 200
    return jsonify([_upload_item(file) for file in files]), 207


def _record(result: IngestResult) -> dict:
    return record_schema.dump(result.image) | {"duplicate": not result.created}


def _upload_item(file: FileStorage) -> dict:
    """One file of a multi-file upload: its record, or the problem with it."""
    try:
        result = ingest.ingest(file.stream, file.filename, owner=current_user())
    except Exception as error:
        problem = problem_for(error)
        if problem is None:
            raise
        db.session.rollback()
        return {"filename": file.filename, "status": problem.status, "problem": problem.body()}
    return {
        "filename": file.filename,
        "status": 201 if result.created else 200,
        "image": _record(result),
    }


@bp.get(f"/{IMAGE_ID}")
@bp.auth_required(auth, optional=True)
@public_read
@bp.input(DownloadQuerySchema, location="query", arg_name="query")
@bp.doc(
    responses={
        200: {
            "description": "The original file, byte for byte.",
            "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        206: {
            "description": "The requested byte range.",
            "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
        },
        304: "Not modified since the `If-None-Match`/`If-Modified-Since` given.",
        401: "No valid API token, and reads are not public.",
        404: "No such image.",
        416: "The range is not satisfiable.",
    }
)
def download(image_id: int, query: dict) -> Response:
    """Download an image

    The original bytes with their real `Content-Type`, an `ETag`, `Last-Modified`
    and the original name in `Content-Disposition`; `?download=1` makes it an
    attachment. Conditional requests (304) and `Range` requests (206) work.
    """
    image = _served_image(image_id)
    with _stored_file(image):
        response = _send_stored(
            current_storage().path(image.storage_key),
            mimetype=image.mime_type,
            etag=image.sha512[:40],
            last_modified=image.uploaded_at,
        )
    response.headers["Content-Disposition"] = download_names.content_disposition(
        image.original_name, image.id, image.format, attachment=query["download"]
    )
    response.headers.update(FILE_SECURITY_HEADERS)
    return response


@bp.delete(f"/{IMAGE_ID}")
@bp.auth_required(auth, optional=True)
@writer
@bp.output({}, status_code=204, description="Deleted: the row and its files are gone.")
@bp.doc(
    responses={
        401: "No valid API token.",
        403: "Not your image (and you are not an admin).",
        404: "No such image.",
    }
)
def delete(image_id: int) -> tuple[str, int]:
    """Delete an image

    The owner or an admin removes the record and the stored file. Deleting
    again answers 404.
    """
    image = _get_image(image_id)
    ensure_may_delete(image)
    if not ingest.delete(image):
        _not_found(image_id)
    serving.forget(image_id)
    return "", 204


@bp.get(f"/{IMAGE_ID}/details")
@bp.auth_required(auth, optional=True)
@public_read
@bp.output(DetailsSchema)
@bp.doc(responses={401: "No valid API token, and reads are not public.", 404: "No such image."})
def details(image_id: int) -> Image:
    """Image details

    The record with the EXIF promoted to fields (date taken, camera, lens,
    exposure, GPS in signed decimal degrees) and the whole EXIF by tag name.
    """
    return _get_image(image_id)


@bp.get(f"/{IMAGE_ID}/thumbnail")
@bp.auth_required(auth, optional=True)
@public_read
@bp.input(ThumbnailQuerySchema, location="query", arg_name="query")
@bp.doc(
    responses={
        200: {
            "description": "The thumbnail, upright (EXIF orientation applied).",
            "content": {
                mime: {"schema": {"type": "string", "format": "binary"}}
                for _, mime, _ in imaging.THUMBNAIL_FORMATS.values()
            },
        },
        304: "Not modified since the `If-None-Match`/`If-Modified-Since` given.",
        401: "No valid API token, and reads are not public.",
        404: "No such image.",
    }
)
def thumbnail(image_id: int, query: dict) -> Response:
    """Thumbnail

    Fits in `size`x`size`, aspect kept, never enlarged, EXIF orientation
    applied. Made once and kept: cache it forever (`immutable`).
    """
    image = _served_image(image_id)
    name = query.get("format") or _negotiated_format(image)
    with _stored_file(image):  # a delete may take the file between these two lines
        path = thumbnails.path(current_storage(), image, query["size"], name)
        response = _send_stored(
            path,
            mimetype=imaging.THUMBNAIL_FORMATS[name][1],
            etag=f"{image.sha512[:40]}-{query['size']}-{name}",
            last_modified=image.uploaded_at,
        )
    # Plain strings: the header objects' parsers cost more than the rest here.
    audience = "public" if current_app.config["PUBLIC_READ"] else "private"
    response.headers["Cache-Control"] = f"{audience}, max-age={THUMBNAIL_MAX_AGE}, immutable"
    response.headers["Vary"] = "Accept"
    response.headers.update(FILE_SECURITY_HEADERS)
    return response


def _negotiated_format(image: ServedImage) -> str:
    accepted: dict[str, float] = {}
    for mime, quality in request.accept_mimetypes:
        accepted.setdefault(mime, quality)
    return thumbnails.negotiate(accepted, image.has_alpha)


@bp.get(f"/{IMAGE_ID}/base64")
@bp.auth_required(auth, optional=True)
@public_read
@bp.input(Base64QuerySchema, location="query", arg_name="query")
@bp.output(Base64Schema)
@bp.doc(responses={401: "No valid API token, and reads are not public.", 404: "No such image."})
def as_base64(image_id: int, query: dict) -> dict:
    """Image as base64

    The original (or, with `thumbnail`, a thumbnail) as base64 and as a
    `data:` URI, to embed in HTML or JSON.
    """
    image = _served_image(image_id)
    storage = current_storage()
    with _stored_file(image):
        if "thumbnail" in query:
            name = query.get("format") or thumbnails.fallback_format(image.has_alpha)
            data = thumbnails.path(storage, image, query["thumbnail"], name).read_bytes()
            mime_type = imaging.THUMBNAIL_FORMATS[name][1]
        else:
            data = storage.path(image.storage_key).read_bytes()
            mime_type = image.mime_type
    encoded = base64.b64encode(data).decode("ascii")
    return {
        "id": image.id,
        "mime_type": mime_type,
        "base64": encoded,
        "data_uri": f"data:{mime_type};base64,{encoded}",
    }


@bp.get("/list")
@bp.auth_required(auth, optional=True)
@public_read
# unknown=RAISE: a misspelt filter must not quietly list everything.
@bp.input(ListQuerySchema, location="query", arg_name="query", unknown=RAISE)
@bp.output(ImagePageSchema, headers={"Link": String(metadata={"description": 'rel="next"'})})
@bp.doc(responses={401: "No valid API token, and reads are not public."})
def list_images(query: dict) -> tuple[dict, int, dict]:
    """List images

    Filters combine; `sort` picks the order; pages follow `next_cursor` (also
    in a `Link: rel="next"` header). Images arriving meanwhile are neither
    skipped nor repeated.
    """
    sort, limit, cursor = query.pop("sort"), query.pop("limit"), query.pop("cursor", None)
    if query.get("owner") == "me":
        user = current_user()
        if user is None:
            abort(401, "owner=me needs an API token.")
        query["owner"] = user.name
    try:
        page = catalog.search(query, sort=sort, limit=limit, cursor=cursor)
    except catalog.InvalidCursor as error:
        abort(
            400,
            f"cursor: {error}.",
            extra_data={"errors": [{"location": "query", "field": "cursor", "detail": str(error)}]},
        )
    headers = {}
    if page.next_cursor:
        next_url = url_for(
            "images.list_images", **{**request.args.to_dict(), "cursor": page.next_cursor}
        )
        headers["Link"] = f'<{next_url}>; rel="next"'
    return {"items": page.items, "next_cursor": page.next_cursor}, 200, headers


def _send_stored(path: Path, **options) -> Response:
    """`send_file` for a stored file. With FILE_OFFLOAD, the proxy in front sends
    the bytes, and answers a `Range` from them itself: Flask's X-Sendfile names
    the file by its path (Apache, lighttpd), or X-Accel-Redirect by its key
    under X_ACCEL_PREFIX (nginx). A 304 goes out as it is."""
    response = send_file(path, **options)
    sendfile_path = response.headers.get("X-Sendfile")  # absent on a 304
    if sendfile_path is None:
        return response
    response.status_code = 200
    response.headers.pop("Content-Range", None)
    response.content_length = 0
    if current_app.config["FILE_OFFLOAD"] == "x-accel-redirect":
        key = Path(sendfile_path).relative_to(current_storage().root).as_posix()
        del response.headers["X-Sendfile"]
        response.headers["X-Accel-Redirect"] = current_app.config["X_ACCEL_PREFIX"] + key
    return response


@contextmanager
def _stored_file(image: ServedImage) -> Iterator[None]:
    """A file that is not there: the image was deleted (404), or its row lost
    its file (404 for the client, an error in the log)."""
    try:
        yield
    except FileNotFoundError:
        serving.forget(image.id)
        if db.session.get(Image, image.id) is None:
            _not_found(image.id)
        current_app.logger.error("image %s: its file %s is missing", image.id, image.storage_key)
        abort(404, f"The file of image {image.id} is missing from storage.")


def _served_image(image_id: int) -> ServedImage:
    """The image's immutable facts, usually without a database query."""
    image = serving.find(image_id) if image_id <= MAX_INTEGER else None
    if image is None:
        _not_found(image_id)
    return image


def _get_image(image_id: int) -> Image:
    image = db.session.get(Image, image_id) if image_id <= MAX_INTEGER else None
    if image is None:
        _not_found(image_id)
    return image


def _not_found(image_id: int):
    abort(404, f"There is no image with id {image_id}.")
