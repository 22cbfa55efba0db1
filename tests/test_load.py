"""A minute of mixed traffic from 32 clients against gunicorn on MySQL.

Zero 5xx, no acknowledged upload lost, dedupe still exact; prints throughput
and latency per endpoint. LOAD_SECONDS shortens or lengthens the run.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections import defaultdict

import pytest
import requests
from support import jpeg

CLIENTS = 32
SECONDS = float(os.environ.get("LOAD_SECONDS", "60"))


class Traffic:
    """What the clients did and saw, shared between their threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.server_errors: list[str] = []
        self.stored: dict[int, bytes] = {}  # acknowledged and not deleted: id -> bytes sent
        self.deleted: set[int] = set()
        self.pictures: dict[bytes, int] = {}  # bytes -> id, for duplicates

    def record(self, endpoint: str, started: float, response: requests.Response) -> None:
        with self.lock:
            self.latencies[endpoint].append(time.monotonic() - started)
            if response.status_code >= 500:
                self.server_errors.append(
                    f"{endpoint}: {response.status_code} {response.text[:200]}"
                )


def client_loop(number: int, url: str, token: str, traffic: Traffic, until: float) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    dice = random.Random(number)
    seed = number * 1_000_000
    while time.monotonic() < until:
        roll = dice.random()
        with traffic.lock:
            ids = list(traffic.stored)
            known = list(traffic.pictures)
        started = time.monotonic()
        if roll < 0.30 or not ids:
            if roll < 0.08 and known:
                endpoint, data = "upload (duplicate)", dice.choice(known)
            else:
                seed += 1
                endpoint, data = "upload (new)", jpeg(seed=seed, size=(160, 120))
            response = session.post(
                f"{url}/image/upload", files={"image": ("p.jpg", data, "image/jpeg")}, timeout=60
            )
            traffic.record(endpoint, started, response)
            if response.status_code in (200, 201):
                image_id = response.json()["id"]
                with traffic.lock:
                    if image_id not in traffic.deleted:
                        traffic.stored.setdefault(image_id, data)
                        traffic.pictures.setdefault(data, image_id)
            continue
        image_id = dice.choice(ids)
        if roll < 0.55:
            endpoint, response = "download", session.get(f"{url}/image/{image_id}", timeout=60)
        elif roll < 0.70:
            size = dice.choice([64, 128, 256, 512])
            endpoint = "thumbnail"
            response = session.get(f"{url}/image/{image_id}/thumbnail?size={size}", timeout=60)
        elif roll < 0.80:
            endpoint, response = (
                "details",
                session.get(f"{url}/image/{image_id}/details", timeout=60),
            )
        elif roll < 0.95:
            query = dice.choice(
                ["", "?format=jpeg&limit=20", "?sort=file_size&limit=10", "?owner=me"]
            )
            endpoint, response = "list", session.get(f"{url}/image/list{query}", timeout=60)
        else:
            with traffic.lock:  # a deleted picture is never sent again, so ids stay unambiguous
                data = traffic.stored.pop(image_id, None)
                if data is None:
                    continue
                traffic.deleted.add(image_id)
                traffic.pictures.pop(data, None)
            endpoint, response = "delete", session.delete(f"{url}/image/{image_id}", timeout=60)
        traffic.record(endpoint, started, response)


def report(traffic: Traffic, seconds: float) -> str:
    lines = [f"{'endpoint':<20} {'requests':>8} {'per s':>7} {'p50 ms':>7} {'p99 ms':>7}"]
    for endpoint, times in sorted(traffic.latencies.items()):
        ordered = sorted(times)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        lines.append(
            f"{endpoint:<20} {len(times):>8} {len(times) / seconds:>7.1f} "
            f"{statistics.median(ordered) * 1000:>7.1f} {p99 * 1000:>7.1f}"
        )
    return "\n".join(lines)


def test_a_minute_of_mixed_traffic(live_server, token, query, app, request, capsys):
    if request.config.getoption("--db") != "mysql":
        pytest.skip("the load test runs on MySQL, the production database")
    server = live_server(WEB_CONCURRENCY="2", GUNICORN_THREADS="8")
    traffic = Traffic()
    until = time.monotonic() + SECONDS
    threads = [
        threading.Thread(target=client_loop, args=(n, server.url, token, traffic, until))
        for n in range(CLIENTS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    with capsys.disabled():
        print(f"\n{CLIENTS} clients, {elapsed:.0f} s, gunicorn 2 workers x 8 threads, MySQL")
        print(report(traffic, elapsed))

    assert traffic.server_errors == []
    assert sum(len(times) for times in traffic.latencies.values()) > CLIENTS * 10
    for image_id, data in traffic.stored.items():
        response = requests.get(f"{server.url}/image/{image_id}", timeout=60)
        assert response.status_code == 200, image_id
        assert response.content == data
    # One owner: one record per picture, and one picture per record.
    assert query("SELECT picture_id FROM images GROUP BY picture_id HAVING COUNT(*) > 1") == []
    assert query("SELECT COUNT(*) FROM images") == [(len(traffic.stored),)]
    assert query("SELECT COUNT(*) FROM pictures") == [(len(traffic.stored),)]
    fsck = app.test_cli_runner().invoke(args=["images", "fsck", "--skip-hashes"])
    assert fsck.exit_code == 0, fsck.output
