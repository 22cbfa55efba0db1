"""Pictures made with Pillow, and the checks most tests share."""

from __future__ import annotations

import io
import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import Table, create_engine, select

PROBLEM_JSON = "application/problem+json"
CORPUS = Path(__file__).resolve().parent / "data"


def noise(size: tuple[int, int] = (64, 48), *, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """A picture of random pixels: each seed gives another picture."""
    channels = len(Image.new(mode, (1, 1)).getbands())
    data = random.Random(seed).randbytes(size[0] * size[1] * channels)
    return Image.frombytes(mode, size, data)


def encode(image: Image.Image, image_format: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def jpeg(seed: int = 0, size: tuple[int, int] = (64, 48), **options) -> bytes:
    return encode(noise(size, seed=seed), "JPEG", **options)


def png(seed: int = 0, size: tuple[int, int] = (64, 48), mode: str = "RGB") -> bytes:
    return encode(noise(size, mode=mode, seed=seed), "PNG")


def upload(client, data: bytes, name: str = "photo.jpg", **kwargs):
    return client.post(
        "/image/upload",
        data={"image": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        **kwargs,
    )


def stored_files(storage: Path) -> list[Path]:
    """Every file the store holds, originals and leftovers alike (not its
    repository mark, nor writes in progress in its hidden folder)."""
    if not storage.exists():
        return []
    return sorted(
        path
        for path in storage.rglob("*")
        if path.is_file()
        and not path.relative_to(storage).parts[0].startswith(".")
        and path.relative_to(storage).as_posix() != "repository.json"
    )


def originals(storage: Path) -> list[Path]:
    return [path for path in stored_files(storage) if path.parts[-4] == "originals"]


def assert_problem(response, status: int, *, detail_has: str = "") -> dict:
    """A problem+json answer with this status and a human-readable detail."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert detail_has.lower() in body["detail"].lower()
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def generate(client, **body):
    """POST /image/generate with this JSON body."""
    return client.post("/image/generate", json=body)


def ended_job(client, location: str, wait: float = 20) -> dict:
    """The job at `location` once it has ended (`?wait=`, so no polling here)."""
    response = client.get(f"{location}?wait={wait}")
    assert response.status_code == 200, response.get_data(as_text=True)
    job = response.get_json()
    assert job["status"] in ("succeeded", "failed"), job
    return job


def died_a_day_ago(query, sha512: str, state: str) -> None:
    """Leave the picture `state` ("storing", "deleting") as a process that died
    a day ago would: its claim long expired."""
    long_ago = (datetime.now(UTC) - timedelta(days=1)).replace(tzinfo=None).isoformat(sep=" ")
    query(
        "UPDATE pictures SET state = :state, state_since = :t WHERE sha512 = :sha",
        state=state,
        t=long_ago,
        sha=sha512,
    )


@contextmanager
def tmpfs(mountpoint: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of `size` at `mountpoint` while the block runs (needs root,
    as in CI; the test is skipped where mounting is not allowed)."""
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


@contextmanager
def lock_held_elsewhere(database_url: str, table: Table) -> Iterator[None]:
    """Another connection holds a lock until the block ends: SQLite's one write
    lock, or on MySQL a lock on every row of `table` (and so on any write to them)."""
    engine = create_engine(database_url)
    holder = engine.connect()
    try:
        if holder.dialect.name == "sqlite":
            holder.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            holder.execute(select(table).with_for_update())
        yield
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
