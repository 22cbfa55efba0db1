"""Thumbnail formats compared: bytes, encode time and fidelity, against JPEG,
measured in the same run on the same pictures. What the thumbnail endpoint's
`Accept` order rests on (README, "Thumbnails").

    .venv/bin/python bench/thumbnail_formats.py [--candidates]

For each photo in bench/data, the 256 and 1024 thumbnails are made once; each
encoding is then timed (median of several rounds, one thread, interleaved with
the others) and compared with the picture it encodes (PSNR over RGB, in dB:
higher is closer). `--candidates` adds the AVIF settings that were weighed
against the one the service uses.
"""

from __future__ import annotations

import io
import math
import sys
import time
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

from image_repo import imaging

DATA = Path(__file__).resolve().parent / "data"
ROUNDS = 7
SIZES = (256, 1024)
# Candidate AVIF settings: (quality, speed); the service's own comes from imaging.
LINE = "{:<28} {:>4} {:<16} {:>7} {:>6} {:>9} {:>6} {:>6}"
AVIF_CANDIDATES = [(60, 6), (60, 8), (60, 10), (70, 10)]


def encoders(candidates: bool) -> dict[str, callable]:
    """name -> a function that encodes a thumbnail."""
    chosen = {
        name: (lambda image, name=name: imaging.encode(image, name))
        for name in imaging.THUMBNAIL_FORMATS
    }
    chosen.pop("png")  # lossless: another question than size for a photo
    if candidates:
        for quality, speed in AVIF_CANDIDATES:
            chosen[f"avif q{quality} s{speed}"] = lambda image, q=quality, s=speed: _avif(
                image, q, s
            )
    return chosen


def _avif(image: Image.Image, quality: int, speed: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "AVIF", quality=quality, speed=speed, max_threads=1)
    return buffer.getvalue()


def psnr(original: Image.Image, encoded: bytes) -> float:
    decoded = Image.open(io.BytesIO(encoded)).convert("RGB")
    mean_square = (
        sum(value**2 for value in ImageStat.Stat(ImageChops.difference(original, decoded)).rms) / 3
    )
    return 10 * math.log10(255**2 / mean_square) if mean_square else math.inf


def measure(image: Image.Image, encode: dict[str, callable]) -> dict[str, tuple[float, int, float]]:
    """name -> (median seconds, bytes, PSNR); the encoders take turns, round after round."""
    times: dict[str, list[float]] = {name: [] for name in encode}
    for _ in range(ROUNDS):
        for name, work in encode.items():
            started = time.perf_counter()
            work(image)
            times[name].append(time.perf_counter() - started)
    results = {}
    for name, work in encode.items():
        data = work(image)
        results[name] = (sorted(times[name])[ROUNDS // 2], len(data), psnr(image, data))
    return results


def main() -> None:
    encode = encoders("--candidates" in sys.argv)
    header = ("photo", "size", "format", "bytes", "x jpeg", "encode", "x jpeg", "PSNR")
    print(LINE.format(*header))
    for path in sorted(DATA.glob("*.jpg")):
        for size in SIZES:
            with Image.open(path) as photo:
                small = imaging.thumbnail(photo, size, orientation=1).convert("RGB")
                results = measure(small, encode)
                jpeg_time, jpeg_bytes, _ = results["jpeg"]
                for name, (seconds, length, fidelity) in results.items():
                    print(
                        LINE.format(
                            path.stem[:28],
                            size,
                            name,
                            length,
                            f"{length / jpeg_bytes:.2f}",
                            f"{seconds * 1000:.1f} ms",
                            f"{seconds / jpeg_time:.1f}",
                            f"{fidelity:.2f}",
                        )
                    )


if __name__ == "__main__":
    main()
