"""The name a stored file is saved under, and the `Content-Disposition` carrying it.

The client's name is kept as metadata; the name a download is saved under ends
with the extension of the format actually stored, so that a JPEG uploaded as
`poly.html` is saved as `poly.html.jpg`, never as a page. RFC 6266 carries the
name twice: `filename*` exactly, in UTF-8, for browsers; `filename` in ASCII,
which is all that `curl -OJ` and `http --download` read. That one is the same
name transliterated (`夏休み.jpg` -> `XiaXiumi.jpg`), or `image-<id>.<ext>` when
nothing readable is left of it.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from anyascii import anyascii
from werkzeug.http import dump_options_header

from .imaging import FORMATS, file_extension, file_extensions

# What the ASCII name keeps; anything else becomes "_" (quotes, slashes, colons...).
UNSAFE = re.compile(r"[^A-Za-z0-9 ._()+,-]+")
MAX_ASCII_STEM = 200
IMAGE_EXTENSIONS = {extension for name in FORMATS for extension in file_extensions(name)}


def download_name(original_name: str | None, image_id: int, image_format: str) -> str:
    """The client's name, ending with an extension of the stored format: a wrong
    image extension is replaced (`photo.png` -> `photo.jpg`), anything else is kept
    and the right one added (`poly.html` -> `poly.html.jpg`)."""
    extension = file_extension(image_format)
    if not original_name:
        return f"image-{image_id}.{extension}"
    stem, dot, given = original_name.rpartition(".")
    if dot and given.lower() in file_extensions(image_format):
        return original_name
    if dot and stem and given.lower() in IMAGE_EXTENSIONS:
        return f"{stem}.{extension}"
    return f"{original_name}.{extension}"


def ascii_name(name: str, image_id: int) -> str:
    """`name` (which ends in an image extension) in readable ASCII, safe to save."""
    stem, _, extension = name.rpartition(".")
    readable = UNSAFE.sub("_", anyascii(stem))
    readable = re.sub(r"_*( +)_*", " ", readable).strip(" ._")[:MAX_ASCII_STEM].rstrip(" ._")
    if not any(character.isalnum() for character in readable):
        readable = f"image-{image_id}"
    return f"{readable}.{extension}"


def content_disposition(
    original_name: str | None, image_id: int, image_format: str, *, attachment: bool
) -> str:
    name = download_name(original_name, image_id, image_format)
    fallback = ascii_name(name, image_id)
    options = {"filename": fallback}
    if fallback != name:
        # RFC 5987 attr-chars stay as they are, everything else is %-encoded.
        options["filename*"] = "UTF-8''" + quote(name, safe="!#$&+-.^_`|~")
    return dump_options_header("attachment" if attachment else "inline", options)
