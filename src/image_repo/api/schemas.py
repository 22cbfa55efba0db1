"""Request and response schemas; APIFlask turns them into the OpenAPI spec."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Dict, File, Integer, List, Nested, String, URLFor


class ProblemSchema(Schema):
    type = String(metadata={"example": "about:blank"})
    title = String(metadata={"example": "Unsupported Media Type"})
    status = Integer(metadata={"example": 415})
    detail = String(metadata={"example": "Rejected: not an image in an accepted format."})
    errors = List(
        Dict(),
        metadata={"description": "For validation errors: each offending field and why."},
    )


class ImageSchema(Schema):
    id = Integer()
    url = URLFor(
        "images.download",
        values={"image_id": "<id>"},
        metadata={"type": "string", "description": "Where the original file is served."},
    )
    original_name = String(allow_none=True, metadata={"description": "The client's file name."})
    mime_type = String(metadata={"example": "image/jpeg"})
    format = String(metadata={"example": "JPEG"})
    width = Integer()
    height = Integer()
    file_size = Integer(metadata={"description": "Bytes of the original file."})
    sha512 = String(
        metadata={"description": "SHA-512 over mode, size and decoded pixels: the dedupe key."}
    )
    uploaded_at = DateTime(metadata={"description": "UTC, ISO 8601."})
    owner = String(
        attribute="owner_name",
        allow_none=True,
        metadata={"description": "Who stored it first; null for an anonymous upload."},
    )
    duplicate = Boolean(
        metadata={"description": "Only on upload: true when the picture was already stored."}
    )


class UploadSchema(Schema):
    image = List(
        File(),
        required=True,
        metadata={"description": "The image file; repeat the field to upload several."},
    )


class UploadResultSchema(Schema):
    filename = String(allow_none=True)
    status = Integer(metadata={"description": "201 stored, 200 duplicate, 4xx/5xx refused."})
    image = Nested(ImageSchema, metadata={"description": "When stored or a duplicate."})
    problem = Nested(ProblemSchema, metadata={"description": "When refused."})


class DownloadQuerySchema(Schema):
    download = Boolean(
        load_default=False,
        metadata={"description": "Serve as an attachment (save under the original name)."},
    )


class CheckSchema(Schema):
    status = String(metadata={"example": "ok"})
    detail = String()


class HealthSchema(Schema):
    status = String(metadata={"example": "ok"})
    database = Nested(CheckSchema)
    storage = Nested(CheckSchema)


class TokenSchema(Schema):
    id = Integer()
    name = String()
    created_at = DateTime()
    last_used_at = DateTime(allow_none=True)
    revoked_at = DateTime(allow_none=True)


class TokenInSchema(Schema):
    name = String(required=True, metadata={"example": "laptop"})


class NewTokenSchema(TokenSchema):
    token = String(metadata={"description": "The secret: shown this once, never again."})
