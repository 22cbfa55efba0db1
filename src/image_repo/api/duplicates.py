"""Duplicates: near-duplicates of an image, and which files a client need not upload."""

from __future__ import annotations

from apiflask import APIBlueprint
from marshmallow import RAISE

from .. import similarity, upload_check
from .auth import auth, current_user, public_read
from .schemas import (
    FileCheckResultSchema,
    FileCheckSchema,
    SimilarPageSchema,
    SimilarQuerySchema,
)

bp = APIBlueprint("duplicates", __name__, url_prefix="/image", tag="Duplicates")


@bp.get("/<int:image_id>/similar")
@bp.auth_required(auth, optional=True)
@public_read
@bp.input(SimilarQuerySchema, location="query", arg_name="query")
@bp.output(SimilarPageSchema)
@bp.doc(responses={401: "No valid API token, and reads are not public.", 404: "No such image."})
def similar(image_id: int, query: dict) -> dict:
    """Near-duplicates

    Records of pictures whose perceptual hash is within `max_distance` bits
    of this one's: the same photo re-saved, resized, converted, lightly
    cropped or recoloured. Nearest first; the image itself left out. Nothing
    is merged: deciding is yours.
    """
    matches = similarity.similar_to(image_id, **query)
    return {"items": [{"image": match.image, "distance": match.distance} for match in matches]}


@bp.post("/check")
@bp.auth_required(auth, optional=True)
@public_read
@bp.input(FileCheckSchema, arg_name="body", unknown=RAISE)
@bp.output(FileCheckResultSchema)
@bp.doc(responses={401: "No valid API token, and reads are not public."})
def check(body: dict) -> dict:
    """Check files before uploading

    For each SHA-256 (of the whole file, in hex), your record of a file with
    exactly those bytes, or null: upload only the nulls. Answers about your
    own records only (an anonymous caller's: the ownerless ones).
    """
    checksums = body["file_sha256"]
    image_ids = upload_check.own_records(checksums, current_user())
    return {
        "items": [
            {"file_sha256": checksum, "image_id": image_id}
            for checksum, image_id in zip(checksums, image_ids, strict=True)
        ]
    }
