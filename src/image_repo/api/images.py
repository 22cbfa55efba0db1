"""The image endpoints: upload, download, delete, details, thumbnails, base64, list."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager

from apiflask import APIBlueprint, abort
from apiflask.fields import String
from flask import Response, current_app, jsonify, request, url_for
from marshmallow import RAISE
from werkzeug.datastructures import FileStorage

from .. import (
    catalog,
    deletion,
    download_names,
    imaging,
    ingest,
    perceptual,
    serving,
    similarity,
    thumbnails,
)
from ..blobstore import NotStored
from ..ingest import IngestResult
from ..models import Image
from ..serving import ServedImage
from ..stores import current_storage
from . import rate_limit
from .auth import auth, current_user, public_read, writer
from .errors import problem_for
from .files import not_modified, send_object
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
SIMILAR_ON_UPLOAD = 5

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
        413: "The body, the image's pixel count or the request's pixel budget is over the limit.",
        429: "Too many uploaded files; `Retry-After` says when to try again.",
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
    rate_limit.charge_uploads(len(files))
    budget = ingest.PixelBudget(current_app.config["MAX_REQUEST_PIXELS"])
    if len(files) == 1:
        result = _ingest(files[0], budget)
        body = _record(result)
        if result.created:
            return body, 201, {"Location": body["url"]}
        return body, 200
    return jsonify([_upload_item(file, budget) for file in files]), 207


def _ingest(file: FileStorage, budget: ingest.PixelBudget) -> IngestResult:
    return ingest.ingest(file.stream, file.filename, owner=current_user(), budget=budget)


def _record(result: IngestResult) -> dict:
    near = similarity.near_copies(
        result.image,
        max_distance=perceptual.MAX_DISTANCE,
        limit=SIMILAR_ON_UPLOAD,
        only_record=result.new_picture,
    )
    return record_schema.dump(result.image) | {
        "duplicate": not result.created,
        "similar": [{"id": match.image.id, "distance": match.distance} for match in near],
    }


def _upload_item(file: FileStorage, budget: ingest.PixelBudget) -> dict:
    """One file of a multi-file upload: its record, or the problem with it."""
    try:
        result = _ingest(file, budget)
    except Exception as error:
        problem = problem_for(error)
        if problem is None:
            raise
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
    image = serving.find(image_id)
    disposition = download_names.content_disposition(
        image.original_name, image.id, image.format, attachment=query["download"]
    )
    with _stored_file(image):
        response = send_object(
            image.storage_key,
            mimetype=image.mime_type,
            etag=image.original_etag,
            last_modified=image.uploaded_at,
            content_disposition=disposition,
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
    deletion.delete_image(image_id, current_user())
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
    return serving.get_record(image_id)


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
    image = serving.find(image_id)
    name = query.get("format") or thumbnails.negotiate(
        request.headers.get("Accept"), image.has_alpha
    )
    etag = thumbnails.etag(image.sha512, query["size"], name)
    response = not_modified(etag, image.uploaded_at)
    if response is None:
        with _stored_file(image):  # a delete may take the file between these two lines
            streamed = not current_app.config["FILE_OFFLOAD"]
            made = thumbnails.get(
                current_storage(), image, query["size"], name, open_stored=streamed
            )
            response = send_object(
                made.key,
                made=made.data,
                stream=made.stream,
                mimetype=imaging.THUMBNAIL_FORMATS[name][1],
                etag=etag,
                last_modified=image.uploaded_at,
            )
    response.headers.update(thumbnail_headers(public=current_app.config["PUBLIC_READ"]))
    return response


def thumbnail_headers(*, public: bool) -> dict[str, str]:
    """What a thumbnail's answer carries besides its type, ETag and dates (the
    same from image_repo.fast_reads). Plain strings: the header
    objects' parsers cost more than the rest of a cached thumbnail's answer."""
    audience = "public" if public else "private"
    return {
        "Cache-Control": f"{audience}, max-age={THUMBNAIL_MAX_AGE}, immutable",
        "Vary": "Accept",
        **FILE_SECURITY_HEADERS,
    }


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
    image = serving.find(image_id)
    storage = current_storage()
    with _stored_file(image):
        if "thumbnail" in query:
            name = query.get("format") or thumbnails.fallback_format(image.has_alpha)
            made = thumbnails.get(storage, image, query["thumbnail"], name, open_stored=True)
            if made.stream is not None:
                with made.stream:
                    data = made.stream.read()
            else:
                data = made.data
            mime_type = imaging.THUMBNAIL_FORMATS[name][1]
        else:
            data = storage.read(image.storage_key)
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


@contextmanager
def _stored_file(image: ServedImage) -> Iterator[None]:
    """A file that is not there: the image was deleted meanwhile (404), or
    its picture lost its file (404 for the client, an error in the log)."""
    try:
        yield
    except NotStored:
        if not serving.exists(image.id):
            abort(404, f"There is no image with id {image.id}.")
        current_app.logger.error("image %s: its file %s is missing", image.id, image.storage_key)
        abort(404, f"The file of image {image.id} is missing from storage.")
