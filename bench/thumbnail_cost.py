"""What a first-request thumbnail of a 12-megapixel JPEG costs, as a fraction of a
full decode of the same file, measured in the same run.

    .venv/bin/python bench/thumbnail_cost.py [path/to/photo.jpg]

The photo is measured as it is (the sample is a progressive JPEG) and re-saved
as a baseline JPEG: draft mode (decoding at 1/2, 1/4 or 1/8 scale) saves much
more on baseline files, since a progressive file's every scan must still be
entropy-decoded. Prints medians over several rounds; the ratios are the figures.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from common import median_seconds
from PIL import Image

from image_repo import imaging

DEFAULT_PHOTO = Path(__file__).resolve().parent / "data" / "sunset_by_Aitzol_Berasategi.jpg"
ROUNDS = 9


def full_decode(path: Path) -> None:
    with Image.open(path) as picture:
        picture.load()


def first_request_thumbnail(path: Path, size: int) -> None:
    """What `thumbnails.path` does on a cache miss, minus the file write."""
    with Image.open(path, formats=["JPEG"]) as picture:
        imaging.encode(imaging.thumbnail(picture, size, orientation=1), "jpeg")


def report(path: Path, label: str) -> None:
    with Image.open(path) as picture:
        megapixels = picture.width * picture.height / 1e6
    decode = median_seconds(lambda: full_decode(path), ROUNDS)
    print(f"{label}, {megapixels:.1f} MP: full decode {decode * 1000:.1f} ms (the baseline)")
    for size in (256, 512, 1024):
        cost = median_seconds(lambda size=size: first_request_thumbnail(path, size), ROUNDS)
        print(f"  thumbnail {size:>4}: {cost * 1000:6.1f} ms = {cost / decode:.2f} x full decode")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PHOTO
    report(path, f"{path.name} as it is")
    with tempfile.TemporaryDirectory() as folder, Image.open(path) as picture:
        baseline = Path(folder) / "baseline.jpg"
        picture.save(baseline, "JPEG", quality=90, progressive=False)
        report(baseline, "the same re-saved as baseline JPEG")


if __name__ == "__main__":
    main()
