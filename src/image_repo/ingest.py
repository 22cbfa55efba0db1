"""Images into and out of the store, with row and file kept in step.

`ingest` is the one pipeline every new image takes (upload, generate, import):
bytes -> verify and decode -> hash -> dedupe -> store the file -> insert the row.
A failure at any step leaves no row and no file behind.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

from flask import current_app
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import imaging
from .models import Image, User, db
from .storage import LocalStorage, StorageError, TempFile

MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class IngestResult:
    image: Image
    created: bool


def current_storage() -> LocalStorage:
    return current_app.extensions["image_repo.storage"]


def ingest(
    stream: BinaryIO, original_name: str | None, *, owner: User | None, source: str = "upload"
) -> IngestResult:
    """Store the picture in `stream`, or return the record that already holds it.

    Dedupe is global: a picture someone else stored first stays theirs, and
    keeps the `source` ("upload" or "generated") it came in with.

    Raises `imaging.ImageRejected` for bytes that are not an acceptable image,
    `storage.StorageError` when the file cannot be written, and SQLAlchemy's
    errors when the database fails.
    """
    storage = current_storage()
    config = current_app.config
    with storage.temp_file() as temp:
        temp.copy_from(stream)
        with imaging.decode(
            temp.path,
            allowed_formats=config["ALLOWED_FORMATS"],
            max_pixels=config["MAX_IMAGE_PIXELS"],
        ) as picture:
            image = Image(
                sha512=picture.sha512,
                original_name=clean_name(original_name),
                format=picture.format,
                width=picture.width,
                height=picture.height,
                file_size=temp.size,
                owner=owner,
                source=source,
            )
            return _store(storage, temp, image)


def _store(storage: LocalStorage, temp: TempFile, image: Image) -> IngestResult:
    # The lock makes "is it stored? if not, store it" one step for this picture
    # across processes; the unique index on sha512 still settles any other race.
    with storage.lock(image.sha512):
        existing = find_by_hash(image.sha512)
        if existing is not None:
            return IngestResult(existing, created=False)
        db.session.add(image)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            winner = find_by_hash(image.sha512)
            if winner is None:
                raise
            return IngestResult(winner, created=False)
        try:
            storage.commit(temp, image.storage_key)
        except StorageError:
            db.session.rollback()
            raise
        try:
            db.session.commit()
        except BaseException:
            db.session.rollback()
            storage.delete(image.storage_key)
            raise
    return IngestResult(image, created=True)


def find_by_hash(sha512: str) -> Image | None:
    return db.session.scalar(select(Image).where(Image.sha512 == sha512))


def delete(image: Image) -> bool:
    """Remove the row, then the file (a file already gone is fine).

    False when a concurrent request deleted the row first.
    """
    storage = current_storage()
    image_id, sha512, key = image.id, image.sha512, image.storage_key
    with storage.lock(sha512):
        deleted = db.session.execute(sql_delete(Image).where(Image.id == image_id)).rowcount
        db.session.commit()
        if deleted:
            storage.delete(key)
    return bool(deleted)


def clean_name(name: str | None) -> str | None:
    """The client's file name as display metadata: last path part, no control
    characters, at most 255 characters (extension kept). Never used as a path."""
    if not name:
        return None
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if name in ("", ".", ".."):
        return None
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = f"{stem[: MAX_NAME_LENGTH - len(extension) - 1]}.{extension}"
        else:
            name = name[:MAX_NAME_LENGTH]
    return name
