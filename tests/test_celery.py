"""The Celery runner: a real worker process (`celery -A image_repo.worker worker`)
and the real Redis broker at 127.0.0.1:6379.

Each test has a queue of its own on a Redis database of the suite's own
(TEST_REDIS_URL), so that parallel runs do not take each other's jobs.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
import requests
from fake_gemini import API_KEY, image
from support import PROBLEM_JSON, assert_problem, ended_job, generate, png
from webhook_receiver import SECRET, Receiver

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
ROOT = Path(__file__).resolve().parent.parent
WAKE_UP_BOUND = 0.25


@pytest.fixture
def broker() -> Iterator[dict[str, str]]:
    """CELERY_* settings for a queue of this test's own; the queue goes afterwards."""
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError as error:
        message = f"Redis at {REDIS_URL} is unreachable: {error}"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    queue = f"image-repo-test-{os.getpid()}-{secrets.token_hex(3)}"
    yield {"CELERY_BROKER_URL": REDIS_URL, "CELERY_QUEUE": queue}
    forget_queue(connection, queue)
    connection.close()


def forget_queue(connection: redis.Redis, queue: str) -> None:
    """Remove what this test's queue left in Redis: the queue, kombu's bindings,
    and messages a killed worker had taken (kombu would restore them in an hour).
    Rate limit counts expire with their window."""
    connection.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for tag, message in connection.hscan_iter("unacked"):
        if queue.encode() in message:
            connection.hdel("unacked", tag)
            connection.zrem("unacked_index", tag)


class Worker:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        celery = Path(sys.executable).with_name("celery")
        self.log = log
        with open(log, "ab") as output:
            self.process = subprocess.Popen(
                [
                    str(celery),
                    "-A",
                    "image_repo.worker",
                    "worker",
                    "--concurrency=2",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    f"--hostname={env['CELERY_QUEUE']}@%h",
                ],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while " ready." not in log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the worker did not start: {log.read_text()[-3000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """Die at once, pool processes and all."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Every test waits for its jobs to end: nothing is in hand, and a
        shutdown (cold or warm, about 2 s for a prefork pool) buys nothing."""
        if self.process.poll() is None:
            self.kill()


@pytest.fixture
def celery_worker(migrated_database, storage_dir, tmp_path, broker, make_app):
    """Start a worker on the test's database, storage and queue: `celery_worker(**env)`."""
    workers: list[Worker] = []
    make_app()  # empties the database when the test ends

    def start(**env: str) -> Worker:
        environment = {
            **os.environ,
            "DATABASE_URL": migrated_database,
            "FILE_STORAGE_LOCATION": str(storage_dir),
            **broker,
            "PYTHONUNBUFFERED": "1",  # its log lines reach the file as they happen
            **env,
        }
        worker = Worker(environment, tmp_path / "worker.log")
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def test_a_celery_worker_runs_the_job(celery_worker, broker, make_client, query):
    worker = celery_worker()
    client = make_client(**broker)

    response = generate(client, prompt="a lighthouse at dusk", style="watercolor")
    assert response.status_code == 202
    assert response.get_json()["status"] == "queued"
    job = ended_job(client, response.location)

    assert job["status"] == "succeeded", job
    assert query("SELECT source FROM images") == [("generated",)]
    assert client.get(job["image_url"]).mimetype == "image/png"
    assert f"image_repo.generate[{job['id']}] succeeded" in worker.log.read_text()


def test_wait_answers_as_soon_as_the_worker_ends_the_job(
    celery_worker, broker, make_client, fake_gemini
):
    gemini = {"GEMINI_API_KEY": API_KEY, "GEMINI_BASE_URL": fake_gemini.url}
    celery_worker(**gemini)
    client = make_client(**broker, **gemini)
    slow = image(png(seed=3))
    slow.delay = 0.3
    fake_gemini.script(slow)

    response = client.get(f"{generate(client, prompt='a tug', backend='gemini').location}?wait=20")
    received = datetime.now(UTC)

    job = response.get_json()
    assert job["status"] == "succeeded", job
    woke_up_after = (received - datetime.fromisoformat(job["finished_at"])).total_seconds()
    assert 0 <= woke_up_after < WAKE_UP_BOUND


def test_a_job_whose_worker_died_is_failed(celery_worker, broker, make_client, fake_gemini):
    gemini = {"GEMINI_API_KEY": API_KEY, "GEMINI_BASE_URL": fake_gemini.url}
    worker = celery_worker(JOB_STALE_AFTER="1", **gemini)
    client = make_client(JOB_STALE_AFTER=1, **broker, **gemini)
    slow = image(png(seed=4))
    slow.delay = 60
    fake_gemini.script(slow)
    location = generate(client, prompt="a lost ship", backend="gemini").location
    assert fake_gemini.received.wait(20)

    worker.kill()
    job = client.get(f"{location}?wait=10").get_json()

    assert (job["status"], job["error"]["code"]) == ("failed", "interrupted")


def test_a_broker_that_is_down_is_503_and_the_job_is_failed(make_client, query):
    client = make_client(CELERY_BROKER_URL="redis://127.0.0.1:9/0")  # nothing listens there

    response = generate(client, prompt="a lighthouse")

    assert response.mimetype == PROBLEM_JSON
    assert_problem(response, 503, detail_has="queue is unavailable")
    assert response.headers["Retry-After"]
    assert query("SELECT status, error_code FROM generation_jobs") == [
        ("failed", "queue_unavailable")
    ]


def test_the_rate_limit_holds_across_processes_through_the_brokers_redis(
    live_server, broker, token
):
    """Two gunicorn workers share one count: the broker's Redis holds it."""
    server = live_server(WEB_CONCURRENCY="2", RATELIMIT_KEY_PREFIX=broker["CELERY_QUEUE"], **broker)

    statuses = [
        requests.post(
            f"{server.url}/image/generate",
            json={"prompt": f"picture {n}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).status_code
        for n in range(11)
    ]

    assert statuses == [202] * 10 + [429]


def test_a_job_on_a_worker_keeps_its_request_id_and_tells_the_webhooks(
    celery_worker, broker, make_client
):
    receiver = Receiver().start()
    try:
        worker = celery_worker(LOG_FORMAT="json", WEBHOOK_URLS=receiver.url, WEBHOOK_SECRET=SECRET)
        client = make_client(**broker, WEBHOOK_URLS=[receiver.url], WEBHOOK_SECRET=SECRET)
        submitted = client.post(
            "/image/generate", json={"prompt": "a ferry"}, headers={"X-Request-ID": "ferry-42"}
        )
        job = ended_job(client, submitted.location)
        assert job["status"] == "succeeded", job

        # Told by the worker, through Celery tasks of its own.
        events = {event["type"]: event for event in receiver.events(2)}
        assert set(events) == {"image.created", "job.succeeded"}
        assert events["job.succeeded"]["data"]["image_id"] == job["image_id"]
        deadline = time.monotonic() + 10
        while True:
            lines = [
                json.loads(line)
                for line in worker.log.read_text().splitlines()
                if line.startswith("{")
            ]
            ours = [line for line in lines if line.get("request_id") == "ferry-42"]
            loggers = {line["logger"] for line in ours}
            if "image_repo.webhooks.delivery" in loggers or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert any(line.get("job_id") == job["id"] for line in ours), ours
        assert "image_repo.webhooks.delivery" in loggers, ours
    finally:
        receiver.close()
