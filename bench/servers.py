"""Figure 12: which server to run the app under, by measurement.

Each candidate serves the same app, database and files. Against each, three
attacks of ATTACKERS connections (tests/slow_clients.py): header lines one
every 5 s, an upload's body one byte every 5 s, a multi-MB original never
read; then a FLOOD of connections that send nothing (more than `make run`'s
server has places for); meanwhile fresh `GET /health` requests, each given
2 s. Then the rates that matter day to day, the candidates taking turns: a
cached thumbnail and a ~200 KB original (wrk), distinct ~100 KB uploads.

    cd bench && ../.venv/bin/python run.py 12
"""

from __future__ import annotations

import random
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import requests
from common import BIN, ROOT, Row, Server, app_env, bearer, wrk
from PIL import Image
from serving import UPLOAD_SCRIPT, in_turns, photo

sys.path.insert(0, str(ROOT / "tests"))
from slow_clients import FLOOD, KINDS, attack, probe, room_for_sockets

ATTACKERS = 24
ATTACKS = [(kind, ATTACKERS) for kind in KINDS] + [("idle", FLOOD)]
PROBES = 8
ROUNDS = 3
SECONDS = 2
UPLOADS_PER_ROUND = 300

GUNICORN = [str(BIN / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py")]
CANDIDATES = {
    "gunicorn gthread, 2 x 4 threads": [*GUNICORN, "--worker-class", "gthread"],
    "granian 2.8, 2 workers x 4 threads": [
        str(BIN / "granian"),
        *("--interface", "wsgi", "--workers", "2", "--blocking-threads", "4"),
        *("--host", "127.0.0.1", "--port", "{port}", "--no-access-log", "--factory"),
        "image_repo:create_app",
    ],
    "waitress 3.0, 1 process x 8 threads": [
        str(BIN / "waitress-serve"),
        *("--threads", "8", "--listen", "127.0.0.1:{port}", "--call"),
        "image_repo:create_app",
    ],
    "gunicorn + waitress workers, 2 x 4 threads (make run)": GUNICORN,
}


def big_original(folder: Path) -> bytes:
    """A ~9 MB PNG of noise: more than the kernel buffers a slow reader's answer in."""
    path = folder / "big.png"
    noise = random.Random(8).randbytes(2000 * 1500 * 3)
    Image.frombytes("RGB", (2000, 1500), noise).save(path)
    return path.read_bytes()


def under_attack(server: Server, big_id: int, token: str) -> dict[tuple[str, int], list[float]]:
    """Each attack's `/health` probe times (2.0: no answer within 2 s)."""
    times = {}
    for kind, count in ATTACKS:
        with attack(server.url, kind, count=count, path=f"/image/{big_id}", token=token):
            time.sleep(2)  # the attackers take hold, and are no longer new
            times[kind, count] = probe(server.url, rounds=PROBES)
    return times


def measure(folder: Path) -> list[Row]:
    env = app_env(folder / "servers")
    headers = bearer(env)
    pictures = folder / "server-uploads"
    pictures.mkdir()
    for seed in range(len(CANDIDATES) * ROUNDS * UPLOADS_PER_ROUND):
        (pictures / f"{seed:05d}.jpg").write_bytes(photo(640, 480, seed=50_000 + seed))
    with Server(env) as setup:
        session = requests.Session()
        session.headers.update(headers)
        big = session.post(
            f"{setup.url}/image/upload", files={"image": ("big.png", big_original(folder))}
        )
        small = session.post(
            f"{setup.url}/image/upload", files={"image": ("p.jpg", photo(960, 720, seed=1))}
        )
        big_id, small_id = big.json()["id"], small.json()["id"]
        session.get(f"{setup.url}/image/{small_id}/thumbnail").raise_for_status()

    results: dict[str, dict] = {}
    servers = {name: Server(env, command=command) for name, command in CANDIDATES.items()}
    with room_for_sockets(4 * FLOOD * len(servers)), ExitStack() as running:
        for server in servers.values():
            running.enter_context(server)
        for name, server in servers.items():
            results[name] = {"attacks": under_attack(server, big_id, env["BENCH_TOKEN"])}
        runs = {}
        for number, (name, server) in enumerate(servers.items()):
            runs[f"{name}|thumbnail"] = _get(f"{server.url}/image/{small_id}/thumbnail")
            runs[f"{name}|original"] = _get(f"{server.url}/image/{small_id}")
            runs[f"{name}|upload"] = _uploads(server.url, headers, pictures, number)
        rates = in_turns(ROUNDS, **runs)
    return _rows(results, rates)


def _get(url: str):
    return lambda _round: wrk(url, seconds=SECONDS)


def _uploads(url: str, headers: dict, pictures: Path, candidate: int):
    def run(round_number: int) -> float:
        first = (candidate * ROUNDS + round_number) * UPLOADS_PER_ROUND
        return wrk(
            f"{url}/image/upload",
            seconds=SECONDS,
            script=UPLOAD_SCRIPT,
            headers=headers,
            connections=8,
            env={
                "UPLOADS": str(pictures),
                "UPLOAD_FIRST": str(first),
                "UPLOAD_COUNT": str(UPLOADS_PER_ROUND),
            },
        )

    return run


def _rows(results: dict[str, dict], rates: dict[str, float]) -> list[Row]:
    """Per candidate: the worst probe of each attack (against the 2 s limit),
    then its rates against those of the first candidate (gthread, the old setup)."""
    rows = []
    first = next(iter(results))
    for name, result in results.items():
        for (kind, count), times in result["attacks"].items():
            answered = sum(t < 2.0 for t in times)
            rows.append(
                Row(
                    12,
                    f"{name}: /health during {count:,} {kind} clients, worst of {PROBES}",
                    f"{max(times):.3f} s ({answered}/{len(times)} answered)",
                    "limit 2.0 s",
                    max(times) / 2.0,
                    "<= 0.5",
                )
            )
        for what in ("thumbnail", "original", "upload"):
            ours, theirs = rates[f"{name}|{what}"], rates[f"{first}|{what}"]
            rows.append(
                Row(
                    12,
                    f"{name}: {what} req/s",
                    f"{ours:.0f}/s",
                    f"gthread {theirs:.0f}/s",
                    ours / theirs,
                    "",
                )
            )
    return rows
