"""End to end against a real gunicorn process on 127.0.0.1: races, limits, httpie."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image
from support import PROBLEM_JSON, encode, jpeg, noise, originals, stored_files


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_twenty_concurrent_uploads_of_one_picture_store_it_once(
    live_server, storage_dir, query, token
):
    server = live_server()
    picture = noise((320, 240), seed=42)
    copies = []
    for n in range(20):  # the same picture, each copy with its own EXIF
        exif = Image.Exif()
        exif[0x0110] = f"camera {n}"
        copies.append(encode(picture, "JPEG", quality=85, exif=exif))
    start = threading.Barrier(len(copies))

    def send(n: int) -> requests.Response:
        start.wait()
        files = {"image": (f"copy-{n}.jpg", copies[n], "image/jpeg")}
        return requests.post(
            f"{server.url}/image/upload", files=files, headers=bearer(token), timeout=60
        )

    with ThreadPoolExecutor(len(copies)) as pool:
        responses = list(pool.map(send, range(len(copies))))

    statuses = [r.status_code for r in responses]
    assert sorted(statuses) == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert query("SELECT COUNT(*) FROM images") == [(1,)]
    winner = statuses.index(201)
    [stored] = originals(storage_dir)
    assert stored.read_bytes() == copies[winner]
    assert responses[winner].json()["file_size"] == len(copies[winner])


def test_body_over_the_limit_is_413_over_real_http(live_server, storage_dir, query, token):
    server = live_server(MAX_CONTENT_LENGTH="100000")
    files = {"image": ("big.jpg", jpeg(size=(600, 600), quality=100), "image/jpeg")}

    response = requests.post(
        f"{server.url}/image/upload", files=files, headers=bearer(token), timeout=30
    )

    assert response.status_code == 413
    assert response.headers["Content-Type"] == PROBLEM_JSON
    assert "limit" in response.json()["detail"] or "exceeds" in response.json()["detail"]
    assert query("SELECT COUNT(*) FROM images") == [(0,)]
    assert stored_files(storage_dir) == []


def test_httpie_round_trip(live_server, tmp_path, token):
    """The README's commands: upload, upload again, download to a file, delete."""
    server = live_server()
    workdir = tmp_path / "client"
    workdir.mkdir()
    photo = jpeg(seed=9, size=(200, 150))
    (workdir / "photo.jpg").write_bytes(photo)
    port = server.url.rsplit(":", 1)[1]

    def http(*args: str, **options) -> subprocess.CompletedProcess:
        httpie = Path(sys.executable).with_name("http")
        return subprocess.run(
            [str(httpie), "--ignore-stdin", "--check-status", "-A", "bearer", "-a", token, *args],
            cwd=workdir,
            **({"capture_output": True, "text": True} | options),
            timeout=60,
        )

    created = http("--print=hb", "-f", "POST", f":{port}/image/upload", "image@photo.jpg")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("HTTP/1.1 201 ")
    record = json.loads(created.stdout[created.stdout.index("{") :])
    assert f"Location: /image/{record['id']}" in created.stdout

    again = http("-f", "POST", f":{port}/image/upload", "image@photo.jpg")
    assert json.loads(again.stdout)["duplicate"] is True

    (workdir / "photo.jpg").unlink()
    # httpie names the download after Content-Disposition only on a terminal.
    terminal, its_other_end = os.openpty()
    try:
        saved = http(
            "--download",
            f":{port}/image/{record['id']}?download=1",
            capture_output=False,
            stdout=its_other_end,
            stderr=its_other_end,
        )
    finally:
        os.close(terminal)
        os.close(its_other_end)
    assert saved.returncode == 0
    assert (workdir / "photo.jpg").read_bytes() == photo

    assert http("DELETE", f":{port}/image/{record['id']}").returncode == 0
    gone = http(f":{port}/image/{record['id']}")
    assert gone.returncode == 4  # httpie's exit status for a 4xx answer
    assert json.loads(gone.stdout)["status"] == 404
