"""Pillow helpers on their own."""

from __future__ import annotations

import pytest
from support import noise

from image_repo.imaging import raw_pixels

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems


@pytest.mark.parametrize(
    ("mode", "size"),
    [
        ("RGB", (20_000, 3)),
        ("L", (70_000, 2)),
        ("RGBA", (5, 5)),
        ("P", (300, 7)),
        ("I;16", (33_000, 2)),
        ("1", (9, 9)),
        ("CMYK", (100, 100)),
        ("LA", (640, 480)),
    ],
)
def test_raw_pixels_are_tobytes_in_pieces(mode, size):
    picture = (
        noise(size, mode="L").convert(mode)
        if mode != "I;16"
        else noise(size, mode="L").convert("I;16")
    )

    assert b"".join(raw_pixels(picture)) == picture.tobytes()
