"""Slow clients against the server `make run` starts: others are still answered.

Each attack holds 24 connections (three times the server's threads): header
lines one every 5 s, an upload's body one byte every 5 s, or a multi-MB
original that is never read; then a FLOOD of each, and of connections that
send nothing, more than the server has places for. Meanwhile a fresh
`GET /health` must be answered within 2 s, every time. Last, a flood of
costly requests: thumbnails nobody asked for before.
"""

from __future__ import annotations

import http.client
import itertools
import json
import random
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from PIL import Image
from slow_clients import FLOOD, KINDS, attack, probe, wait_until_answered
from support import encode, noise

from image_repo.thumbnails import SIZES

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

ATTACKERS = 24


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """About 9 MB: more than the kernel buffers for a reader that never reads."""
    noise = random.Random(8).randbytes(2000 * 1500 * 3)
    return encode(Image.frombytes("RGB", (2000, 1500), noise), "PNG")


@pytest.mark.parametrize(
    ("kind", "count"),
    [(kind, ATTACKERS) for kind in KINDS] + [(kind, FLOOD) for kind in ("idle", *KINDS)],
)
def test_slow_clients_do_not_stop_others_being_answered(
    live_server, token, big_png, many_sockets, kind, count
):
    server = live_server()
    headers = {"Authorization": f"Bearer {token}"}
    stored = requests.post(
        f"{server.url}/image/upload", files={"image": ("big.png", big_png)}, headers=headers
    )
    assert stored.status_code == 201, stored.text
    path = f"/image/{stored.json()['id']}"

    with attack(server.url, kind, count=count, path=path, token=token) as connections:
        if kind == "slow-reader":  # a flood's requests take the server seconds to answer
            wait_until_answered(connections)
        time.sleep(2)  # the attackers take hold, and are no longer new
        times = probe(server.url, rounds=4)

    assert max(times) < 2.0, f"/health took {times} during {count} {kind} clients"
    # and the server is still itself afterwards
    assert requests.get(f"{server.url}{path}", timeout=10).content == big_png


def test_a_flood_of_connections_closes_idle_ones_not_an_upload_under_way(
    live_server, token, many_sockets
):
    """An upload sent at a steady pace while more and more idle connections
    come: the places they take are found among the idle ones."""
    server = live_server()
    picture = encode(noise((800, 600), seed=11), "JPEG", quality=95)
    request = requests.Request(
        "POST",
        f"{server.url}/image/upload",
        files={"image": ("f.jpg", picture)},
        headers={"Authorization": f"Bearer {token}"},
    ).prepare()
    piece = len(request.body) // 20 + 1

    with attack(server.url, "idle", count=FLOOD):
        time.sleep(2)
        upload = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        upload.putrequest("POST", "/image/upload")
        for name, value in request.headers.items():
            upload.putheader(name, value)
        upload.endheaders()
        more = []
        try:
            for start in range(0, len(request.body), piece):
                upload.send(request.body[start : start + piece])
                more += [socket.create_connection(("127.0.0.1", server.port)) for _ in range(25)]
                time.sleep(0.1)
            answer = upload.getresponse()
            record = answer.read()
        finally:
            for connection in more:
                connection.close()
            upload.close()

    assert answer.status == 201, record
    image_id = json.loads(record)["id"]
    assert requests.get(f"{server.url}/image/{image_id}", timeout=10).content == picture


@pytest.mark.parametrize(
    "thumbnail_url",
    [
        "/image/{id}/thumbnail?size={size}&format={format}",
        "/image/{id}/base64?thumbnail={size}&format={format}",
    ],
    ids=["thumbnail", "base64"],
)
def test_a_flood_of_thumbnails_not_made_yet_leaves_others_their_pace(
    live_server, token, thumbnail_url
):
    """16 clients ask for thumbnails of every size, in AVIF and WebP, that
    nobody asked for before (each a decode and an encode), as files or as
    base64; meanwhile a download keeps its pace. (On the pool's threads it
    took 13 times as long, and 16 for base64.)"""
    server = live_server()
    uploader = requests.Session()
    uploader.headers["Authorization"] = f"Bearer {token}"
    ids = []
    for seed in range(30):
        photo = noise((40, 30), seed=seed).resize((1600, 1200), Image.Resampling.BICUBIC)
        answer = uploader.post(
            f"{server.url}/image/upload", files={"image": ("p.jpg", encode(photo, "JPEG"))}
        )
        ids.append(answer.json()["id"])

    def download_times() -> list[float]:
        times = probe(server.url, path=f"/image/{ids[0]}", rounds=15, pause=0.1, timeout=30)
        assert max(times) < 30, "every download is answered"
        return times

    idle = statistics.median(download_times())
    wanted = itertools.product(ids[1:], SIZES, ("avif", "webp"))
    lock, stop = threading.Lock(), threading.Event()

    def client() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                with lock:
                    image_id, size, name = next(wanted, (None, None, None))
                if image_id is None:
                    return
                url = thumbnail_url.format(id=image_id, size=size, format=name)
                assert session.get(f"{server.url}{url}", timeout=60).ok

    with ThreadPoolExecutor(16) as clients:
        flood = [clients.submit(client) for _ in range(16)]
        time.sleep(1)  # the flood is under way
        flooded = statistics.median(download_times())
        stop.set()
        for each in flood:
            each.result()

    assert flooded < 4 * idle, f"download p50 {flooded:.4f} s in the flood, {idle:.4f} s before"
