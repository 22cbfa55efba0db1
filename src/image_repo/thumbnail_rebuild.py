"""`flask images rebuild-thumbnails`: make the stored thumbnails again after the
way thumbnails are made has changed (as when they became sRGB).

Each picture's default thumbnail, the one upload makes, is made again from its
original and put in place of the old one; every other size and format is
deleted, to be made again on its first request. Originals are only read. A
thumbnail written for a picture deleted meanwhile is removed again.
"""

from __future__ import annotations

from sqlalchemy import select

from . import pictures, thumbnails
from .maintenance import images_subject
from .models import Image, Picture, db, original_key
from .pictures import STORED
from .progress import Progress
from .stores import current_storage

StoredPicture = tuple[int, str, str, int | None]  # id, sha512, format, orientation


def rebuild_thumbnails(stored: list[StoredPicture], bar: Progress) -> int:
    """Rebuild these pictures' thumbnails, telling `bar` of each; how many failed."""
    storage = current_storage()
    failed = 0
    for picture_id, sha512, image_format, orientation in stored:
        try:
            with storage.open(original_key(sha512, image_format)) as original:
                made = thumbnails.from_original(original, image_format, sha512, orientation)
        except Exception as error:  # noqa: BLE001 - one bad original must not stop the rest
            subject = images_subject(_image_ids(picture_id))
            bar.write(f"failed: {subject}: {type(error).__name__}: {error}")
            bar.advance(1, "failed")
            failed += 1
            continue
        for key, data in made.items():
            storage.put(key, data)
        stale = [o.key for o in storage.list(thumbnails.family(sha512)) if o.key not in made]
        storage.delete_many(stale)
        if not pictures.is_stored(sha512):  # deleted meanwhile: keep nothing of it
            storage.delete_many(made)
        bar.advance(1, "rebuilt")
    return failed


def _image_ids(picture_id: int) -> list[int]:
    return list(db.session.scalars(select(Image.id).where(Image.picture_id == picture_id)))


def stored_pictures() -> list[StoredPicture]:
    """Every stored picture, oldest first."""
    query = (
        select(Picture.id, Picture.sha512, Picture.format, Picture.orientation)
        .where(Picture.state == STORED)
        .order_by(Picture.id)
    )
    rows = [tuple(row) for row in db.session.execute(query)]
    db.session.commit()
    return rows
