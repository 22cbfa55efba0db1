"""Faults around the service: the database going away, the disk filling up."""

from __future__ import annotations

import socket
import time

import pytest
import requests
from fake_gemini import API_KEY, image
from support import (
    PROBLEM_JSON,
    assert_problem,
    ended_job,
    generate,
    jpeg,
    png,
    stored_files,
    tmpfs,
    upload,
)
from tcp_proxy import TcpProxy

from image_repo import create_app


def test_database_down_gives_503_and_the_same_process_recovers(
    live_server, migrated_database, storage_dir, token, request
):
    if request.config.getoption("--db") != "mysql":
        pytest.skip("an embedded SQLite database cannot be cut off from the server")
    proxy = TcpProxy(("127.0.0.1", 3306))
    server = live_server(
        DATABASE_URL=migrated_database.replace("127.0.0.1:3306", f"127.0.0.1:{proxy.port}")
    )
    headers = {"Authorization": f"Bearer {token}"}

    def send(seed: int) -> requests.Response:
        files = {"image": ("photo.jpg", jpeg(seed=seed), "image/jpeg")}
        return requests.post(f"{server.url}/image/upload", files=files, headers=headers, timeout=30)

    first = send(1)
    assert first.status_code == 201
    files_before = stored_files(storage_dir)
    pid = server.process.pid

    proxy.cut()
    try:
        refused = send(2)
        health = requests.get(f"{server.url}/health", timeout=30)
        download = requests.get(f"{server.url}{first.headers['Location']}", timeout=30)
    finally:
        proxy.restore()

    for response in (refused, download):
        assert response.status_code == 503
        assert response.headers["Content-Type"] == PROBLEM_JSON
        assert int(response.headers["Retry-After"]) > 0
    assert health.status_code == 503
    assert health.json()["database"]["status"] == "unavailable"
    assert stored_files(storage_dir) == files_before  # nothing from the refused upload

    deadline = time.monotonic() + 20
    while requests.get(f"{server.url}/health", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.2)
    assert send(2).status_code == 201
    assert requests.get(f"{server.url}{first.headers['Location']}", timeout=30).status_code == 200
    assert server.process.pid == pid and server.process.poll() is None


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs: a disk that really fills up."""
    with tmpfs(tmp_path / "tiny", "256k") as mountpoint:
        yield mountpoint


def test_a_full_disk_gives_507_and_leaves_nothing(migrated_database, tiny_disk, token, query):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": migrated_database,
            "FILE_STORAGE_LOCATION": str(tiny_disk),
        }
    )
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    too_big = upload(client, jpeg(size=(512, 512), quality=100))

    assert_problem(too_big, 507, detail_has="No space left")
    assert query("SELECT COUNT(*) FROM images") == [(0,)]
    assert stored_files(tiny_disk) == []
    small = upload(client, jpeg(size=(32, 32)))
    assert small.status_code == 201  # room again: the service carries on


def test_a_slow_generation_backend_times_out_and_the_server_stays_responsive(
    live_server, fake_gemini, token
):
    slow = image(png())
    slow.delay = 30  # far past the timeout
    fake_gemini.script(slow)
    server = live_server(
        GEMINI_API_KEY=API_KEY,
        GEMINI_BASE_URL=fake_gemini.url,
        GENERATION_BACKEND="gemini",
        GEMINI_TIMEOUT="2",
        GEMINI_ATTEMPTS="2",
        GEMINI_RETRY_DELAY="0.1",
    )
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    jobs = [
        session.post(f"{server.url}/image/generate", json={"prompt": f"a kite {n}"}, timeout=10)
        for n in range(4)
    ]
    assert [job.status_code for job in jobs] == [202] * 4

    while_stuck = []
    for _ in range(10):  # every job thread is waiting on the backend now
        started = time.monotonic()
        assert session.get(f"{server.url}/image/list", timeout=10).status_code == 200
        while_stuck.append(time.monotonic() - started)
        time.sleep(0.1)
    ended = [
        session.get(f"{server.url}{job.headers['Location']}?wait=30", timeout=40).json()
        for job in jobs
    ]

    assert max(while_stuck) < 1.0
    assert {(job["status"], job["error"]["code"]) for job in ended} == {("failed", "timeout")}


def test_a_generation_backend_that_is_down_fails_the_job_clearly(make_client):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{sock.getsockname()[1]}"
    client = make_client(
        GEMINI_API_KEY=API_KEY,
        GEMINI_BASE_URL=nowhere,
        GENERATION_BACKEND="gemini",
        GEMINI_ATTEMPTS=2,
        GEMINI_RETRY_DELAY=0.01,
    )

    job = ended_job(client, generate(client, prompt="a kite").location)

    assert (job["status"], job["error"]["code"]) == ("failed", "backend_unavailable")
