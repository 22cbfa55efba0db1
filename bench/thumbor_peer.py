"""Figure 9: thumbor 7.8, a thumbnail service in production use, as a peer.

thumbor runs as its docs suggest for this load: 2 processes (one per core, as
our 2 workers), the file loader on a folder holding the same files we store,
result storage on (files), JPEG quality 85 as ours. It lives in a venv of its
own (`make install-bench` makes `.venv-thumbor`): it pins a Pillow older than
ours.

- A cached 256-pixel thumbnail of a ~200 KB JPEG: wrk, a connection per
  request, the two servers taking turns; requests/s and the 99th percentile.
- The first request of a thumbnail of a 24 MP JPEG at 256 and 1024 pixels:
  each side's cached result removed before every request, taking turns. Ours
  is made from the preview ingest made; then also with the preview removed,
  from the original, as for a picture stored before previews.
"""

from __future__ import annotations

import shutil
import statistics
from pathlib import Path

import requests
from common import (
    ROOT,
    Row,
    Server,
    app_env,
    bearer,
    camera_jpeg,
    ms,
    preview_file,
    thumbnail_file,
    wrk_latency,
)
from serving import photo

THUMBOR = ROOT / ".venv-thumbor" / "bin" / "thumbor"
ROUNDS = 5
SECONDS = 3
FIRST_REQUEST_ROUNDS = 9
CONFIG = """\
LOADER = "thumbor.loaders.file_loader"
FILE_LOADER_ROOT_PATH = {files!r}
STORAGE = "thumbor.storages.no_storage"
RESULT_STORAGE = "thumbor.result_storages.file_storage"
RESULT_STORAGE_FILE_STORAGE_ROOT_PATH = {results!r}
RESULT_STORAGE_STORES_UNSAFE = True
ALLOW_UNSAFE_URL = True
QUALITY = 85
"""


def measure(folder: Path) -> list[Row]:
    if not THUMBOR.exists():
        print("figure 9 left out: thumbor is not installed (make install-bench)")
        return []
    files, results = folder / "thumbor-files", folder / "thumbor-results"
    files.mkdir()
    small, camera = photo(960, 720, seed=1), camera_jpeg(folder).read_bytes()
    (files / "small.jpg").write_bytes(small)
    (files / "camera.jpg").write_bytes(camera)
    config = folder / "thumbor.conf"
    config.write_text(CONFIG.format(files=str(files), results=str(results)))
    thumbor_command = [str(THUMBOR), "-i", "127.0.0.1", "-p", "{port}", "-c", str(config)]
    env = app_env(folder / "thumbor-ours")
    storage = Path(env["FILE_STORAGE_LOCATION"])
    with Server(env) as ours, Server({}, command=[*thumbor_command, "--processes", "2"]) as peer:
        session = requests.Session()
        session.headers.update(bearer(env))
        stored = {
            name: session.post(f"{ours.url}/image/upload", files={"image": (name, data)}).json()
            for name, data in (("small.jpg", small), ("camera.jpg", camera))
        }
        rows = _cached(ours, peer, session, stored["small.jpg"]["id"], len(small))
        for size in (256, 1024):
            record = stored["camera.jpg"]
            cached = thumbnail_file(storage, record["sha512"], size)
            preview = preview_file(storage, record["sha512"])
            kept = preview.read_bytes()
            ours_url = f"{ours.url}/image/{record['id']}/thumbnail?size={size}&format=jpeg"
            peer_url = f"{peer.url}/unsafe/fit-in/{size}x{size}/camera.jpg"
            times: dict[str, list[float]] = {"ours": [], "original": [], "thumbor": []}
            for _ in range(FIRST_REQUEST_ROUNDS):
                cached.unlink(missing_ok=True)
                times["ours"].append(_timed(session, ours_url))
                cached.unlink()
                preview.unlink()
                times["original"].append(_timed(session, ours_url))
                preview.write_bytes(kept)
                shutil.rmtree(results, ignore_errors=True)
                times["thumbor"].append(_timed(session, peer_url))
            ours_time, original_time, peer_time = (statistics.median(t) for t in times.values())
            rows += [
                Row(
                    9,
                    f"thumbnail {size}, first request, 24 MP JPEG",
                    ms(ours_time),
                    f"thumbor {ms(peer_time)}",
                    ours_time / peer_time,
                    "<= 0.8",
                ),
                Row(
                    9,
                    "  the same without its preview (from the original)",
                    ms(original_time),
                    f"thumbor {ms(peer_time)}",
                    original_time / peer_time,
                    "",
                ),
            ]
    return rows


def _cached(ours: Server, peer: Server, session, image_id: int, size: int) -> list[Row]:
    urls = {
        "ours": f"{ours.url}/image/{image_id}/thumbnail?format=jpeg",
        "thumbor": f"{peer.url}/unsafe/fit-in/256x256/small.jpg",
    }
    for url in urls.values():  # made and stored by the first request
        session.get(url).raise_for_status()
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in urls}
    for _ in range(ROUNDS):
        for name, url in urls.items():
            runs[name].append(wrk_latency(url, seconds=SECONDS))
    rate = {name: statistics.median(r for r, _ in values) for name, values in runs.items()}
    p99 = {name: statistics.median(p for _, p in values) for name, values in runs.items()}
    figure = f"cached thumbnail 256 of a {size // 1000} KB JPEG"
    return [
        Row(
            9,
            f"{figure} (req/s)",
            f"{rate['ours']:.0f}/s",
            f"thumbor {rate['thumbor']:.0f}/s",
            rate["ours"] / rate["thumbor"],
            ">= 1.25",
        ),
        Row(
            9,
            f"{figure}, p99 latency",
            ms(p99["ours"]),
            f"thumbor {ms(p99['thumbor'])}",
            p99["ours"] / p99["thumbor"],
            "<= 0.8",
        ),
    ]


def _timed(session: requests.Session, url: str) -> float:
    response = session.get(url)
    response.raise_for_status()
    return response.elapsed.total_seconds()
