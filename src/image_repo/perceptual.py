"""Perceptual hashes: 64 bits that change little when a picture is re-saved,
resized, recoloured a little or lightly cropped, so that edited copies of a
picture are found by the Hamming distance between hashes.

The hash is taken from the default-size thumbnail made at ingest (upright,
in sRGB, at most 256 pixels a side): no second decode of the original, and
the same hash whatever the original's size or EXIF orientation.
"""

from __future__ import annotations

import imagehash
import numpy
from PIL import Image

BITS = 64
# The default `max_distance` of a search: chosen by measurement
# (tests/test_similarity_accuracy.py, the README's table).
MAX_DISTANCE = 8


def fingerprint(upright: Image.Image) -> int:
    """The picture's pHash as an unsigned 64-bit integer."""
    bits = imagehash.phash(upright).hash.flatten()
    return int.from_bytes(numpy.packbits(bits).tobytes(), "big")


def distance(first: int, second: int) -> int:
    """Bits in which two hashes differ."""
    return (first ^ second).bit_count()
