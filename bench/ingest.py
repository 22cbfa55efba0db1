"""Figures 1 and 2: ingesting a 24 MP camera JPEG, in time and in memory; and the
same bytes again, which are known and cost no decode."""

from __future__ import annotations

import hashlib
import statistics
from pathlib import Path

import requests
from common import Row, Server, app_env, bearer, camera_jpeg, median_seconds, ms
from PIL import Image

ROUNDS = 7


def decode_and_hash(path: Path) -> str:
    """The floor: Pillow's full decode, then SHA-512 over the decoded pixels."""
    with Image.open(path) as picture:
        picture.load()
        return hashlib.sha512(picture.tobytes()).hexdigest()


def upload(session: requests.Session, url: str, data: bytes, status: int = 201) -> int:
    """The record's id; `status` 200 for bytes already stored."""
    response = session.post(f"{url}/image/upload", files={"image": ("camera.jpg", data)})
    assert response.status_code == status, response.text
    return response.json()["id"]


def measure(folder: Path) -> list[Row]:
    photo = camera_jpeg(folder)
    data = photo.read_bytes()
    env = app_env(folder / "ingest")
    with Server(env) as server:
        session = requests.Session()
        session.headers.update(bearer(env))
        floors, times, again_times = [], [], []
        for _ in range(ROUNDS + 1):  # the first warms both workers' imports up
            # In turns with the uploads: this machine's speed drifts by a fifth.
            floors.append(median_seconds(lambda: decode_and_hash(photo), 1))
            image_id = None

            def once() -> None:
                nonlocal image_id
                image_id = upload(session, server.url, data)

            times.append(median_seconds(once, 1))
            again_times.append(median_seconds(lambda: upload(session, server.url, data, 200), 1))
            session.delete(f"{server.url}/image/{image_id}")
    floor = statistics.median(floors[1:])
    ingest = statistics.median(times[1:])
    again = statistics.median(again_times[1:])
    return [
        Row(
            1,
            "ingest 24 MP JPEG: POST /image/upload",
            ms(ingest),
            f"decode+SHA-512 {ms(floor)}",
            ingest / floor,
            "<= 1.3",
        ),
        Row(
            1,
            "  the same bytes again (200, the stored record; no decode)",
            ms(again),
            f"its first upload {ms(ingest)}",
            again / ingest,
            "<= 0.2",
        ),
        *memory(folder, data),
    ]


def memory(folder: Path, data: bytes) -> list[Row]:
    """Peak resident memory a fresh worker adds while it ingests the photo."""
    with Image.open(folder / "camera-24mp.jpg") as picture:
        decoded = picture.width * picture.height * len(picture.getbands())
    env = app_env(folder / "memory")
    with Server(env, workers=1, threads=1) as server:
        session = requests.Session()
        session.headers.update(bearer(env))
        small = Image.new("RGB", (64, 48), "red")
        warm = folder / "warm.png"
        small.save(warm)
        upload(session, server.url, warm.read_bytes())  # imports, connections, first thumbnail
        [worker] = server.worker_pids()
        before = _status(worker, "VmRSS")
        Path(f"/proc/{worker}/clear_refs").write_text("5")  # reset the peak (VmHWM)
        upload(session, server.url, data)
        peak = _status(worker, "VmHWM")
    added = peak - before
    return [
        Row(
            2,
            "peak memory added by that ingest",
            f"{added / 2**20:.0f} MiB",
            f"decoded pixels {decoded / 2**20:.0f} MiB",
            added / decoded,
            "<= 2.5",
        ),
    ]


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)
