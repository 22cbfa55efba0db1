"""`flask images rebuild-thumbnails`: make the stored thumbnails again after the
way thumbnails are made has changed (as when they became sRGB).

Each picture's default thumbnail, the one upload makes, is made again from its
original and put in place of the old one; every other size and format is
deleted, to be made again on its first request. Originals are only read. A
thumbnail written for a picture deleted meanwhile is removed again.
"""

from __future__ import annotations

from typing import BinaryIO

from . import pictures, thumbnails
from .originals import StoredPicture
from .stores import current_storage


def rebuild(picture: StoredPicture, original: BinaryIO) -> None:
    """Remake one picture's thumbnails from its open original."""
    _, sha512, image_format, orientation = picture
    made = thumbnails.from_original(original, image_format, sha512, orientation)
    storage = current_storage()
    for key, data in made.items():
        storage.put(key, data)
    stale = [o.key for o in storage.list(thumbnails.family(sha512)) if o.key not in made]
    storage.delete_many(stale)
    if not pictures.is_stored(sha512):  # deleted meanwhile: keep nothing of it
        storage.delete_many(made)
