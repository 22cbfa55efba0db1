"""`flask images backfill`: what pictures stored by earlier versions lack.

The file's SHA-256 (known bytes then need no decode) and the perceptual hash
(near-duplicate search) are computed at ingest now; pictures stored before
get them here, from their stored originals. Safe to run beside the servers
and to run again: it only fills what is missing.
"""

from __future__ import annotations

import hashlib

from PIL import Image as PillowImage
from sqlalchemy import or_, select, update

from . import imaging, perceptual, similarity, thumbnails
from .maintenance import images_subject
from .models import Image, Picture, db, original_key
from .pictures import STORED
from .progress import Progress
from .stores import current_storage

LackingPicture = tuple[int, str, str, int | None]  # id, sha512, format, orientation


def lacking() -> list[LackingPicture]:
    """Stored pictures without a file checksum or a perceptual hash, oldest first."""
    query = (
        select(Picture.id, Picture.sha512, Picture.format, Picture.orientation)
        .where(
            Picture.state == STORED,
            or_(Picture.file_sha256.is_(None), Picture.perceptual_hash.is_(None)),
        )
        .order_by(Picture.id)
    )
    rows = [tuple(row) for row in db.session.execute(query)]
    db.session.commit()
    return rows


def backfill(pictures: list[LackingPicture], bar: Progress) -> int:
    """Fill these pictures' checksums and hashes, telling `bar` of each; how many failed."""
    storage = current_storage()
    failed = 0
    for picture_id, sha512, image_format, orientation in pictures:
        try:
            with storage.open(original_key(sha512, image_format)) as original:
                file_sha256 = hashlib.file_digest(original, "sha256").hexdigest()
                original.seek(0)
                formats = [imaging.pillow_format(image_format)]
                with PillowImage.open(original, formats=formats) as picture:
                    small = thumbnails.default_size(picture, orientation)
                    fingerprint = perceptual.fingerprint(small)
        except Exception as error:  # noqa: BLE001 - one bad original must not stop the rest
            image_ids = db.session.scalars(select(Image.id).where(Image.picture_id == picture_id))
            bar.write(f"failed: {images_subject(list(image_ids))}: {type(error).__name__}: {error}")
            bar.advance(1, "failed")
            failed += 1
            continue
        db.session.execute(
            update(Picture)
            .where(Picture.id == picture_id)
            .values(file_sha256=file_sha256, **similarity.hash_columns(fingerprint))
        )
        db.session.commit()
        bar.advance(1, "filled")
    return failed
