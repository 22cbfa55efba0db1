"""Figure 8: the files in a bucket against the same on local disk.

The bucket is on moto's S3 server on loopback (MinIO is neither on PyPI nor
in Debian here), so every figure includes moto's own cost: a Python server,
far slower than MinIO or S3, on the same two cores as everything else.

- ingest of a 24 MP JPEG, bucket against disk, in turns;
- a cached thumbnail through the app (wrk), bucket against disk, in turns;
- with FILE_OFFLOAD=redirect, the app's own CPU per request (its workers'
  user+system time over a wrk run) against streaming the same original from
  the bucket: a 302 to a presigned URL instead of the bytes.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import requests
from common import Row, Server, app_env, bearer, camera_jpeg, free_port, ms, wrk
from serving import BASELINE_CONFIG, in_turns, photo

ROUNDS = 7
SECONDS = 2
BUCKET = "bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@contextmanager
def moto_bucket(folder: Path) -> Iterator[dict[str, str]]:
    """moto's S3 server with a bucket; yields the settings that reach it."""
    port = free_port()
    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with open(folder / "moto.log", "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(env["AWS_ENDPOINT_URL"], timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        s3 = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        s3.create_bucket(Bucket=BUCKET)
        yield {**env, "FILE_STORAGE_LOCATION": f"s3://{BUCKET}/repo"}
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(folder: Path) -> list[Row]:
    work = folder / "object-storage"
    work.mkdir()
    with moto_bucket(work) as bucket:
        disk_env = app_env(work / "disk")
        bucket_env = {**app_env(work / "bucket"), **bucket}
        bare_env = {**bucket, "BASELINE_FOLDER": str(work), "BASELINE_BUCKET": BUCKET}
        with Server(disk_env) as disk, Server(bucket_env) as on_bucket:
            rows = ingest(work, disk, on_bucket, bearer(disk_env), bearer(bucket_env))
            with Server(bare_env, config=BASELINE_CONFIG) as bare:
                rows += thumbnails(disk, on_bucket, bare, bearer(disk_env), bearer(bucket_env))
        with (
            Server(bucket_env) as streaming,
            Server({**bucket_env, "FILE_OFFLOAD": "redirect"}) as redirecting,
        ):
            rows += redirects(streaming, redirecting, bearer(bucket_env))
    return rows


def ingest(folder: Path, disk: Server, bucket: Server, disk_token, bucket_token) -> list[Row]:
    data = camera_jpeg(folder).read_bytes()

    def upload(server: Server, token: dict) -> float:
        started = time.perf_counter()
        answer = requests.post(
            f"{server.url}/image/upload",
            files={"image": ("camera.jpg", data)},
            headers=token,
            timeout=120,
        )
        took = time.perf_counter() - started
        assert answer.status_code == 201, answer.text
        requests.delete(f"{server.url}/image/{answer.json()['id']}", headers=token, timeout=60)
        return took

    upload(disk, disk_token), upload(bucket, bucket_token)  # warm both up
    times: dict[str, list[float]] = {"disk": [], "bucket": []}
    for _ in range(ROUNDS):
        times["disk"].append(upload(disk, disk_token))
        times["bucket"].append(upload(bucket, bucket_token))
    on_disk, on_bucket = (statistics.median(times[name]) for name in ("disk", "bucket"))
    return [
        Row(
            8,
            "ingest 24 MP JPEG into the bucket (moto)",
            ms(on_bucket),
            f"on local disk {ms(on_disk)}",
            on_bucket / on_disk,
            "<= 1.25",
        )
    ]


def thumbnails(disk: Server, bucket: Server, bare: Server, disk_token, bucket_token) -> list[Row]:
    """The thumbnail through the app from disk and from the bucket, and a bare
    Flask app's one GetObject of the same object: moto's own ceiling."""
    original = photo(960, 720, seed=8)
    urls = {}
    for name, server, token in (("disk", disk, disk_token), ("bucket", bucket, bucket_token)):
        record = requests.post(
            f"{server.url}/image/upload", files={"image": ("p.jpg", original)}, headers=token
        ).json()
        urls[name] = f"{server.url}/image/{record['id']}/thumbnail"
        requests.get(urls[name], timeout=30).raise_for_status()  # cached from now on
    sha = record["sha512"]
    urls["bare"] = f"{bare.url}/bucket/repo/thumbnails/{sha[:2]}/{sha[2:4]}/{sha}-256.jpg"
    requests.get(urls["bare"], timeout=30).raise_for_status()
    runs = {name: (lambda _, url=url: wrk(url, seconds=SECONDS)) for name, url in urls.items()}
    rates = in_turns(ROUNDS, **runs)
    return [
        Row(
            8,
            "a cached thumbnail from the bucket (req/s)",
            f"{rates['bucket']:.0f}/s",
            f"from local disk {rates['disk']:.0f}/s",
            rates["bucket"] / rates["disk"],
            ">= 0.7",
        ),
        Row(
            8,
            "  the same against a bare app's one GetObject from moto",
            f"{rates['bucket']:.0f}/s",
            f"bare {rates['bare']:.0f}/s",
            rates["bucket"] / rates["bare"],
            "",
        ),
    ]


def redirects(streaming: Server, redirecting: Server, token: dict) -> list[Row]:
    original = photo(960, 720, seed=9)
    record = requests.post(
        f"{streaming.url}/image/upload", files={"image": ("p.jpg", original)}, headers=token
    ).json()
    path = f"/image/{record['id']}"
    assert requests.get(f"{redirecting.url}{path}", allow_redirects=False).status_code == 302
    costs = {"stream": [], "redirect": []}
    for _ in range(ROUNDS):
        for name, server in (("stream", streaming), ("redirect", redirecting)):
            costs[name].append(cpu_per_request(server, f"{server.url}{path}"))
    stream, redirect = (statistics.median(costs[name]) for name in ("stream", "redirect"))
    return [
        Row(
            8,
            f"FILE_OFFLOAD=redirect: app CPU per request, {len(original) // 1000} KB original",
            ms(redirect),
            f"streaming it {ms(stream)}",
            redirect / stream,
            "<= 0.5",
        )
    ]


def cpu_per_request(server: Server, url: str) -> float:
    """Seconds of CPU the server's workers spend per request over a wrk run."""
    workers = server.worker_pids()
    before = sum(map(_cpu_seconds, workers))
    rate = wrk(url, seconds=SECONDS, connections=8)
    used = sum(map(_cpu_seconds, workers)) - before
    return used / (rate * SECONDS)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
