"""Figure 3: a thumbnail's first request (not cached yet) for a 24 MP JPEG."""

from __future__ import annotations

from pathlib import Path

import requests
from common import (
    Row,
    Server,
    app_env,
    bearer,
    camera_jpeg,
    median_seconds,
    ms,
    thumbnail_file,
)
from PIL import Image

ROUNDS = 9
SIZE = 1024


def pillow_draft_thumbnail(path: Path) -> None:
    """The baseline: Pillow's draft-mode decode (at the smallest scale that still
    covers the thumbnail) and thumbnail(), nothing else."""
    with Image.open(path) as picture:
        scale = SIZE / max(picture.size)
        picture.draft("RGB", (round(picture.width * scale), round(picture.height * scale)))
        picture.thumbnail((SIZE, SIZE))


def vips_thumbnail(path: Path) -> None:
    import pyvips

    pyvips.Image.thumbnail(str(path), SIZE).copy_memory()


def measure(folder: Path) -> list[Row]:
    photo = camera_jpeg(folder)
    baseline = median_seconds(lambda: pillow_draft_thumbnail(photo), ROUNDS)
    env = app_env(folder / "thumbnail")
    storage = Path(env["FILE_STORAGE_LOCATION"])
    with Server(env) as server:
        session = requests.Session()
        session.headers.update(bearer(env))
        record = session.post(
            f"{server.url}/image/upload", files={"image": ("camera.jpg", photo.read_bytes())}
        ).json()
        cached = thumbnail_file(storage, record["sha512"], SIZE)
        url = f"{server.url}/image/{record['id']}/thumbnail?size={SIZE}&format=jpeg"
        session.get(url)  # warm both workers' code paths up

        def first_request() -> None:
            cached.unlink(missing_ok=True)
            response = session.get(url)
            assert response.status_code == 200 and response.content

        ours = median_seconds(first_request, ROUNDS)
    rows = [
        Row(
            3,
            f"thumbnail {SIZE}, first request, 24 MP JPEG",
            ms(ours),
            f"Pillow draft+thumbnail {ms(baseline)}",
            ours / baseline,
            "<= 1.2",
        ),
    ]
    try:
        vips = median_seconds(lambda: vips_thumbnail(photo), ROUNDS)
    except ImportError:
        return rows
    rows.append(
        Row(
            3,
            "  the same against pyvips thumbnail",
            ms(ours),
            f"pyvips {ms(vips)}",
            ours / vips,
            "",
        )
    )
    return rows
