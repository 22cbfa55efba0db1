"""Figures 4 and 5: requests per second under gunicorn (2 workers) against a bare
Flask app doing the same I/O, both driven by wrk over loopback."""

from __future__ import annotations

import io
import random
import shutil
from pathlib import Path

import requests
from common import ROOT, Row, Server, app_env, bearer, wrk
from PIL import Image

BASELINE_CONFIG = ROOT / "bench" / "baseline.conf.py"
UPLOAD_SCRIPT = ROOT / "bench" / "upload.lua"
DISTINCT_UPLOADS = 1500


def photo(width: int, height: int, seed: int) -> bytes:
    """A photo-like JPEG (smooth random colour fields) no other seed shares."""
    noise = random.Random(seed).randbytes(120 * 90 * 3)
    picture = Image.frombytes("RGB", (120, 90), noise).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def measure(folder: Path) -> list[Row]:
    env = app_env(folder / "serving")
    files = folder / "baseline-files"
    (files / "uploads").mkdir(parents=True)
    original = photo(960, 720, seed=1)  # about 200 KB
    with Server(env) as ours:
        session = requests.Session()
        session.headers.update(bearer(env))
        record = session.post(
            f"{ours.url}/image/upload", files={"image": ("p.jpg", original)}
        ).json()
        thumbnail = session.get(f"{ours.url}/image/{record['id']}/thumbnail").content
        ours_original = wrk(f"{ours.url}/image/{record['id']}")
        ours_thumbnail = wrk(f"{ours.url}/image/{record['id']}/thumbnail")
    (files / "original.jpg").write_bytes(original)
    (files / "thumbnail.jpg").write_bytes(thumbnail)
    baseline_env = {"BASELINE_FOLDER": str(files)}
    with Server(baseline_env, config=BASELINE_CONFIG) as bare:
        bare_original = wrk(f"{bare.url}/file/original.jpg")
        bare_thumbnail = wrk(f"{bare.url}/file/thumbnail.jpg")
    rows = [
        Row(
            4,
            "serving a cached thumbnail (req/s)",
            f"{ours_thumbnail:.0f}/s",
            f"bare send_file {bare_thumbnail:.0f}/s",
            ours_thumbnail / bare_thumbnail,
            ">= 0.8",
        ),
        Row(
            4,
            f"serving a {len(original) // 1000} KB original (req/s)",
            f"{ours_original:.0f}/s",
            f"bare send_file {bare_original:.0f}/s",
            ours_original / bare_original,
            ">= 0.8",
        ),
    ]
    return rows + small_uploads(folder, env, files, baseline_env)


def small_uploads(folder: Path, env: dict, files: Path, baseline_env: dict) -> list[Row]:
    """Distinct ~100 KB JPEGs: every one a new picture for the service."""
    pictures = folder / "uploads"
    pictures.mkdir()
    for seed in range(DISTINCT_UPLOADS):
        (pictures / f"{seed:05d}.jpg").write_bytes(photo(640, 480, seed=1000 + seed))  # ~100 KB
    lua = {"UPLOADS": str(pictures), "UPLOAD_COUNT": str(DISTINCT_UPLOADS)}
    with Server(env) as ours:
        ours_rate = wrk(
            f"{ours.url}/image/upload",
            script=UPLOAD_SCRIPT,
            headers=bearer(env),
            env=lua,
            connections=8,
        )
    shutil.rmtree(files / "uploads")
    (files / "uploads").mkdir()
    with Server(baseline_env, config=BASELINE_CONFIG) as bare:
        bare_rate = wrk(f"{bare.url}/upload", script=UPLOAD_SCRIPT, env=lua, connections=8)
    size = sum(p.stat().st_size for p in pictures.iterdir()) // DISTINCT_UPLOADS
    return [
        Row(
            5,
            f"uploads of distinct {size // 1000} KB JPEGs (per s)",
            f"{ours_rate:.0f}/s",
            f"bare parse+write {bare_rate:.0f}/s",
            ours_rate / bare_rate,
            ">= 0.5",
        ),
    ]
