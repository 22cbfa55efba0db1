"""Jobs at run time: many at once, `?wait=` latency, and jobs whose process died."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests
from fake_gemini import API_KEY, image
from slow_clients import FLOOD, attack, probe
from support import generate, png

from image_repo.models import GenerationJob

# A job's end reaches a waiting request within this many seconds (measured
# figures are far lower; the margin is for a loaded CI machine).
WAKE_UP_BOUND = 0.25
# A request that waited as long as it was asked answers within this many
# seconds more: its whole round trip, queries and all, on a loaded machine
# (0.25 s of it was once seen on CI); far below the job's 30 s.
GIVE_UP_BOUND = 1.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gemini_settings(fake_gemini) -> dict[str, str]:
    return {
        "GEMINI_API_KEY": API_KEY,
        "GEMINI_BASE_URL": fake_gemini.url,
        "GENERATION_BACKEND": "gemini",
    }


def submit(server, token: str, prompt: str) -> requests.Response:
    """POST /image/generate to a live server."""
    return requests.post(
        f"{server.url}/image/generate",
        json={"prompt": prompt},
        headers=bearer(token),
        timeout=30,
    )


def slow_picture(seconds: float):
    reply = image(png(seed=11))
    reply.delay = seconds
    return reply


def woke_up_after(job: dict, received: datetime) -> float:
    """Seconds from the job's end to the waiting client having the answer."""
    return (received - datetime.fromisoformat(job["finished_at"])).total_seconds()


def test_many_jobs_submitted_at_once_all_end(live_server, token, query):
    server = live_server(GENERATION_RATE_LIMIT="1000/minute", GENERATION_THREADS="2")
    prompts = [f"a harbour, take {n}" for n in range(24)] + ["a harbour, take 0"] * 6
    start = threading.Barrier(len(prompts))

    def submit_at_once(prompt: str) -> requests.Response:
        start.wait()
        return submit(server, token, prompt)

    with ThreadPoolExecutor(len(prompts)) as pool:
        submitted = list(pool.map(submit_at_once, prompts))
    assert [response.status_code for response in submitted] == [202] * len(prompts)
    ended = [
        requests.get(
            f"{server.url}{response.headers['Location']}?wait=30", headers=bearer(token), timeout=40
        ).json()
        for response in submitted
    ]

    assert [job["status"] for job in ended] == ["succeeded"] * len(prompts), ended
    assert len({job["image_id"] for job in ended}) == 24
    assert sorted(job["duplicate"] for job in ended) == [False] * 24 + [True] * 6
    assert query("SELECT COUNT(*) FROM images") == [(24,)]
    assert query("SELECT status, COUNT(*) FROM generation_jobs GROUP BY status") == [
        ("succeeded", 30)
    ]


def test_wait_answers_as_soon_as_a_job_of_this_process_ends(make_client, fake_gemini):
    client = make_client(**gemini_settings(fake_gemini))
    fake_gemini.script(slow_picture(0.3))
    location = generate(client, prompt="a slow boat").location

    response = client.get(f"{location}?wait=10")
    received = datetime.now(UTC)

    job = response.get_json()
    assert job["status"] == "succeeded"
    assert 0 <= woke_up_after(job, received) < WAKE_UP_BOUND


def test_wait_answers_as_soon_as_a_job_of_another_process_ends(
    live_server, make_client, fake_gemini, token
):
    """The job runs in a gunicorn worker; the waiting request is served by another process."""
    server = live_server(WEB_CONCURRENCY="1", **gemini_settings(fake_gemini))
    fake_gemini.script(slow_picture(0.5))
    submitted = submit(server, token, "a far boat")
    client = make_client()

    response = client.get(f"{submitted.headers['Location']}?wait=10")
    received = datetime.now(UTC)

    job = response.get_json()
    assert job["status"] == "succeeded"
    assert 0 <= woke_up_after(job, received) < WAKE_UP_BOUND


def test_clients_waiting_on_a_job_do_not_stop_others_being_answered(
    live_server, fake_gemini, token
):
    """Three times as many `?wait=` requests as the server has threads, on a
    job that takes seconds (Gemini often does): other requests are answered
    meanwhile, and every waiter gets the job's end."""
    server = live_server(**gemini_settings(fake_gemini))
    fake_gemini.script(slow_picture(6))
    submitted = submit(server, token, "a long voyage")
    job_url = f"{server.url}{submitted.headers['Location']}?wait=30"

    def wait_for_the_job(_) -> dict:
        return requests.get(job_url, headers=bearer(token), timeout=40).json()

    with ThreadPoolExecutor(24) as pool:
        waiters = pool.map(wait_for_the_job, range(24))
        time.sleep(1)  # the waiters are in
        times = probe(server.url, rounds=3)
        ended = list(waiters)

    assert max(times) < 2.0, f"/health took {times} while 24 clients waited on a job"
    assert [job["status"] for job in ended] == ["succeeded"] * 24


def test_a_flood_of_connections_does_not_close_a_client_waiting_on_a_job(
    live_server, fake_gemini, token, many_sockets
):
    """A `?wait=` is a request being served however long it waits: when a
    flood of connections takes every place, it does not give up its own."""
    server = live_server(**gemini_settings(fake_gemini))
    fake_gemini.script(slow_picture(6))
    submitted = submit(server, token, "a long voyage")
    job_url = f"{server.url}{submitted.headers['Location']}?wait=30"

    with ThreadPoolExecutor(1) as pool:
        waiter = pool.submit(requests.get, job_url, headers=bearer(token), timeout=40)
        time.sleep(1.5)  # the waiter is in, and no longer new
        with attack(server.url, "idle", count=FLOOD):
            job = waiter.result().json()

    assert job["status"] == "succeeded"


def test_wait_gives_up_after_the_time_asked(make_client, fake_gemini):
    client = make_client(**gemini_settings(fake_gemini))
    fake_gemini.script(slow_picture(30))
    location = generate(client, prompt="a very slow boat").location
    assert fake_gemini.received.wait(10)

    started = datetime.now(UTC)
    job = client.get(f"{location}?wait=0.5").get_json()
    waited = (datetime.now(UTC) - started).total_seconds()

    assert (job["status"], job["stage"], job["finished_at"]) == ("running", "generating", None)
    assert 0.5 <= waited < 0.5 + GIVE_UP_BOUND


def test_jobs_of_a_process_that_died_are_failed_not_left_running(
    live_server, make_client, fake_gemini, token, app
):
    settings = gemini_settings(fake_gemini)
    server = live_server(
        WEB_CONCURRENCY="1", GENERATION_THREADS="1", JOB_STALE_AFTER="1", **settings
    )
    fake_gemini.script(slow_picture(60))  # the backend call never ends in time
    running, queued = (
        submit(server, token, prompt).headers["Location"] for prompt in ("first", "second")
    )
    assert fake_gemini.received.wait(10)
    client = make_client(JOB_STALE_AFTER=1)

    # Alive, its heartbeat keeps the job running past JOB_STALE_AFTER.
    alive = client.get(f"{running}?wait=1.5").get_json()
    assert alive["status"] == "running"
    assert client.get(queued).get_json()["status"] == "queued"

    server.kill()
    died = client.get(f"{running}?wait=10").get_json()
    never_ran = client.get(queued).get_json()

    for job in (died, never_ran):
        assert job["status"] == "failed"
        assert job["error"]["code"] == "interrupted"
        assert "submit it again" in job["error"]["message"]
    with app.app_context():
        assert (
            GenerationJob.query.filter(GenerationJob.status.in_(["queued", "running"])).count() == 0
        )
