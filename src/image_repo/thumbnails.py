"""Thumbnails: made once, kept in the store beside the originals, served forever.

The default size is made at ingest from the pixels already decoded for the
hash; other sizes and formats are made on first request and cached.

A big picture also gets a preview at ingest: the picture averaged down by a
whole factor to no less than the largest thumbnail, in sRGB, as a JPEG of
quality 90. The first request of any other thumbnail is made from it, not
from the original: even at 1/8 scale libjpeg must read all of a 24 MP JPEG
(50 ms), while its preview decodes in 2 to 8 ms. Made from the pixels
ingest has decoded anyway, with the default thumbnail then made from it, the
preview costs the upload of a 24 MP photo about 10 ms, and the store 3 to 4 %
of a camera original's size. Other pictures' thumbnails are made from the
original (with JPEG draft mode).
"""

from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image as PillowImage
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from . import imaging, pictures
from .blobstore import NotStored, Storage, StorageError
from .observability import metrics
from .serving import ServedImage

logger = logging.getLogger(__name__)

SIZES = (64, 128, 256, 512, 1024)
DEFAULT_SIZE = 256
PREVIEW_SIDE = max(SIZES)
PREVIEW_QUALITY = 90


def etag(sha512: str, size: int, name: str) -> str:
    return f"{sha512[:40]}-{size}-{name}"


def key(sha512: str, size: int, name: str) -> str:
    extension = imaging.THUMBNAIL_FORMATS[name][2]
    return f"thumbnails/{sha512[:2]}/{sha512[2:4]}/{sha512}-{size}.{extension}"


def family(sha512: str) -> str:
    """The key prefix every thumbnail of one picture (and its preview) shares."""
    return f"thumbnails/{sha512[:2]}/{sha512[2:4]}/{sha512}-"


def preview_key(sha512: str) -> str:
    return f"{family(sha512)}preview.jpg"


def has_preview(width: int, height: int, alpha: bool) -> bool:
    """Pictures at least twice the largest thumbnail, without transparency."""
    return max(width, height) >= 2 * PREVIEW_SIDE and not alpha


def preview(picture: PillowImage.Image) -> PillowImage.Image | None:
    """The picture's preview (see above), or None when it gets none."""
    if not has_preview(picture.width, picture.height, imaging.has_alpha(picture)):
        return None
    return imaging.reduced(picture, max(picture.size) // PREVIEW_SIDE)


# Formats given only to clients that name them in `Accept`, smallest first: at
# about the same fidelity AVIF is 6 to 24 % smaller than WebP, which is half
# the size of JPEG; a thumbnail is encoded once and sent many times, so the
# bytes matter more than AVIF's longer first encode (bench/thumbnail_formats.py).
NEGOTIATED = ("avif", "webp")


def fallback_format(alpha: bool) -> str:
    """For clients that take neither AVIF nor WebP: PNG keeps transparency, JPEG
    is smaller."""
    return "png" if alpha else "jpeg"


def negotiate(accept: str | None, alpha: bool) -> str:
    """The format for a client that sends this `Accept` header.

    Only types named outright count (`*/*` is no promise of AVIF or WebP); the
    highest q-value wins, and NEGOTIATED's order settles a tie.
    """
    accepted: dict[str, float] = {}
    for mime, quality in parse_accept_header(accept, MIMEAccept):
        accepted.setdefault(mime, quality)
    named = [name for name in NEGOTIATED if accepted.get(imaging.THUMBNAIL_FORMATS[name][1], 0) > 0]
    if not named:
        return fallback_format(alpha)
    return max(named, key=lambda name: accepted[imaging.THUMBNAIL_FORMATS[name][1]])


def default_size(picture: PillowImage.Image, orientation: int | None) -> PillowImage.Image:
    """The picture as the default thumbnail shows it; the perceptual hash is
    taken from it too."""
    return imaging.thumbnail(picture, DEFAULT_SIZE, orientation)


def at_ingest(
    picture: PillowImage.Image, orientation: int | None, sha512: str
) -> tuple[PillowImage.Image, dict[str, bytes]]:
    """The default-size thumbnail (ingest takes the perceptual hash from it),
    and what is stored beside the original: that thumbnail in the fallback
    format, and the preview of a big picture, from which the thumbnail is made.

    WebP waits for its first request: encoding it costs more than decoding
    and hashing a 100 KB photo, and many pictures are never shown in a browser.
    """
    reduced = preview(picture)
    small = default_size(reduced or picture, orientation)
    name = fallback_format(imaging.has_alpha(small))
    made = {key(sha512, DEFAULT_SIZE, name): imaging.encode(small, name)}
    if reduced is not None:
        buffer = io.BytesIO()
        reduced.save(buffer, "JPEG", quality=PREVIEW_QUALITY, icc_profile=None)
        made[preview_key(sha512)] = buffer.getvalue()
    return small, made


@dataclass(frozen=True)
class Thumbnail:
    """A thumbnail in storage under `key`; `data` when this request made it,
    `stream` when it was asked to open a stored one."""

    key: str
    data: bytes | None = None
    stream: BinaryIO | None = None


def from_original(
    original: BinaryIO, image_format: str, sha512: str, orientation: int | None
) -> dict[str, bytes]:
    """What `at_ingest` stores, from a stored original file instead of decoded pixels."""
    with PillowImage.open(original, formats=[imaging.pillow_format(image_format)]) as picture:
        return at_ingest(picture, orientation, sha512)[1]


def get(
    storage: Storage, image: ServedImage, size: int, name: str, *, open_stored: bool
) -> Thumbnail:
    """The thumbnail, from storage (opened, with `open_stored`: one request to
    the store, not one to look and one to read), or made from the original now
    and kept.

    Keeping it is best effort: a store that does not take writes still gets
    the picture served from memory. A thumbnail written while the picture's
    last record was being deleted is removed again (the delete may already
    have listed the thumbnails), so none outlives its picture.

    Raises NotStored when the original is gone.
    """
    thumbnail_key = key(image.sha512, size, name)
    if open_stored:
        with contextlib.suppress(NotStored):
            stream = storage.open(thumbnail_key)
            metrics.thumbnail_cache(hit=True)
            return Thumbnail(thumbnail_key, stream=stream)
    elif storage.stat(thumbnail_key) is not None:
        metrics.thumbnail_cache(hit=True)
        return Thumbnail(thumbnail_key)
    metrics.thumbnail_cache(hit=False)
    with metrics.THUMBNAIL_SECONDS.time():
        source, source_format = _source(storage, image)
        with source, PillowImage.open(source, formats=[source_format]) as picture:
            data = imaging.encode(imaging.thumbnail(picture, size, image.orientation), name)
    try:
        storage.put(thumbnail_key, data)
        if not pictures.is_stored(image.sha512):
            storage.delete(thumbnail_key)
            raise NotStored(image.storage_key)
    except StorageError as error:
        metrics.storage_error("thumbnail")
        logger.warning("thumbnail %s not kept: %s", thumbnail_key, error)
    return Thumbnail(thumbnail_key, data=data)


def _source(storage: Storage, image: ServedImage) -> tuple[BinaryIO, str]:
    """What to make a thumbnail from, opened, and its Pillow format: the
    preview, or the original of a picture without one (also one stored before
    previews were made). Raises NotStored when the original is gone."""
    if has_preview(image.width, image.height, image.has_alpha):
        with contextlib.suppress(NotStored):
            return storage.open(preview_key(image.sha512)), "JPEG"
    return storage.open(image.storage_key), imaging.pillow_format(image.format)
