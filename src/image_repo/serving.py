"""What serving an image's files needs to know, cached in each process.

An image's id, hash, format and name never change, and ids are never reused,
so a process may remember them: reads of originals, thumbnails and base64 then
cost no database query. A deleted image's files are gone, which is how a
remembered image that no longer exists is found out (see `forget`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .imaging import mime_type
from .models import Image, db, original_key

MAX_REMEMBERED = 10_000


@dataclass(frozen=True)
class ServedImage:
    id: int
    sha512: str
    format: str
    has_alpha: bool
    orientation: int | None
    original_name: str | None
    uploaded_at: datetime

    @property
    def mime_type(self) -> str:
        return mime_type(self.format)

    @property
    def storage_key(self) -> str:
        return original_key(self.sha512, self.format)


class _Remembered:
    """A thread-safe, bounded map of id -> ServedImage (least recently used goes)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[int, ServedImage] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, image_id: int) -> ServedImage | None:
        with self.lock:
            image = self.entries.get(image_id)
            if image is not None:
                self.entries.move_to_end(image_id)
            return image

    def put(self, image: ServedImage) -> None:
        with self.lock:
            self.entries[image.id] = image
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def drop(self, image_id: int) -> None:
        with self.lock:
            self.entries.pop(image_id, None)


_remembered = _Remembered(MAX_REMEMBERED)
COLUMNS = [getattr(Image, name) for name in ServedImage.__dataclass_fields__]


def find(image_id: int) -> ServedImage | None:
    image = _remembered.get(image_id)
    if image is None:
        row = db.session.execute(select(*COLUMNS).where(Image.id == image_id)).first()
        if row is None:
            return None  # not remembered: the id may be taken by a later upload
        image = ServedImage(*row)
        _remembered.put(image)
    return image


def forget(image_id: int) -> None:
    """Drop a remembered image: it was deleted, or its files were not found."""
    _remembered.drop(image_id)
