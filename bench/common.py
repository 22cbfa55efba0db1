"""What every benchmark needs: servers, timers, the test photo, a token, wrk."""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATA = Path(__file__).resolve().parent / "data"
CAMERA_PHOTO = DATA / "Kleiber_by_Lukas_Baubkus.jpg"


@dataclass
class Row:
    """One line of the table: our figure, its baseline, the ratio and the goal."""

    number: int
    figure: str
    ours: str
    baseline: str
    ratio: float
    goal: str  # e.g. "<= 1.3", ">= 0.8", or "" for informational rows

    @property
    def met(self) -> str:
        if not self.goal:
            return "info"
        sign, limit = self.goal.split()
        ok = self.ratio <= float(limit) if sign == "<=" else self.ratio >= float(limit)
        return "yes" if ok else "NO"


def median_seconds(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def camera_jpeg(folder: Path) -> Path:
    """A 24-megapixel camera-like JPEG (6000x4000, baseline, quality 92), made
    from the real 20 MP photo in bench/data."""
    path = folder / "camera-24mp.jpg"
    if not path.exists():
        with Image.open(CAMERA_PHOTO) as photo:
            photo.resize((6000, 4000), Image.Resampling.BICUBIC).save(path, quality=92)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The server `make run` starts, serving on 127.0.0.1 with the production
    settings of gunicorn.conf.py (workers, threads, allocator) unless `config`
    says otherwise; or any other server `command` ("{port}" in it is the port)."""

    def __init__(
        self,
        env: dict[str, str],
        *,
        config: Path = ROOT / "gunicorn.conf.py",
        workers: int = 2,
        threads: int = 4,
        command: list[str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **env,
            "PORT": str(self.port),
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads),
        }
        command = command or [str(BIN / "gunicorn"), "--config", str(config)]
        self.command = [part.format(port=self.port) for part in command]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/health", timeout=2)
                return self
            except requests.RequestException:
                time.sleep(0.1)
        self.__exit__()
        self.log.seek(0)
        raise RuntimeError(f"server did not start: {self.log.read()[-2000:].decode()}")

    def __exit__(self, *_exc) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]


def app_env(folder: Path, database_url: str | None = None) -> dict[str, str]:
    """Settings for our app: SQLite and storage in `folder`, migrated, with a token."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        "DATABASE_URL": database_url or f"sqlite:///{folder / 'bench.sqlite3'}",
        "FILE_STORAGE_LOCATION": str(folder / "storage"),
        "INSTANCE_PATH": str(folder),
        "UPLOAD_RATE_LIMIT": "1000000/minute",
    }
    flask = [str(BIN / "flask"), "--app", "image_repo"]
    subprocess.run(
        [*flask, "db", "upgrade"], env={**os.environ, **env}, check=True, capture_output=True
    )
    created = subprocess.run(
        [*flask, "users", "create", "bench"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    )
    env["BENCH_TOKEN"] = created.stdout.strip()
    return env


def bearer(env: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {env['BENCH_TOKEN']}"}


def wrk_command(
    url: str,
    *,
    seconds: int = 5,
    connections: int = 16,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
) -> list[str]:
    """wrk's command line. Every request comes on a connection of its own, as
    from a proxy in front of gunicorn: a keep-alive connection stays with the
    worker that accepted it, and one worker often accepts nearly all of wrk's,
    so that a run measures one worker of two (seen here in a third of the runs).
    """
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency"]
    for name, value in {"Connection": "close", **(headers or {})}.items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(script)]
    return [*command, url]


def wrk_rate(output: str, seconds: int) -> float:
    """Requests per second in wrk's `output`; any failed request is an error."""
    total = int(re.search(r"(\d+) requests in", output).group(1))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if failed or (errors and any(int(n) for n in errors.groups())):
        raise RuntimeError(f"wrk saw failures:\n{output}")
    return total / seconds


def wrk(url: str, **options) -> float:
    """Requests per second that wrk measured (see wrk_latency)."""
    return wrk_latency(url, **options)[0]


def wrk_latency(
    url: str,
    *,
    seconds: int = 5,
    connections: int = 16,
    script: Path | None = None,
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[float, float]:
    """Requests per second that wrk measured, and its 99th percentile of
    latency in seconds (see wrk_command and wrk_rate)."""
    output = subprocess.run(
        wrk_command(url, seconds=seconds, connections=connections, script=script, headers=headers),
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout
    number, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE).groups()
    return wrk_rate(output, seconds), float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def thumbnail_file(storage: Path, sha512: str, size: int | str, extension: str = "jpg") -> Path:
    """Where the service keeps a thumbnail it has made (deleted: the next request makes it)."""
    return storage / "thumbnails" / sha512[:2] / sha512[2:4] / f"{sha512}-{size}.{extension}"


def preview_file(storage: Path, sha512: str) -> Path:
    """Where the service keeps a big picture's preview, which thumbnails are made
    from (deleted: they are made from the original, as for a picture stored
    before previews)."""
    return thumbnail_file(storage, sha512, "preview")
