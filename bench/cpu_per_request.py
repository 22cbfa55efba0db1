"""Worker CPU time per request: this checkout against an earlier commit.

    .venv/bin/python bench/cpu_per_request.py 66b91c0 [rounds]

Serves a cached thumbnail and an original, and takes uploads of distinct
~100 KB JPEGs (figure 5's), from both versions side by side (gunicorn, 2
workers, gunicorn.conf.py of each), drives each with wrk in turns, and
divides the CPU time its workers used by the requests they answered. Unlike
requests per second, CPU per request hardly moves when the machine is busy
with other work, so a few percent of added cost shows.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import requests
from common import ROOT, Server, app_env, bearer, wrk
from serving import UPLOAD_SCRIPT, photo

TICK = os.sysconf("SC_CLK_TCK")
KINDS = ("thumbnail", "original", "upload")
SECONDS = 3
# Distinct pictures per upload run: more than a run stores.
UPLOADS_PER_RUN = 500


def worker_cpu_seconds(server: Server) -> float:
    total = 0
    for pid in server.worker_pids():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def main() -> None:
    revision = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    with tempfile.TemporaryDirectory(prefix="image-repo-cpu-") as folder:
        folder = Path(folder)
        earlier = folder / "earlier"
        earlier.mkdir()
        archive = subprocess.run(
            ["git", "archive", revision], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(earlier)], input=archive, check=True)
        uploads = pictures(folder / "uploads", count=2 * rounds * UPLOADS_PER_RUN)
        envs = {
            "earlier": {
                **app_env(folder / "e"),
                "PYTHONPATH": f"{earlier / 'src'}:{earlier}",
            },
            "this": app_env(folder / "t"),
        }
        configs = {"earlier": earlier / "gunicorn.conf.py", "this": ROOT / "gunicorn.conf.py"}
        with (
            Server(envs["earlier"], config=configs["earlier"]) as before,
            Server(envs["this"], config=configs["this"]) as after,
        ):
            servers = {"earlier": before, "this": after}
            urls = {name: files(server, envs[name]) for name, server in servers.items()}
            cost: dict[tuple[str, str], list[float]] = {
                (name, kind): [] for name in servers for kind in KINDS
            }
            runs = 0
            for round_number in range(rounds):
                order = ("earlier", "this") if round_number % 2 == 0 else ("this", "earlier")
                for kind in KINDS:
                    for name in order:
                        options = {}
                        if kind == "upload":
                            options = {
                                "script": UPLOAD_SCRIPT,
                                "headers": bearer(envs[name]),
                                "env": {
                                    "UPLOADS": str(uploads),
                                    "UPLOAD_FIRST": str(runs * UPLOADS_PER_RUN),
                                    "UPLOAD_COUNT": str(UPLOADS_PER_RUN),
                                },
                            }
                            runs += 1
                        started = worker_cpu_seconds(servers[name])
                        # Each request on a connection of its own; any failure raises.
                        rate = wrk(urls[name][kind], seconds=SECONDS, connections=8, **options)
                        used = worker_cpu_seconds(servers[name]) - started
                        cost[(name, kind)].append(used / (rate * SECONDS) * 1e6)
    for kind in KINDS:
        then = statistics.median(cost[("earlier", kind)])
        now = statistics.median(cost[("this", kind)])
        print(
            f"{kind}: worker CPU per request {then:.0f} us at {revision}, "
            f"{now:.0f} us now: {now / then:.3f}"
        )


def pictures(folder: Path, count: int) -> Path:
    """`count` distinct ~100 KB JPEGs (640x480), as upload.lua reads them."""
    folder.mkdir()
    for seed in range(count):
        (folder / f"{seed:05d}.jpg").write_bytes(photo(640, 480, seed=1000 + seed))
    return folder


def files(server: Server, env: dict[str, str]) -> dict[str, str]:
    """URLs of a cached thumbnail and of an original (~200 KB) on `server`, and
    of its uploads."""
    record = requests.post(
        f"{server.url}/image/upload",
        files={"image": ("p.jpg", photo(960, 720, seed=1))},
        headers=bearer(env),
        timeout=30,
    ).json()
    thumbnail = f"{server.url}/image/{record['id']}/thumbnail"
    requests.get(thumbnail, timeout=30)
    return {
        "thumbnail": thumbnail,
        "original": f"{server.url}/image/{record['id']}",
        "upload": f"{server.url}/image/upload",
    }


if __name__ == "__main__":
    main()
