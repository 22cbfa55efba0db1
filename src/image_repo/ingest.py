"""Images into the store: the one pipeline every new image takes (upload,
generate, import, restore).

bytes -> known bytes? -> verify and decode -> hash, EXIF, thumbnail -> claim
the new picture (or find it stored already, the same pixels in other bytes)
-> store its files -> the caller's record of it.

A picture is stored once; each owner gets a record of their own. A failure
at any step leaves no record, and no file that no row accounts for.
"""

from __future__ import annotations

import json
import time
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

from flask import current_app

from . import events, exif, imaging, perceptual, pictures, similarity, thumbnails
from .blobstore import Storage, StorageError
from .maintenance import wait_for_picture
from .models import Image, Picture, User, db
from .observability import metrics
from .pictures import STORED, Claim, PictureBusy
from .scratch import Received
from .stores import current_scratch, current_storage, remove_files

MAX_NAME_LENGTH = 255


@dataclass(frozen=True)
class IngestResult:
    image: Image
    created: bool  # a new record (201); False: the caller's existing one (200)
    new_picture: bool = False  # the picture was stored here: the record is its only one


@dataclass
class PixelBudget:
    """Pixels one request may still have decoded, all its files together."""

    remaining: int


@dataclass(frozen=True)
class Upload:
    """Who is storing what, under which name."""

    owner: User | None
    original_name: str | None
    source: str

    def record(self, picture: Picture) -> Image:
        return Image.of(
            picture, owner=self.owner, original_name=self.original_name, source=self.source
        )


@metrics.observed_ingest
def ingest(
    stream: BinaryIO,
    original_name: str | None,
    *,
    owner: User | None,
    source: str = "upload",
    budget: PixelBudget | None = None,
) -> IngestResult:
    """Store the picture in `stream`, or find it stored, and give `owner` a
    record of it: a new one, or the one they already have.

    Raises `imaging.ImageRejected` for bytes that are not an acceptable image,
    `StorageError` when the store cannot take the file, `PictureBusy` when
    another request holds the picture for too long, and SQLAlchemy's errors
    when the database fails.
    """
    upload = Upload(owner, clean_name(original_name), source)
    try:
        with current_scratch().receive(stream) as received:
            known = pictures.find_stored_by_file(received.sha256)
            result = _attach(known, upload) if known is not None else None
            if result is None:
                result = _decode_and_store(received, upload, budget)
    except BaseException:
        db.session.rollback()  # the session stays usable for what comes next
        raise
    if result.created:
        events.image_created(result.image)
    return result


def _decode_and_store(
    received: Received, upload: Upload, budget: PixelBudget | None
) -> IngestResult:
    config = current_app.config
    with imaging.decode(
        received.path,
        allowed_formats=config["ALLOWED_FORMATS"],
        max_pixels=config["MAX_IMAGE_PIXELS"],
        budget=None if budget is None else budget.remaining,
    ) as decoded:
        if budget is not None:
            budget.remaining -= decoded.width * decoded.height * decoded.frame_count
        metadata = exif.read_exif(decoded.image)
        small, made = thumbnails.at_ingest(decoded.image, metadata.orientation, decoded.sha512)
        picture = Picture(
            sha512=decoded.sha512,
            file_sha256=received.sha256,
            format=decoded.format,
            width=decoded.width,
            height=decoded.height,
            frame_count=decoded.frame_count,
            has_alpha=imaging.has_alpha(decoded.image),
            file_size=received.size,
            exif_json=json.dumps(metadata.tags) if metadata.tags else None,
            **{name: getattr(metadata, name) for name in exif.PROMOTED},
            **similarity.hash_columns(perceptual.fingerprint(small)),
        )
    return _store(received, picture, made, upload)


def _attach(sha512: str, upload: Upload) -> IngestResult | None:
    """The caller's record of a stored picture (made if needed); None when the
    picture is not stored. Waits while another request stores or deletes it."""
    deadline = time.monotonic() + current_app.config["STORE_WAIT"]
    while True:
        with pictures.locked(sha512) as picture:
            if picture is None:
                return None
            if picture.state == STORED:
                return _record(picture, upload)
            stale = pictures.is_stale(picture)
        wait_for_picture(sha512, stale, deadline)


def _store(received: Received, picture: Picture, thumbnail_files: dict[str, bytes], upload: Upload):
    """Claim the new picture, write its files, then mark it stored with the
    caller's record; or, if it is stored already (the same pixels in other
    bytes) or someone else stored it meanwhile, attach to theirs."""
    while True:
        held = pictures.try_claim_new(picture)
        if held is not None:
            return _write_files(held, received, picture, thumbnail_files, upload)
        attached = _attach(picture.sha512, upload)
        if attached is not None:
            return attached
        # Its row went (a delete or a failed store ended) before we looked: claim again.


def _write_files(
    held: Claim,
    received: Received,
    picture: Picture,
    thumbnail_files: dict[str, bytes],
    upload: Upload,
) -> IngestResult:
    storage = current_storage()
    record = upload.record(picture)
    try:
        storage.put_file(picture.storage_key, received.path)
        for key, data in thumbnail_files.items():
            storage.put(key, data)
        stored = pictures.finish_store(held, record)
    except BaseException:
        abandon_store(storage, held, picture.storage_key)
        raise
    if not stored:
        raise PictureBusy("the store took longer than its lease; try again")
    return IngestResult(record, created=True, new_picture=True)


def abandon_store(storage: Storage, held: Claim, original_key: str) -> None:
    """Undo a store that failed: its files, then its row. Best effort: what
    cannot be undone now (the store or the database is down) is left to
    recovery, with the claim expired at once when the store is the trouble,
    so that the same picture can be uploaded again as soon as it is back."""
    try:
        try:
            remove_files(storage, held.sha512, original_key)
        except StorageError:
            pictures.hand_to_recovery(held)
            raise
        pictures.release(held, back_to=None)
    except Exception as error:  # noqa: BLE001 - the original error is the one to report
        current_app.logger.warning("store of %s not undone yet: %s", held.sha512[:16], error)


def _record(picture: Picture, upload: Upload) -> IngestResult:
    """Inside `pictures.locked`: the uploader's record of a stored picture."""
    existing = pictures.record_of(picture, upload.owner)
    if existing is not None:
        return IngestResult(existing, created=False)
    record = upload.record(picture)
    db.session.add(record)
    db.session.flush()
    return IngestResult(record, created=True)


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
