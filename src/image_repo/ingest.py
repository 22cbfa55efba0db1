"""Images into and out of the store, with row and file kept in step.

`ingest` is the one pipeline every new image takes (upload, generate, import):
bytes -> verify and decode -> hash -> dedupe -> store the file -> insert the row.
A failure at any step leaves no row and no file behind.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

from flask import current_app
from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import events, exif, imaging, thumbnails
from .models import Image, User, db, original_prefix
from .observability import metrics
from .storage import LocalStorage, TempFile

MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class IngestResult:
    image: Image
    created: bool


def current_storage() -> LocalStorage:
    return current_app.extensions["image_repo.storage"]


@metrics.observed_ingest
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
            existing = find_by_hash(picture.sha512)
            if existing is not None:
                return IngestResult(existing, created=False)
            metadata = exif.read_exif(picture.image)
            image = Image(
                sha512=picture.sha512,
                original_name=clean_name(original_name),
                format=picture.format,
                width=picture.width,
                height=picture.height,
                frame_count=picture.frame_count,
                has_alpha=imaging.has_alpha(picture.image),
                file_size=temp.size,
                owner=owner,
                source=source,
                exif_json=json.dumps(metadata.tags) if metadata.tags else None,
                **{name: getattr(metadata, name) for name in exif.PROMOTED},
            )
            previews = thumbnails.at_ingest(picture.image, picture.sha512, metadata.orientation)
            return _store(storage, temp, image, previews)


def _store(
    storage: LocalStorage, temp: TempFile, image: Image, previews: dict[str, bytes]
) -> IngestResult:
    """Move the file into place, write the thumbnails, then insert the row.

    The lock makes "is it stored? if not, store it" one step for this picture
    across processes, and the pending mark lets recovery after a crash remove
    files left without a row. The files go first so that the database's write
    transaction (which on SQLite blocks every other writer) lasts only for the
    insert, not for the fsyncs.
    """
    with storage.lock(image.sha512):
        existing = find_by_hash(image.sha512)
        if existing is not None:
            return IngestResult(existing, created=False)
        with storage.pending(image.sha512):
            try:
                storage.commit(temp, image.storage_key)
                for key, data in previews.items():
                    storage.put(key, data)
                db.session.add(image)
                db.session.commit()
            except IntegrityError:
                # Another process without this lock (another host?) stored the
                # same picture: its row wins, and the files are the same picture.
                db.session.rollback()
                winner = find_by_hash(image.sha512)
                if winner is not None:
                    return IngestResult(winner, created=False)
                remove_files(storage, image.sha512)
                raise
            except BaseException:
                db.session.rollback()
                remove_files(storage, image.sha512)
                raise
    events.image_created(image)
    return IngestResult(image, created=True)


def find_by_hash(sha512: str) -> Image | None:
    return db.session.scalar(select(Image).where(Image.sha512 == sha512))


def delete(image: Image) -> bool:
    """Remove the row, then the original and its thumbnails (files already gone
    are fine).

    False when a concurrent request deleted the row first.
    """
    storage = current_storage()
    image_id, sha512 = image.id, image.sha512
    with storage.lock(sha512), storage.pending(sha512):
        deleted = db.session.execute(sql_delete(Image).where(Image.id == image_id)).rowcount
        db.session.commit()
        if deleted:
            remove_files(storage, sha512)
            events.image_deleted(image_id, sha512)
    return bool(deleted)


def remove_files(storage: LocalStorage, sha512: str) -> None:
    """The original (whatever its extension) and every thumbnail of a picture."""
    storage.delete_prefix(original_prefix(sha512))
    storage.delete_prefix(thumbnails.family(sha512))


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
