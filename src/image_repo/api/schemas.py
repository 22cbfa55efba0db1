"""Request and response schemas; APIFlask turns them into the OpenAPI spec."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from apiflask import Schema as BaseSchema
from apiflask.fields import (
    AwareDateTime,
    Boolean,
    DateTime,
    Dict,
    File,
    Float,
    Function,
    Integer,
    List,
    Method,
    NaiveDateTime,
    Nested,
    String,
    URLFor,
)
from apiflask.validators import Length, OneOf, Range, Regexp
from flask import url_for
from marshmallow import ValidationError, pre_load

from .. import catalog, exif, imaging, perceptual, similarity, thumbnails
from ..generation import provenance
from ..generation.backends import ASPECT_RATIOS, NOTICES
from ..generation.prompts import prompt_manager
from ..models import MAX_INTEGER, MAX_PROMPT_LENGTH, Image

NULLABLE_STRING = {"type": ["string", "null"]}
NOT_UNICODE = "Not Unicode text: it holds a lone surrogate (an unpaired \\uD800-\\uDFFF escape)."


class Schema(BaseSchema):
    """Every schema here. Input text must be Unicode that UTF-8 can carry: JSON's
    `\\ud800` escapes make strings no database column takes."""

    @pre_load
    def refuse_lone_surrogates(self, data: Any, **_kwargs) -> Any:
        if isinstance(data, Mapping):
            wrong = {
                key: [NOT_UNICODE]
                for key in data
                if not _encodable(key) or not _encodable(data[key])
            }
            if wrong:
                raise ValidationError(wrong)
        return data


def _encodable(value: Any) -> bool:
    """Whether a field's value, or the strings in a list value, can be encoded.

    Not recursive: no field here takes lists of lists (their own validation
    refuses them), and a value nested a thousand deep must not exhaust the stack.
    """
    items = value if isinstance(value, list | tuple) else [value]
    for item in items:
        if isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return False
    return True


class UTCMoment(AwareDateTime):
    """An ISO 8601 moment (UTC unless it has an offset), converted to UTC; one
    that UTC cannot hold (year 1 east of Greenwich, year 9999 west of it) is
    invalid rather than an overflow later."""

    def __init__(self, **kwargs) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError as error:
            raise ValidationError("This moment is outside the calendar once in UTC.") from error


class FormatName(String):
    """One of `names`, spelt in any case or by a synonym (`jpg`); loads as the name."""

    def __init__(self, names: list[str], **kwargs) -> None:
        self.spellings: dict[str, str] = {}
        for name in names:
            aliases = [
                alias for alias, same in imaging.FORMAT_SYNONYMS.items() if same == name.lower()
            ]
            for spelling in (name.lower(), *aliases):
                self.spellings[spelling] = self.spellings[spelling.upper()] = name
        # Validators see the loaded name, which is one of the spellings too.
        super().__init__(validate=OneOf(list(self.spellings)), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        spelt = super()._deserialize(value, attr, data, **kwargs)
        return self.spellings.get(spelt, spelt)


THUMBNAIL_FORMATS = list(imaging.THUMBNAIL_FORMATS)


class ProblemSchema(Schema):
    type = String(metadata={"example": "about:blank"})
    title = String(metadata={"example": "Unsupported Media Type"})
    status = Integer(metadata={"example": 415})
    detail = String(metadata={"example": "Rejected: not an image in an accepted format."})
    errors = List(
        Dict(),
        metadata={"description": "For validation errors: each offending field and why."},
    )
    request_id = String(
        metadata={"description": "The answer's `X-Request-ID`: quote it when asking why."}
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
    width = Integer(
        metadata={"description": "Pixels, as a viewer shows the picture (after EXIF orientation)."}
    )
    height = Integer(metadata={"description": "Pixels, as a viewer shows the picture."})
    file_size = Integer(metadata={"description": "Bytes of the original file."})
    sha512 = String(
        metadata={"description": "SHA-512 over mode, size and decoded pixels: the dedupe key."}
    )
    uploaded_at = DateTime(metadata={"description": "UTC, ISO 8601."})
    frame_count = Integer(
        attribute="picture.frame_count", metadata={"description": "More than 1 for animations."}
    )
    has_alpha = Boolean(
        attribute="picture.has_alpha", metadata={"description": "The picture has transparency."}
    )
    owner = String(
        attribute="owner_name",
        allow_none=True,
        metadata={"description": "Whose record this is; null for an anonymous upload."},
    )
    source = String(
        metadata={
            "description": "How this record came in: `upload` or `generated`.",
            "example": "upload",
        }
    )
    taken_at = Method(
        "get_taken_at",
        metadata={
            **NULLABLE_STRING,
            "description": "EXIF DateTimeOriginal, ISO 8601; with the offset when the camera "
            "recorded one (OffsetTimeOriginal), else the camera's local time.",
        },
    )
    taken_at_offset = Method(
        "get_taken_at_offset",
        metadata={**NULLABLE_STRING, "description": "e.g. +02:00; null: local time only."},
    )
    camera_make = String(allow_none=True)
    camera_model = String(allow_none=True)
    lens = String(attribute="picture.lens", allow_none=True)
    orientation = Integer(
        attribute="picture.orientation",
        allow_none=True,
        metadata={"description": "EXIF orientation, 1-8."},
    )
    exposure_time = Float(
        attribute="picture.exposure_time", allow_none=True, metadata={"description": "Seconds."}
    )
    f_number = Float(attribute="picture.f_number", allow_none=True)
    iso = Integer(attribute="picture.iso", allow_none=True)
    focal_length = Float(
        attribute="picture.focal_length", allow_none=True, metadata={"description": "Millimetres."}
    )
    latitude = Float(allow_none=True, metadata={"description": "Degrees; south is negative."})
    longitude = Float(
        attribute="picture.longitude",
        allow_none=True,
        metadata={"description": "Degrees; west is negative."},
    )
    altitude = Float(
        attribute="picture.altitude",
        allow_none=True,
        metadata={"description": "Metres; below sea level < 0."},
    )
    duplicate = Boolean(
        metadata={"description": "Only on upload: true when you already had this picture."}
    )
    similar = List(
        Nested(lambda: NearRecordSchema()),
        metadata={
            "description": "Only on upload: records of near-duplicates (edited copies), "
            "nearest first, a few at most; nothing is merged."
        },
    )

    def get_taken_at(self, image: Image) -> str | None:
        if image.taken_at is None:
            return None
        return exif.as_iso(image.taken_at, image.picture.taken_at_offset)

    def get_taken_at_offset(self, image: Image) -> str | None:
        offset = image.picture.taken_at_offset
        if image.taken_at is None or offset is None:
            return None
        return exif.utc_offset(offset)


class ProvenanceSchema(Schema):
    prompt = String(metadata={"description": "As typed."})
    final_prompt = String(metadata={"description": "After the style's template."})
    style = String(allow_none=True)
    backend = String()
    model = String()
    aspect_ratio = String(allow_none=True)
    job_id = String()
    generated_at = DateTime()


class DetailsSchema(ImageSchema):
    provenance = Method(
        "get_provenance",
        metadata={
            "type": ["object", "null"],
            "description": "For a generated picture: the job that made it (see Provenance); "
            "null for an upload.",
        },
    )
    exif = Method(
        "get_exif",
        metadata={
            "type": "object",
            "description": "The whole EXIF by section (IFD0, Exif, GPS, Interop) and tag "
            "name: rationals as numbers, short binary values as hex, long ones left out.",
        },
    )

    def get_provenance(self, image: Image) -> dict | None:
        found = provenance.image_provenance(image)
        return None if found is None else ProvenanceSchema().dump(found)

    def get_exif(self, image: Image) -> dict:
        return json.loads(image.picture.exif_json) if image.picture.exif_json else {}


class NearRecordSchema(Schema):
    id = Integer()
    distance = Integer(metadata={"description": "Bits in which the perceptual hashes differ."})


class SimilarQuerySchema(Schema):
    max_distance = Integer(
        load_default=perceptual.MAX_DISTANCE,
        validate=Range(0, similarity.LARGEST_DISTANCE),
        metadata={"description": "Bits the perceptual hashes may differ in (0: only re-saves)."},
    )
    limit = Integer(load_default=20, validate=Range(1, 100))


class SimilarItemSchema(Schema):
    image = Nested(ImageSchema)
    distance = Integer(metadata={"description": "Bits in which the perceptual hashes differ."})


class SimilarPageSchema(Schema):
    items = List(Nested(SimilarItemSchema))


SHA256_HEX = Regexp(r"^[0-9a-fA-F]{64}\Z", error="Not a SHA-256 in hex (64 hex digits).")
MAX_CHECKSUMS = 1000


class FileCheckSchema(Schema):
    file_sha256 = List(
        String(validate=SHA256_HEX),
        required=True,
        validate=Length(1, MAX_CHECKSUMS),
        metadata={"description": f"SHA-256 of whole files, in hex; up to {MAX_CHECKSUMS}."},
    )


class FileCheckItemSchema(Schema):
    file_sha256 = String(metadata={"description": "As asked."})
    image_id = Integer(
        allow_none=True,
        metadata={"description": "Your record of a file with these bytes; null: upload it."},
    )


class FileCheckResultSchema(Schema):
    items = List(Nested(FileCheckItemSchema), metadata={"description": "In the order asked."})


class ImagePageSchema(Schema):
    items = List(Nested(ImageSchema))
    next_cursor = String(
        allow_none=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last."},
    )


class ListQuerySchema(Schema):
    source = String(validate=OneOf(["upload", "generated"]))
    prompt = String(
        validate=Length(1, MAX_PROMPT_LENGTH),
        metadata={
            "description": "Part of the prompt a generated picture was made from, in any case."
        },
    )
    owner = String(metadata={"description": "A user name, or `me`."})
    format = FormatName(list(imaging.FORMATS), metadata={"description": "Any case; `jpg` is JPEG."})
    name = String(
        validate=Length(1, 255),
        metadata={"description": "Part of the original file name, in any case."},
    )
    uploaded_after = UTCMoment(
        metadata={"description": "Inclusive; UTC unless an offset is given."}
    )
    uploaded_before = UTCMoment(metadata={"description": "Exclusive."})
    taken_after = NaiveDateTime(
        metadata={"description": "Inclusive; the camera's local time, without an offset."}
    )
    taken_before = NaiveDateTime(metadata={"description": "Exclusive; local time."})
    camera_make = String(validate=Length(1, 64), metadata={"description": "Exact, any case."})
    camera_model = String(validate=Length(1, 64), metadata={"description": "Exact, any case."})
    has_gps = Boolean()
    min_width = Integer(validate=Range(0, MAX_INTEGER))
    max_width = Integer(validate=Range(0, MAX_INTEGER))
    min_height = Integer(validate=Range(0, MAX_INTEGER))
    max_height = Integer(validate=Range(0, MAX_INTEGER))
    sort = String(load_default=catalog.DEFAULT_SORT, validate=OneOf(list(catalog.SORTS)))
    limit = Integer(load_default=50, validate=Range(1, 500))
    cursor = String(metadata={"description": "From `next_cursor` of the previous page."})


class ThumbnailQuerySchema(Schema):
    size = Integer(
        load_default=thumbnails.DEFAULT_SIZE,
        validate=OneOf(thumbnails.SIZES),
        metadata={"description": "Longest side at most this many pixels; never enlarged."},
    )
    format = FormatName(
        THUMBNAIL_FORMATS,
        metadata={
            "description": "`avif`, `webp`, `jpeg` (or `jpg`), `png`. Default: AVIF or WebP "
            "when `Accept` names them (the higher q-value; AVIF on a tie), else PNG for a "
            "picture with transparency, JPEG for the rest."
        },
    )


class Base64QuerySchema(Schema):
    thumbnail = Integer(
        validate=OneOf(thumbnails.SIZES),
        metadata={"description": "Give this thumbnail size instead of the original."},
    )
    format = FormatName(
        THUMBNAIL_FORMATS,
        metadata={"description": "With `thumbnail`: its format (default JPEG, or PNG with alpha)."},
    )


class Base64Schema(Schema):
    id = Integer()
    mime_type = String()
    base64 = String()
    data_uri = String(metadata={"example": "data:image/jpeg;base64,/9j/4AAQ..."})


class UploadSchema(Schema):
    # required inside too: File() takes an empty form value for no value at all.
    image = List(
        File(required=True, error_messages={"required": "Not a valid file."}),
        required=True,
        metadata={"description": "The image file; repeat the field to upload several."},
    )


class UploadResultSchema(Schema):
    filename = String(allow_none=True)
    status = Integer(metadata={"description": "201 stored, 200 already yours, 4xx/5xx refused."})
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
    checked_at = DateTime(
        metadata={"description": "When this process ran the checks (see HEALTH_CHECK_INTERVAL)."}
    )
    database = Nested(CheckSchema, metadata={"description": "Reads."})
    database_writes = Nested(
        CheckSchema, metadata={"description": "A write, within a second (a stalled writer shows)."}
    )
    storage = Nested(CheckSchema, metadata={"description": "A probe written and read back."})


class TokenSchema(Schema):
    id = Integer()
    name = String()
    created_at = DateTime()
    last_used_at = DateTime(
        allow_none=True,
        metadata={"description": "Kept to the minute, best effort: it may lag behind."},
    )
    revoked_at = DateTime(allow_none=True)
    expires_at = DateTime(allow_none=True, metadata={"description": "null: until revoked."})


class TokenInSchema(Schema):
    name = String(
        required=True,
        metadata={"example": "laptop", "description": "1 to 100 characters, no control codes."},
    )
    expires_at = UTCMoment(
        load_default=None,
        allow_none=True,
        metadata={"description": "When it stops working (ISO 8601); none: until revoked."},
    )


class RevokedSchema(Schema):
    revoked = Integer(metadata={"description": "How many tokens were revoked."})


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
