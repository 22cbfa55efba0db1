"""kill -9 during uploads: every acknowledged upload survives, nothing half-made shows."""

from __future__ import annotations

import random
import threading
import time

import requests
from support import jpeg

CLIENTS = 4
CRASHES = 4


def test_acknowledged_uploads_survive_repeated_kill_9(live_server, app, token):
    server = live_server(WEB_CONCURRENCY="2")
    headers = {"Authorization": f"Bearer {token}"}
    acknowledged: dict[int, bytes] = {}  # image id -> the bytes the client sent
    sent: list[bytes] = []
    lock = threading.Lock()
    stop = threading.Event()
    dice = random.Random(1234)

    def client(number: int) -> None:
        seed = number * 100_000
        while not stop.is_set():
            with lock:
                again = sent and dice.random() < 0.2
                data = dice.choice(sent) if again else None
            if data is None:
                seed += 1
                data = jpeg(seed=seed, size=(256, 192), quality=95)
            try:
                response = requests.post(
                    f"{server.url}/image/upload",
                    files={"image": ("photo.jpg", data, "image/jpeg")},
                    headers=headers,
                    timeout=10,
                )
            except requests.RequestException:
                continue  # the server died under us: not acknowledged
            if response.status_code in (200, 201):
                with lock:
                    acknowledged[response.json()["id"]] = data
                    sent.append(data)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(CRASHES):
            time.sleep(dice.uniform(0.4, 1.2))
            server.kill()
            server.start()
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert len(acknowledged) > 20  # the test did crash the server under load
    for image_id, data in acknowledged.items():
        response = requests.get(f"{server.url}/image/{image_id}", timeout=10)
        assert response.status_code == 200, image_id
        assert response.content == data
    fsck = app.test_cli_runner().invoke(args=["images", "fsck"])
    assert fsck.exit_code == 0, fsck.output
