"""Thumbnails: made once, kept on disk beside the originals, served forever.

The default size is made at ingest from the pixels already decoded for the
hash; other sizes and formats are made on first request (with JPEG draft
mode) and cached.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image as PillowImage

from . import imaging
from .observability import metrics
from .serving import ServedImage
from .storage import LocalStorage

SIZES = (64, 128, 256, 512, 1024)
DEFAULT_SIZE = 256


def key(sha512: str, size: int, name: str) -> str:
    extension = imaging.THUMBNAIL_FORMATS[name][2]
    return f"thumbnails/{sha512[:2]}/{sha512[2:4]}/{sha512}-{size}.{extension}"


def family(sha512: str) -> str:
    """The key prefix every thumbnail of one picture shares."""
    return f"thumbnails/{sha512[:2]}/{sha512[2:4]}/{sha512}-"


def fallback_format(alpha: bool) -> str:
    """For clients that do not take WebP: PNG keeps transparency, JPEG is smaller."""
    return "png" if alpha else "jpeg"


def at_ingest(picture: PillowImage.Image, sha512: str, orientation: int | None) -> dict[str, bytes]:
    """The default-size thumbnail of a decoded picture, in the fallback format.

    WebP waits for its first request: encoding it costs more than decoding
    and hashing a 100 KB photo, and many pictures are never shown in a browser.
    """
    name = fallback_format(imaging.has_alpha(picture))
    small = imaging.thumbnail(picture, DEFAULT_SIZE, orientation)
    return {key(sha512, DEFAULT_SIZE, name): imaging.encode(small, name)}


def path(storage: LocalStorage, image: ServedImage, size: int, name: str) -> Path:
    """The cached thumbnail's file, made from the original on first request.

    Raises FileNotFoundError when the original is gone, also when a delete
    lands while the thumbnail is being made: the file is kept only under the
    picture's lock (the one delete holds) and while the original is there.
    """
    thumbnail_key = key(image.sha512, size, name)
    cached = storage.path(thumbnail_key)
    hit = cached.is_file()
    metrics.thumbnail_cache(hit)
    if not hit:
        with (
            metrics.THUMBNAIL_SECONDS.time(),
            storage.open(image.storage_key) as original,
            PillowImage.open(original, formats=[image.format]) as picture,
        ):
            data = imaging.encode(imaging.thumbnail(picture, size, image.orientation), name)
        with storage.lock(image.sha512):
            if not storage.path(image.storage_key).is_file():
                raise FileNotFoundError(image.storage_key)
            storage.put(thumbnail_key, data)
    return cached
