"""Figures 4 and 5: requests per second under gunicorn (2 workers) against a bare
Flask app doing the same I/O, both driven by wrk over loopback.

Both servers run side by side and are measured in turns, several short rounds
each, and the medians compared.
"""

from __future__ import annotations

import io
import random
import statistics
from pathlib import Path

import requests
from common import ROOT, Row, Server, app_env, bearer, wrk
from PIL import Image

BASELINE_CONFIG = ROOT / "bench" / "baseline.conf.py"
UPLOAD_SCRIPT = ROOT / "bench" / "upload.lua"
ROUNDS = 5
SECONDS = 2
# Distinct pictures per upload round: more than the service stores in a round,
# so that every upload it measures is a new picture.
UPLOADS_PER_ROUND = 400


def photo(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG (smooth random colour fields) no other seed shares."""
    noise = random.Random(seed).randbytes(120 * 90 * 3)
    picture = Image.frombytes("RGB", (120, 90), noise).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def in_turns(rounds: int, **runs) -> dict[str, float]:
    """The median rate of each named wrk run, the runs taking turns for `rounds` rounds."""
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for round_number in range(rounds):
        for name, run in runs.items():
            rates[name].append(run(round_number))
    return {name: statistics.median(values) for name, values in rates.items()}


def measure(folder: Path) -> list[Row]:
    env = app_env(folder / "serving")
    files = folder / "baseline-files"
    (files / "uploads").mkdir(parents=True)
    original = photo(960, 720, seed=1)  # about 200 KB
    baseline_env = {"BASELINE_FOLDER": str(files)}
    with Server(env) as ours, Server(baseline_env, config=BASELINE_CONFIG) as bare:
        session = requests.Session()
        session.headers.update(bearer(env))
        record = session.post(
            f"{ours.url}/image/upload", files={"image": ("p.jpg", original)}
        ).json()
        thumbnail = session.get(f"{ours.url}/image/{record['id']}/thumbnail").content
        (files / "original.jpg").write_bytes(original)
        (files / "thumbnail.jpg").write_bytes(thumbnail)
        rates = in_turns(
            ROUNDS,
            ours_thumbnail=lambda _: wrk(
                f"{ours.url}/image/{record['id']}/thumbnail", seconds=SECONDS
            ),
            bare_thumbnail=lambda _: wrk(f"{bare.url}/file/thumbnail.jpg", seconds=SECONDS),
            ours_original=lambda _: wrk(f"{ours.url}/image/{record['id']}", seconds=SECONDS),
            bare_original=lambda _: wrk(f"{bare.url}/file/original.jpg", seconds=SECONDS),
        )
        rows = [
            Row(
                4,
                "serving a cached thumbnail (req/s)",
                f"{rates['ours_thumbnail']:.0f}/s",
                f"bare send_file {rates['bare_thumbnail']:.0f}/s",
                rates["ours_thumbnail"] / rates["bare_thumbnail"],
                ">= 0.8",
            ),
            Row(
                4,
                f"serving a {len(original) // 1000} KB original (req/s)",
                f"{rates['ours_original']:.0f}/s",
                f"bare send_file {rates['bare_original']:.0f}/s",
                rates["ours_original"] / rates["bare_original"],
                ">= 0.8",
            ),
        ]
        return rows + small_uploads(folder, ours, bare, bearer(env))


def small_uploads(folder: Path, ours: Server, bare: Server, token: dict) -> list[Row]:
    """Distinct ~100 KB JPEGs: every one a new picture for the service. The
    second baseline does the work no pipeline can skip (decode, SHA-512 over
    the pixels, the thumbnail made at ingest), to show what the rest costs."""
    pictures = folder / "uploads"
    pictures.mkdir()
    count = ROUNDS * UPLOADS_PER_ROUND
    for seed in range(count):
        (pictures / f"{seed:05d}.jpg").write_bytes(photo(640, 480, seed=1000 + seed))

    def upload(url: str, headers: dict | None = None):
        def run(round_number: int) -> float:
            pictures_of_round = {
                "UPLOADS": str(pictures),
                "UPLOAD_FIRST": str(round_number * UPLOADS_PER_ROUND),
                "UPLOAD_COUNT": str(UPLOADS_PER_ROUND),
            }
            return wrk(
                url,
                seconds=SECONDS,
                script=UPLOAD_SCRIPT,
                headers=headers,
                env=pictures_of_round,
                connections=8,
            )

        return run

    rates = in_turns(
        ROUNDS,
        ours=upload(f"{ours.url}/image/upload", token),
        bare=upload(f"{bare.url}/upload"),
        floor=upload(f"{bare.url}/upload-and-decode"),
    )
    size = sum(p.stat().st_size for p in pictures.iterdir()) // count
    return [
        Row(
            5,
            f"uploads of distinct {size // 1000} KB JPEGs (per s)",
            f"{rates['ours']:.0f}/s",
            f"bare parse+write {rates['bare']:.0f}/s",
            rates["ours"] / rates["bare"],
            ">= 0.5",
        ),
        Row(
            5,
            "  the same against bare parse+write+decode+hash+thumbnail",
            f"{rates['ours']:.0f}/s",
            f"bare {rates['floor']:.0f}/s",
            rates["ours"] / rates["floor"],
            ">= 0.8",
        ),
    ]
