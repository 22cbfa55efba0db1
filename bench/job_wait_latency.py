"""How soon does `GET /image/jobs/<id>?wait=` answer after its job ends? Figures, not pass/fail.

Two cases, with the local backend on a scratch SQLite database:
- here: the job runs on the thread pool of the process that serves the wait
  (woken by an in-process event);
- elsewhere: the job runs in a gunicorn worker, the wait is served by this
  process (noticed by the shared database poll, JOB_POLL_INTERVAL).

Latency is "answer in hand" minus the job's `finished_at`.

    .venv/bin/python bench/job_wait_latency.py [jobs per case, default 30]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests
from flask_migrate import upgrade

from image_repo import accounts, create_app

ROOT = Path(__file__).resolve().parent.parent
PORT = int(os.environ.get("BENCH_PORT", "5093"))


def latency(client, location: str) -> float:
    job = client.get(f"{location}?wait=10").get_json()
    received = datetime.now(UTC)
    assert job["status"] == "succeeded", job
    return (received - datetime.fromisoformat(job["finished_at"])).total_seconds() * 1000


def report(case: str, figures: list[float]) -> None:
    figures.sort()
    print(
        f"{case:>9}: n={len(figures)}  median {statistics.median(figures):6.1f} ms  "
        f"p90 {figures[int(len(figures) * 0.9) - 1]:6.1f} ms  max {figures[-1]:6.1f} ms"
    )


def main(count: int) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bench-wait-"))
    settings = {
        "DATABASE_URL": f"sqlite:///{scratch / 'bench.sqlite3'}",
        "FILE_STORAGE_LOCATION": str(scratch / "storage"),
        "GENERATION_RATE_LIMIT": "100000/minute",
    }
    os.environ.update(settings)
    app = create_app()
    with app.app_context():
        upgrade()
        _, token = accounts.create_user("bench")
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    run = uuid.uuid4().hex[:8]

    here = []
    for n in range(count):
        response = client.post("/image/generate", json={"prompt": f"here {run} {n}"})
        here.append(latency(client, response.location))
    report("here", here)

    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "--config", "gunicorn.conf.py"],
        cwd=ROOT,
        env={**os.environ, "PORT": str(PORT), "WEB_CONCURRENCY": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{PORT}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        elsewhere = []
        for n in range(count):
            response = requests.post(
                f"{url}/image/generate",
                json={"prompt": f"elsewhere {run} {n}"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            elsewhere.append(latency(client, response.headers["Location"]))
        report("elsewhere", elsewhere)
    finally:
        server.terminate()
        server.wait()
        app.extensions["image_repo.runner"].shutdown()
        shutil.rmtree(scratch)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
