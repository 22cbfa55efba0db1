"""The perceptual hash, measured: edited copies of real photos are found at the
default search threshold, and no two distinct photos are taken for one another.

The photos are in tests/data/similar (see SOURCES.md there). Each is edited in
every way the issue names, with parameters drawn by a generator seeded with
the photo's name: re-encoded at JPEG quality 35 to 95, resized to 30-200%,
converted to PNG or WebP, cropped by up to 5% a side (also off-centre), made
brighter or darker, of more or less contrast, grey, given a small text
watermark, and several of these at once. Every copy, and every photo, is hashed
as ingest hashes it: decoded, made the default thumbnail, hashed.

`python tests/test_similarity_accuracy.py` prints the README's accuracy table.
"""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from image_repo import exif, imaging, perceptual

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

PHOTOS = sorted((Path(__file__).parent / "data" / "similar").glob("*.jpg"))
RECALL = 0.95
THUMBNAIL = 256  # the default thumbnail, which ingest hashes
FILTERS = (Image.Resampling.LANCZOS, Image.Resampling.BICUBIC, Image.Resampling.BILINEAR)
CORNERS = ("top left", "top right", "bottom left", "bottom right")
FAMILIES = (
    "JPEG quality 35/50/75/95",
    "resize 30/50/75/150/200%",
    "format: PNG, WebP, WebP then JPEG",
    "crop up to 5% a side",
    "brightness ±25%",
    "contrast ±25%",
    "greyscale",
    "text watermark",
    "combined",
)
(QUALITY, RESIZE, FORMAT, CROP, BRIGHTNESS, CONTRAST, GREY, WATERMARK, COMBINED) = FAMILIES


def encoded(picture: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, image_format, **options)
    return buffer.getvalue()


def jpeg(picture: Image.Image, quality: int = 90) -> bytes:
    return encoded(picture, "JPEG", quality=quality)


def png(picture: Image.Image) -> bytes:
    return encoded(picture, "PNG", compress_level=1)  # lossless: the level only costs time


def webp(picture: Image.Image, quality: int = 80) -> bytes:
    return encoded(picture, "WEBP", quality=quality)


def decoded(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def resized(picture: Image.Image, scale: float, resample: Image.Resampling) -> Image.Image:
    size = (round(picture.width * scale), round(picture.height * scale))
    return picture.resize(size, resample)


def cropped(picture: Image.Image, sides: tuple[float, float, float, float]) -> Image.Image:
    """`sides`: the shares of the width or height cut off the left, top, right, bottom."""
    left, top, right, bottom = sides
    width, height = picture.size
    box = (
        round(width * left),
        round(height * top),
        width - round(width * right),
        height - round(height * bottom),
    )
    return picture.crop(box)


def brightness(picture: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(picture).enhance(factor)


def contrast(picture: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Contrast(picture).enhance(factor)


def grey(picture: Image.Image) -> Image.Image:
    return picture.convert("L")


def watermarked(picture: Image.Image, corner: str) -> Image.Image:
    """A copyright line in a corner, its letters 1/25 of the height."""
    picture = picture.convert("RGB")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=max(10, picture.height // 25))
    text = "© 2024 example.com"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=1)
    margin = picture.height // 40
    x = margin if corner.endswith("left") else picture.width - (right - left) - margin
    y = margin if corner.startswith("top") else picture.height - (bottom - top) - margin
    draw.text((x - left, y - top), text, "white", font, stroke_width=1, stroke_fill="black")
    return picture


def chain(*steps: Callable) -> Callable[[Image.Image], bytes]:
    """The steps one after the other; the last one encodes."""

    def edit(picture):
        for step in steps:
            picture = step(picture)
        return picture

    return edit


def edits(name: str) -> list[tuple[str, str, Callable[[Image.Image], bytes]]]:
    """(family, what, edit) for one photo, the random choices seeded by its name."""
    rng = random.Random(name)

    def crop_sides() -> tuple[float, float, float, float]:
        return tuple(round(rng.uniform(0.01, 0.05), 3) for _ in range(4))

    def off_centre() -> tuple[float, float, float, float]:
        """3-5% off two adjacent sides, 0-1% off the others: the picture moves."""
        corner = rng.choice(CORNERS)
        heavy, light = round(rng.uniform(0.03, 0.05), 3), round(rng.uniform(0.0, 0.01), 3)
        left, right = (heavy, light) if corner.endswith("left") else (light, heavy)
        top, bottom = (heavy, light) if corner.startswith("top") else (light, heavy)
        return left, top, right, bottom

    def sides_label(sides) -> str:
        return "/".join(f"{side:.1%}" for side in sides)

    plan = [
        (QUALITY, f"q{quality}", partial(jpeg, quality=quality)) for quality in (35, 50, 75, 95)
    ]
    for scale in (0.3, 0.5, 0.75, 1.5, 2.0):
        resample = rng.choice(FILTERS)
        step = partial(resized, scale=scale, resample=resample)
        plan.append((RESIZE, f"{scale:.0%} {resample.name.lower()}", chain(step, jpeg)))
    quality = rng.randrange(60, 95, 5)
    plan += [
        (FORMAT, "PNG", png),
        (FORMAT, f"WebP q{quality}", partial(webp, quality=quality)),
        (FORMAT, "WebP then JPEG q85", chain(webp, decoded, partial(jpeg, quality=85))),
    ]
    for sides in (crop_sides(), off_centre()):
        plan.append((CROP, sides_label(sides), chain(partial(cropped, sides=sides), jpeg)))
    for factor in (0.75, 1.25):
        plan.append((BRIGHTNESS, f"x{factor}", chain(partial(brightness, factor=factor), jpeg)))
        plan.append((CONTRAST, f"x{factor}", chain(partial(contrast, factor=factor), jpeg)))
    plan.append((GREY, "L", chain(grey, jpeg)))
    corner = rng.choice(CORNERS)
    plan.append((WATERMARK, corner, chain(partial(watermarked, corner=corner), jpeg)))

    lighting = rng.choice((0.75, 1.25))
    scale = rng.choice((0.3, 0.5, 0.75))
    corner = rng.choice(CORNERS)
    factor, sides = rng.choice((0.75, 1.25)), crop_sides()
    plan += [
        (
            COMBINED,
            "crop 3% + 50% + q50",
            chain(
                partial(cropped, sides=(0.03,) * 4),
                partial(resized, scale=0.5, resample=FILTERS[0]),
                partial(jpeg, quality=50),
            ),
        ),
        (
            COMBINED,
            f"brightness x{lighting} + WebP",
            chain(partial(brightness, factor=lighting), webp),
        ),
        (
            COMBINED,
            f"grey + {scale:.0%}",
            chain(grey, partial(resized, scale=scale, resample=FILTERS[0]), jpeg),
        ),
        (
            COMBINED,
            f"watermark {corner} + q60",
            chain(partial(watermarked, corner=corner), partial(jpeg, quality=60)),
        ),
        (
            COMBINED,
            f"contrast x{factor} + crop {sides_label(sides)} + PNG",
            chain(partial(contrast, factor=factor), partial(cropped, sides=sides), png),
        ),
    ]
    return plan


def fingerprint(data: bytes | Path) -> int:
    """The hash as ingest computes it: decode, default thumbnail, hash."""
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as picture:
        picture.load()
        upright = imaging.thumbnail(picture, THUMBNAIL, exif.read_orientation(picture))
    return perceptual.fingerprint(upright)


@dataclass(frozen=True)
class Copy:
    photo: str
    family: str
    what: str
    distance: int  # from the photo's hash


@dataclass(frozen=True)
class Measurement:
    photos: dict[str, int]  # name -> hash
    copies: list[Copy]

    def pairs(self) -> list[tuple[int, str, str]]:
        """(distance, name, name) for every two distinct photos, nearest first."""
        return sorted(
            (perceptual.distance(first, second), a, b)
            for (a, first), (b, second) in itertools.combinations(self.photos.items(), 2)
        )

    def recall(self, within: int, family: str | None = None) -> tuple[int, float]:
        """The copies (of a family) and the share of them found within `within` bits."""
        copies = [copy for copy in self.copies if family in (None, copy.family)]
        return len(copies), sum(copy.distance <= within for copy in copies) / len(copies)

    def table(self, thresholds: tuple[int, ...]) -> str:
        """Markdown: per family, the copies and the share found at each threshold."""
        header = "| edit | copies | " + " | ".join(f"found at ≤ {t}" for t in thresholds)
        lines = [header + " |", "|---|---:|" + "---:|" * len(thresholds)]
        for family in (*FAMILIES, None):
            count, _ = self.recall(0, family)
            shares = " | ".join(f"{self.recall(t, family)[1]:.1%}" for t in thresholds)
            lines.append(f"| {family or '**all**'} | {count} | {shares} |")
        return "\n".join(lines)


def measure() -> Measurement:
    photos, copies = {}, []
    for path in PHOTOS:
        photos[path.stem] = fingerprint(path)
        with Image.open(path) as photo:
            photo.load()
            for family, what, edit in edits(path.stem):
                distance = perceptual.distance(photos[path.stem], fingerprint(edit(photo)))
                copies.append(Copy(path.stem, family, what, distance))
    return Measurement(photos, copies)


@pytest.fixture(scope="module")
def measurement() -> Measurement:
    return measure()


def test_every_photo_is_edited_in_every_way():
    assert len(PHOTOS) >= 30
    for path in PHOTOS:
        assert {family for family, _, _ in edits(path.stem)} == set(FAMILIES)


def test_edited_copies_are_found_at_the_default_threshold(measurement):
    threshold = perceptual.MAX_DISTANCE
    count, recall = measurement.recall(threshold)
    missed = sorted(
        (copy for copy in measurement.copies if copy.distance > threshold),
        key=lambda copy: -copy.distance,
    )
    assert recall >= RECALL, (
        f"{recall:.1%} of {count} edited copies are within {threshold} bits of their photo "
        f"(at least {RECALL:.0%} must be):\n{measurement.table((threshold,))}\nfarthest: "
        + "; ".join(f"{c.photo} {c.family} {c.what}: {c.distance}" for c in missed[:10])
    )


def test_no_two_distinct_photos_match(measurement):
    threshold = perceptual.MAX_DISTANCE
    matching = [pair for pair in measurement.pairs() if pair[0] <= threshold]
    assert not matching, f"{len(matching)} pairs of distinct photos within {threshold} bits: " + (
        "; ".join(f"{a} and {b}: {distance}" for distance, a, b in matching[:10])
    )


if __name__ == "__main__":
    result = measure()
    pairs = result.pairs()
    print(result.table(tuple(perceptual.MAX_DISTANCE + step for step in (-2, 0, 2))))
    print(
        f"\n{len(result.photos)} distinct photos, {len(pairs)} pairs; the nearest two, "
        f"{pairs[0][1]} and {pairs[0][2]}, differ in {pairs[0][0]} bits"
    )
