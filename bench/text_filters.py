"""Figure 10: a flood of text-filter lists, and everyone else's downloads.

300,000 records are seeded (names like a real library's: camera files,
screenshots, phone pictures, a few words; "zz" in a handful of them) and
indexed, then the server that `make run` starts serves them. The figure is
the median time of a plain `GET /image/<id>` while 16 clients (wrk) flood
`GET /image/list?name=zz&limit=500`, against its median with no flood; and
against its median while the 16 clients flood a list as long without a text
filter (what answering costs, with nothing to find), and a list that finds
nothing at all (the least any flood costs). They take turns, several rounds
each. On SQLite and on MySQL (BENCH_MYSQL_URL).
"""

from __future__ import annotations

import random
import statistics
import subprocess
import time
from pathlib import Path

import requests
from common import CAMERA_PHOTO, Row, Server, app_env, bearer, ms, wrk_command, wrk_rate
from list_scaling import mysql_database
from PIL import Image
from seed import seed
from sqlalchemy import select

from image_repo import create_app, textsearch
from image_repo.models import Image as Record
from image_repo.models import db

RECORDS = 300_000
FLOOD = "/image/list?name=zz&limit=500"
EMPTY = "/image/list?owner=nobody&limit=500"
CLIENTS = 16
ROUNDS = 4
SECONDS = 4
PROBE_GAP = 0.02  # between probes: the probe is a client, not a second flood
GOAL = "<= 2.0"
PEER_GOAL = "<= 1.5"

WORDS = "beach holiday garden birthday sunset mountain river family party city snow cat dog"
WORDS = WORDS.split()


def library_name(n: int, chance: random.Random) -> str:
    """A file name as cameras, phones and people make them; 1 in 10,000 has "zz"."""
    kind = chance.random()
    if kind < 0.0001:
        return f"pizza-{n}.jpg"
    if kind < 0.4:
        return f"IMG_{n % 10_000:04d}.JPG"
    if kind < 0.6:
        return f"DSC{n % 100_000:05d}.jpg"
    if kind < 0.75:
        return f"PXL_2024{n % 12 + 1:02d}{n % 28 + 1:02d}_{n:09d}.jpg"
    if kind < 0.9:
        return f"Screenshot 2024-{n % 12 + 1:02d}-{n % 28 + 1:02d} at {n % 24}.{n % 60:02d}.png"
    return f"{chance.choice(WORDS)}-{chance.choice(WORDS)}-{n % 1000}.jpg"


def probe_p50(url: str, seconds: float) -> float:
    """Median time of GET `url` (a connection each), probing for `seconds`."""
    times = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = requests.get(url, headers={"Connection": "close"}, timeout=60)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
        time.sleep(PROBE_GAP)
    return statistics.median(times)


def seeded(env: dict[str, str]) -> None:
    """RECORDS records in the database of `env`, their names indexed."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "FILE_STORAGE_LOCATION": env["FILE_STORAGE_LOCATION"],
        }
    )
    with app.app_context():
        seed(RECORDS, library_name)
        names = db.session.execute(select(Record.id, Record.original_name).order_by(Record.id))
        textsearch.NAMES.add_all(db.session.connection(), names.all())
        db.session.commit()
        db.engine.dispose()


def probe_under_flood(server: Server, flood: str, probe: str) -> tuple[float, float]:
    """The probe's median while CLIENTS clients flood `flood`, and their rate."""
    seconds = SECONDS + 1
    command = wrk_command(server.url + flood, seconds=seconds, connections=CLIENTS)
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as clients:
        time.sleep(0.5)  # every client busy
        under_flood = probe_p50(probe, SECONDS)
        return under_flood, wrk_rate(clients.communicate()[0], seconds)


def measure_database(label: str, url: str | None, folder: Path) -> list[Row]:
    folder.mkdir(parents=True)
    env = app_env(folder, url)
    seeded(env)
    with Server(env) as server:
        probe = f"{server.url}/image/{uploaded_probe(server, env, folder)}"
        found = requests.get(server.url + FLOOD, timeout=60).json()["items"]
        # The peers: a list as long as the flood's, without a text filter; and
        # a list that reads one index entry and answers nothing.
        floods = [FLOOD, f"/image/list?limit={len(found)}", EMPTY]
        times: dict[str, list[float]] = {flood: [] for flood in ["idle", *floods]}
        rates: dict[str, list[float]] = {flood: [] for flood in floods}
        for _ in range(ROUNDS):
            times["idle"].append(probe_p50(probe, SECONDS))
            for flood in floods:
                spent, rate = probe_under_flood(server, flood, probe)
                times[flood].append(spent)
                rates[flood].append(rate)
    idle, text, same, empty = (statistics.median(times[key]) for key in ["idle", *floods])
    text_rate, same_rate, empty_rate = (statistics.median(rates[key]) for key in floods)
    return [
        Row(
            10,
            f"GET /image/<id> while {CLIENTS} clients flood name=zz ({len(found)} found, "
            f"{text_rate:.0f} lists/s), {label}, 300k records",
            ms(text),
            f"no flood {ms(idle)}",
            text / idle,
            GOAL,
        ),
        Row(
            10,
            f"  the same against a flood of lists as long, unfiltered ({same_rate:.0f}/s)",
            ms(text),
            f"that flood {ms(same)}",
            text / same,
            PEER_GOAL,
        ),
        Row(
            10,
            f"  a flood of lists that find nothing, owner=nobody ({empty_rate:.0f}/s)",
            ms(empty),
            f"no flood {ms(idle)}",
            empty / idle,
            "",
        ),
    ]


def uploaded_probe(server: Server, env: dict[str, str], folder: Path) -> int:
    """The id of a ~100 KB photo uploaded for the probe to download."""
    with Image.open(CAMERA_PHOTO) as photo:
        photo.thumbnail((960, 960))
        photo.save(folder / "probe.jpg", quality=85)
    return requests.post(
        f"{server.url}/image/upload",
        files={"image": ("probe.jpg", (folder / "probe.jpg").read_bytes())},
        headers=bearer(env),
        timeout=60,
    ).json()["id"]


def measure(folder: Path) -> list[Row]:
    rows = measure_database("SQLite", None, folder / "text-sqlite")
    with mysql_database() as url:
        if url is None:
            print("figure 8 on MySQL skipped: no MySQL reachable")
            return rows
        rows += measure_database("MySQL", url, folder / "text-mysql")
    return rows
