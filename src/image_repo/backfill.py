"""`flask images backfill`: what pictures stored by earlier versions lack.

The file's SHA-256 (known bytes then need no decode) and the perceptual hash
(near-duplicate search) are computed at ingest now; pictures stored before
get them here, from their stored originals. Safe to run beside the servers
and to run again: it only fills what is missing.
"""

from __future__ import annotations

import hashlib
from typing import BinaryIO

from PIL import Image as PillowImage
from sqlalchemy import or_, update

from . import imaging, originals, perceptual, similarity, thumbnails
from .models import Picture, db
from .originals import StoredPicture


def lacking() -> list[StoredPicture]:
    """Stored pictures without a file checksum or a perceptual hash, oldest first."""
    return originals.stored_pictures(
        or_(Picture.file_sha256.is_(None), Picture.perceptual_hash.is_(None))
    )


def fill(picture: StoredPicture, original: BinaryIO) -> None:
    """Compute one picture's checksum and hash from its open original, and keep them."""
    picture_id, _, image_format, orientation = picture
    file_sha256 = hashlib.file_digest(original, "sha256").hexdigest()
    original.seek(0)
    with PillowImage.open(original, formats=[imaging.pillow_format(image_format)]) as opened:
        fingerprint = perceptual.fingerprint(thumbnails.default_size(opened, orientation))
    db.session.execute(
        update(Picture)
        .where(Picture.id == picture_id)
        .values(file_sha256=file_sha256, **similarity.hash_columns(fingerprint))
    )
    db.session.commit()
