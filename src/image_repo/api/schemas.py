"""Request and response schemas; APIFlask turns them into the OpenAPI spec."""

from __future__ import annotations

from apiflask import Schema
from apiflask.fields import (
    Boolean,
    DateTime,
    Dict,
    File,
    Float,
    Function,
    Integer,
    List,
    Nested,
    String,
    URLFor,
)
from apiflask.validators import Length, OneOf, Range
from flask import url_for
from marshmallow import pre_load

from ..generation.backends import ASPECT_RATIOS, NOTICES
from ..generation.prompts import prompt_manager
from ..models import MAX_PROMPT_LENGTH


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
    source = String(
        metadata={
            "description": "How the picture first came in: `upload` or `generated`.",
            "example": "upload",
        }
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


MAX_WAIT_SECONDS = 60


class GenerateSchema(Schema):
    prompt = String(
        required=True,
        validate=Length(1, MAX_PROMPT_LENGTH),
        metadata={"description": "What to draw.", "example": "a lighthouse at dusk"},
    )
    style = String(
        load_default=None,
        validate=OneOf(prompt_manager().names()),
        metadata={"description": "A style from `GET /image/styles`; none: the prompt as is."},
    )
    backend = String(
        load_default=None,
        validate=OneOf(["gemini", "local"]),
        metadata={"description": "`gemini`, or `local` (a placeholder); default: the server's."},
    )
    model = String(
        load_default=None,
        validate=Length(1, 100),
        metadata={"description": "The backend's model; default: the server's."},
    )
    aspect_ratio = String(load_default=None, validate=OneOf(ASPECT_RATIOS))

    @pre_load
    def strip_prompt(self, data, **_kwargs):
        """Whitespace around the prompt is not part of it; a blank prompt is no prompt."""
        if isinstance(data, dict) and isinstance(data.get("prompt"), str):
            data = {**data, "prompt": data["prompt"].strip()}
        return data


class JobErrorSchema(Schema):
    code = String(metadata={"example": "safety_block"})
    message = String()


class JobSchema(Schema):
    id = String(metadata={"example": "3f2b8c0e9a7d4e51b6c2d7a8e9f01234"})
    url = URLFor("generate.get_job", values={"job_id": "<id>"}, metadata={"type": "string"})
    status = String(metadata={"description": "queued, running, succeeded or failed."})
    stage = String(metadata={"description": "queued, generating, storing, succeeded or failed."})
    progress = Integer(metadata={"description": "0 to 100."})
    prompt = String(metadata={"description": "The prompt as typed."})
    final_prompt = String(
        metadata={"description": "What the backend was asked: the style applied."}
    )
    style = String(allow_none=True)
    backend = String()
    model = String()
    aspect_ratio = String(allow_none=True)
    notice = Function(
        lambda job: NOTICES.get(job.backend),
        metadata={"type": ["string", "null"], "description": "What to know about it."},
    )
    owner = String(attribute="owner_name", allow_none=True)
    created_at = DateTime()
    started_at = DateTime(allow_none=True)
    finished_at = DateTime(allow_none=True)
    error = Nested(JobErrorSchema, allow_none=True, metadata={"description": "When failed."})
    image_id = Integer(allow_none=True, metadata={"description": "When succeeded."})
    image_url = Function(
        lambda job: url_for("images.download", image_id=job.image_id) if job.image_id else None,
        metadata={"type": ["string", "null"], "description": "When succeeded: the image."},
    )
    duplicate = Boolean(
        allow_none=True,
        metadata={"description": "When succeeded: true if the picture was already stored."},
    )


class JobQuerySchema(Schema):
    wait = Float(
        load_default=0,
        validate=Range(0, MAX_WAIT_SECONDS),
        metadata={"description": "Seconds to wait for the job to end before answering."},
    )


class StyleSchema(Schema):
    name = String(metadata={"example": "watercolor"})
    description = String()
    template = String(metadata={"description": "`{prompt}` marks where the prompt goes."})
