"""Client file names become display metadata, never paths."""

from __future__ import annotations

import pytest

from image_repo.ingest import clean_name


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("photo.jpg", "photo.jpg"),
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("line\nbreak\x00.jpg", "linebreak.jpg"),
        ("  spaced.jpg  ", "spaced.jpg"),
        ("e\u0301te\u0301.jpg", "\u00e9t\u00e9.jpg"),
        ("x" * 300, "x" * 255),
        ("x" * 300 + ".jpeg", "x" * 250 + ".jpeg"),
        ("dir/", None),
        ("", None),
        (None, None),
    ],
)
def test_clean_name(given, kept):
    assert clean_name(given) == kept
