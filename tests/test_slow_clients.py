"""Slow clients against the server `make run` starts: others are still answered.

Each attack holds 24 connections (three times the server's threads): header
lines one every 5 s, an upload's body one byte every 5 s, or a multi-MB
original that is never read. Meanwhile a fresh `GET /health` must be answered
within 2 s, every time.
"""

from __future__ import annotations

import random
import time

import pytest
import requests
from PIL import Image
from slow_clients import attack, probe
from support import encode

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

ATTACKERS = 24


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """About 9 MB: more than the kernel buffers for a reader that never reads."""
    noise = random.Random(8).randbytes(2000 * 1500 * 3)
    return encode(Image.frombytes("RGB", (2000, 1500), noise), "PNG")


@pytest.mark.parametrize("kind", ["slow-headers", "slow-body", "slow-reader"])
def test_slow_clients_do_not_stop_others_being_answered(live_server, token, big_png, kind):
    server = live_server()
    headers = {"Authorization": f"Bearer {token}"}
    stored = requests.post(
        f"{server.url}/image/upload", files={"image": ("big.png", big_png)}, headers=headers
    )
    assert stored.status_code == 201, stored.text
    path = f"/image/{stored.json()['id']}"

    with attack(server.url, kind, count=ATTACKERS, path=path, token=token):
        time.sleep(1)  # the attackers take hold
        times = probe(server.url, rounds=4)

    assert max(times) < 2.0, f"/health took {times} during {ATTACKERS} {kind} clients"
    # and the server is still itself afterwards
    assert requests.get(f"{server.url}{path}", timeout=10).content == big_png
