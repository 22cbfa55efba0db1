"""Figure 7: a local generation job end to end, and how soon `?wait=` answers.

End to end is POST /image/generate until `GET /image/jobs/<id>?wait=` answers
"succeeded", against gunicorn (jobs on the worker's thread pool); the baseline
is the local backend's bare `generate()` of the same prompts. The wait latency
is the moment the answer is in hand minus the job's `finished_at`, with the
wait served by the process that ran the job (woken at once) and by another
server on the same database and storage (which notices within one poll).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from common import Row, Server, app_env, bearer, ms

from image_repo.generation.backends import Options
from image_repo.generation.backends.local import MODEL, LocalBackend

JOBS = 30
WAIT_GOAL = 0.050


def measure(folder: Path) -> list[Row]:
    prompts = [f"a lighthouse at dusk, take {n}" for n in range(JOBS)]
    backend = LocalBackend()
    bare = []
    for prompt in prompts:
        started = time.perf_counter()
        backend.generate(prompt, model=MODEL, options=Options())
        bare.append(time.perf_counter() - started)

    env = app_env(folder / "generation") | {"GENERATION_RATE_LIMIT": "100000/minute"}
    with Server(env, workers=1) as runs_jobs, Server(env, workers=1) as elsewhere:
        session = requests.Session()
        session.headers.update(bearer(env))
        here = [job(session, runs_jobs.url, runs_jobs.url, prompt) for prompt in prompts]
        there = [job(session, runs_jobs.url, elsewhere.url, f"{p}, again") for p in prompts]
    bare_median = statistics.median(bare)
    ours_median = statistics.median(total for total, _ in here)
    rows = [
        Row(
            7,
            "local generation job, POST to succeeded",
            ms(ours_median),
            f"bare generate() {ms(bare_median)}",
            ours_median / bare_median,
            "",
        )
    ]
    for case, jobs in (("the same process", here), ("another process", there)):
        worst = max(latency for _, latency in jobs)
        rows.append(
            Row(
                7,
                f"?wait= answer after the job ends, {case} (worst of {JOBS})",
                ms(worst),
                f"goal {ms(WAIT_GOAL)}",
                worst / WAIT_GOAL,
                "<= 1.0",
            )
        )
    return rows


def job(session: requests.Session, post_to: str, wait_on: str, prompt: str) -> tuple[float, float]:
    """(POST to succeeded, answer in hand minus `finished_at`) in seconds, for
    a job queued on `post_to` and waited for on `wait_on`."""
    started = time.perf_counter()
    queued = session.post(f"{post_to}/image/generate", json={"prompt": prompt})
    finished = session.get(f"{wait_on}{queued.headers['Location']}?wait=30").json()
    answered = datetime.now(UTC)
    total = time.perf_counter() - started
    assert finished["status"] == "succeeded", finished
    return total, (answered - datetime.fromisoformat(finished["finished_at"])).total_seconds()
