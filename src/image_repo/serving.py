"""Finding what a read asks for: a record, and what serving its files needs.

Only records of stored pictures are found: a picture being deleted, or not
yet stored, has no readable record. One indexed query per request; nothing
is remembered between requests, so a delete on any node shows at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from .models import MAX_INTEGER, Image, OriginalFile, Picture, db
from .pictures import STORED


class ImageNotFound(LookupError):
    """No record with this id (or its picture is being deleted)."""

    def __init__(self, image_id: int) -> None:
        super().__init__(f"There is no image with id {image_id}.")
        self.image_id = image_id


@dataclass(frozen=True)
class ServedImage(OriginalFile):
    id: int
    sha512: str
    format: str
    has_alpha: bool
    width: int
    height: int
    orientation: int | None
    original_name: str | None
    uploaded_at: datetime

    @property
    def original_etag(self) -> str:
        return self.sha512[:40]


COLUMNS = (
    Image.id,
    Picture.sha512,
    Picture.format,
    Picture.has_alpha,
    Picture.width,
    Picture.height,
    Picture.orientation,
    Image.original_name,
    Image.uploaded_at,
)


FIND = (
    select(*COLUMNS)
    .join(Image.picture)
    .where(Image.id == bindparam("image_id"), Picture.state == STORED)
)


def find(image_id: int, connection: Connection | None = None) -> ServedImage:
    """What serving the record's files needs, read on `connection` (or the
    request's session); raises ImageNotFound."""
    row = None
    if image_id <= MAX_INTEGER:
        row = (connection or db.session).execute(FIND, {"image_id": image_id}).first()
    if row is None:
        raise ImageNotFound(image_id)
    return ServedImage(*row)


def get_record(image_id: int) -> Image:
    """The whole record, with its picture; raises ImageNotFound."""
    image = db.session.get(Image, image_id) if image_id <= MAX_INTEGER else None
    if image is None or image.picture.state != STORED:
        raise ImageNotFound(image_id)
    return image


def exists(image_id: int) -> bool:
    """Whether the record is there now (a read that lost its file asks)."""
    return db.session.get(Image, image_id, populate_existing=True) is not None
