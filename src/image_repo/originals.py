"""Upkeep over the stored originals, a picture at a time (`images
rebuild-thumbnails`, `images backfill`).

Each picture's original is opened and handed to the command's work. A picture
whose work fails is reported with its image ids and counted; the rest go on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from sqlalchemy import ColumnElement, select

from .maintenance import images_subject
from .models import Image, Picture, db, original_key
from .pictures import STORED
from .progress import Progress
from .stores import current_storage

StoredPicture = tuple[int, str, str, int | None]  # id, sha512, format, orientation


def stored_pictures(*conditions: ColumnElement[bool]) -> list[StoredPicture]:
    """Every stored picture that meets `conditions`, oldest first."""
    query = (
        select(Picture.id, Picture.sha512, Picture.format, Picture.orientation)
        .where(Picture.state == STORED, *conditions)
        .order_by(Picture.id)
    )
    rows = [tuple(row) for row in db.session.execute(query)]
    db.session.commit()
    return rows


def process(
    pictures: list[StoredPicture],
    bar: Progress,
    work: Callable[[StoredPicture, BinaryIO], None],
    outcome: str,
) -> int:
    """Run `work` on each picture and its open original, telling `bar` of each
    (`outcome`, or "failed"); how many failed."""
    storage = current_storage()
    failed = 0
    for picture in pictures:
        picture_id, sha512, image_format, _ = picture
        try:
            with storage.open(original_key(sha512, image_format)) as original:
                work(picture, original)
        except Exception as error:  # noqa: BLE001 - one bad original must not stop the rest
            db.session.rollback()
            ids = db.session.scalars(select(Image.id).where(Image.picture_id == picture_id))
            bar.write(f"failed: {images_subject(list(ids))}: {type(error).__name__}: {error}")
            bar.advance(1, "failed")
            failed += 1
            continue
        bar.advance(1, outcome)
    return failed
