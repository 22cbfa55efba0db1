"""A placeholder generator: a picture drawn from the prompt, with no model and no network.

It is what runs when no Gemini key is set, so that the whole flow (jobs,
ingest, dedupe, provenance) works offline. It is not a model: the picture is
an abstract pattern seeded by the prompt's hash, labelled PLACEHOLDER, with
the prompt written on it. The same prompt gives the same pixels.
"""

from __future__ import annotations

import hashlib
import io
import random
import textwrap

from PIL import Image, ImageDraw, ImageFont

from .base import Options

LONG_SIDE = 768
SHAPES = 14
MODEL = "placeholder-v1"


class LocalBackend:
    name = "local"
    default_model = MODEL
    notice = (
        "The local backend is a placeholder generator: it draws a deterministic pattern "
        "from the prompt, not a picture of it. Set GEMINI_API_KEY for real images."
    )

    def accepts_model(self, model: str) -> bool:
        return model == MODEL

    def generate(self, prompt: str, *, model: str, options: Options) -> bytes:
        seed = hashlib.sha256(prompt.encode()).digest()
        rng = random.Random(seed)  # noqa: S311 - a drawing, not a secret
        picture = draw(prompt, rng, size(options.aspect_ratio or "1:1"))
        buffer = io.BytesIO()
        picture.save(buffer, "PNG")
        return buffer.getvalue()


def size(aspect_ratio: str) -> tuple[int, int]:
    width, height = (int(part) for part in aspect_ratio.split(":"))
    if width >= height:
        return LONG_SIDE, round(LONG_SIDE * height / width)
    return round(LONG_SIDE * width / height), LONG_SIDE


def draw(prompt: str, rng: random.Random, dimensions: tuple[int, int]) -> Image.Image:
    width, height = dimensions
    top, bottom = _colour(rng), _colour(rng)
    # A vertical gradient: one row per line, then stretched sideways.
    gradient = Image.new("RGB", (1, height))
    for y in range(height):
        gradient.putpixel((0, y), _mix(top, bottom, y / max(height - 1, 1)))
    picture = gradient.resize((width, height))
    canvas = ImageDraw.Draw(picture, "RGBA")
    for _ in range(SHAPES):
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randrange(min(width, height) // 20, min(width, height) // 4)
        box = (x - radius, y - radius, x + radius, y + radius)
        fill = (*_colour(rng), rng.randrange(90, 200))
        if rng.random() < 0.5:
            canvas.ellipse(box, fill=fill)
        else:
            canvas.rectangle(box, fill=fill)
    _caption(canvas, prompt, width, height)
    return picture


def _caption(canvas: ImageDraw.ImageDraw, prompt: str, width: int, height: int) -> None:
    """A dark band at the bottom: PLACEHOLDER and the prompt, so nobody mistakes it."""
    font = ImageFont.load_default(size=max(12, width // 40))
    lines = ["PLACEHOLDER (local generator)", *textwrap.wrap(prompt, width=60)[:3]]
    line_height = font.size + 6
    band_top = height - line_height * len(lines) - 12
    canvas.rectangle((0, band_top, width, height), fill=(0, 0, 0, 170))
    for number, line in enumerate(lines):
        canvas.text((12, band_top + 6 + number * line_height), line, font=font, fill="white")


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]
