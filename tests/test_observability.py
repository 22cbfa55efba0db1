"""Request ids, structured logs and Prometheus metrics, in process and on the real server."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from fake_gemini import API_KEY, image
from prometheus_client.parser import text_string_to_metric_families
from support import assert_problem, ended_job, generate, jpeg, png, upload

from image_repo import create_app

REQUEST_COUNT = "image_repo_http_request_duration_seconds_count"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def samples(text: str) -> dict[tuple, float]:
    """{(name, (("label", "value"), ...)): value} of a /metrics answer."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def metrics_text(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


# Request ids


def test_every_answer_carries_a_new_request_id(anonymous):
    first = anonymous.get("/health")
    second = anonymous.get("/image/999")
    for response in (first, second):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_a_sane_client_request_id_is_echoed(anonymous):
    response = anonymous.get("/health", headers={"X-Request-ID": "checkout-7f3a:42"})
    assert response.headers["X-Request-ID"] == "checkout-7f3a:42"


@pytest.mark.parametrize("sent", ["two words", "x" * 201, "naïve", "", 'a"b', "<script>"])
def test_an_unfit_client_request_id_is_replaced(anonymous, sent):
    response = anonymous.get("/health", headers={"X-Request-ID": sent})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_problem_bodies_name_the_request_id(client):
    response = client.get("/image/999", headers={"X-Request-ID": "trace-me"})
    body = assert_problem(response, 404)
    assert body["request_id"] == "trace-me"
    refused = upload(client, b"not a picture", "notes.txt")
    assert assert_problem(refused, 415)["request_id"] == refused.headers["X-Request-ID"]


# Logs


def test_json_log_lines_of_a_request_and_of_the_job_it_started(live_server, tmp_path, token):
    server = live_server(LOG_FORMAT="json")
    headers = {**bearer(token), "X-Request-ID": "make-a-lighthouse"}

    submitted = requests.post(
        f"{server.url}/image/generate", json={"prompt": "a lighthouse"}, headers=headers
    )
    assert submitted.status_code == 202
    assert submitted.headers["X-Request-ID"] == "make-a-lighthouse"
    job = requests.get(
        f"{server.url}{submitted.headers['Location']}?wait=20", headers=bearer(token)
    ).json()
    assert job["status"] == "succeeded"

    lines = wait_for_log_lines(tmp_path / "server.log", "make-a-lighthouse", count=2)
    access = next(line for line in lines if line.get("path") == "/image/generate")
    assert access["method"] == "POST"
    assert access["status"] == 202
    assert access["user"] == "alice"
    assert access["duration_ms"] >= 0
    assert access["level"] == "INFO"
    assert {"time", "logger", "message"} <= set(access)
    [finished] = [line for line in lines if line.get("job_id") == job["id"]]
    assert "succeeded" in finished["message"]


def wait_for_log_lines(log: Path, request_id: str, count: int) -> list[dict]:
    """The server's log lines of `request_id`, once there are `count`; every
    line of the log must be one JSON object."""
    deadline = time.monotonic() + 10
    while True:
        parsed = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        ours = [line for line in parsed if line.get("request_id") == request_id]
        if len(ours) >= count or time.monotonic() > deadline:
            return ours
        time.sleep(0.05)


def test_text_log_lines_are_readable_and_carry_the_request_id(live_server, tmp_path):
    server = live_server()
    requests.get(f"{server.url}/image/12345", headers={"X-Request-ID": "find-me-later"})
    deadline = time.monotonic() + 10
    while "find-me-later" not in (tmp_path / "server.log").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [line] = [
        line
        for line in (tmp_path / "server.log").read_text().splitlines()
        if "find-me-later" in line
    ]
    assert "GET /image/12345 404" in line
    assert not line.startswith("{")


def test_a_busy_server_writes_no_line_per_queued_request(live_server, tmp_path):
    """Requests that wait for a thread are normal under load: the log, at
    WARNING, stays quiet instead of growing by a line for each of them."""
    server = live_server(WEB_CONCURRENCY="1", GUNICORN_THREADS="1", LOG_LEVEL="WARNING")
    log = tmp_path / "server.log"
    lines_at_start = len(log.read_text().splitlines())
    styles = f"{server.url}/image/styles"
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda _: requests.get(styles, timeout=30), range(200)))
    assert all(answer.status_code == 200 for answer in answers)
    new_lines = log.read_text().splitlines()[lines_at_start:]
    assert len(new_lines) < 5, new_lines[:5]


# Metrics


def test_metrics_count_requests_served_by_every_worker_process(live_server, tmp_path):
    multiprocess_dir = tmp_path / "prometheus"
    server = live_server(WEB_CONCURRENCY="2", PROMETHEUS_MULTIPROC_DIR=str(multiprocess_dir))
    workers = worker_pids(server.process.pid, count=2)
    sent = 0
    # A new connection per request: the workers take turns accepting them.
    while sent < 400 and not workers <= workers_that_counted(multiprocess_dir):
        assert requests.get(f"{server.url}/image/styles").status_code == 200
        sent += 1
    assert workers <= workers_that_counted(multiprocess_dir), "one worker served everything"

    for _ in range(6):  # whichever worker answers the scrape, it counts all of them
        text = requests.get(f"{server.url}/metrics").text
        count = value(text, REQUEST_COUNT, endpoint="generate.styles", method="GET", status="200")
        assert count == sent


def worker_pids(master: int, count: int) -> set[str]:
    children = Path(f"/proc/{master}/task/{master}/children")
    deadline = time.monotonic() + 20
    while len(pids := set(children.read_text().split())) < count:
        assert time.monotonic() < deadline, f"{count} workers did not start"
        time.sleep(0.05)
    return pids


def workers_that_counted(folder: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[1] for path in folder.glob("histogram_*.db")}


def test_the_metrics_folder_is_emptied_when_the_server_starts(live_server, tmp_path):
    multiprocess_dir = tmp_path / "prometheus"
    multiprocess_dir.mkdir()
    (multiprocess_dir / "counter_1.db").write_bytes(b"left by a server that is gone")
    server = live_server(PROMETHEUS_MULTIPROC_DIR=str(multiprocess_dir))
    assert requests.get(f"{server.url}/metrics").status_code == 200
    assert not (multiprocess_dir / "counter_1.db").exists()


def test_requests_are_counted_by_endpoint_method_and_status(anonymous):
    before = metrics_text(anonymous)
    anonymous.get("/image/999")
    anonymous.get("/image/999")
    anonymous.get("/no/such/route")
    after = metrics_text(anonymous)

    def delta(**labels: str) -> float:
        return value(after, REQUEST_COUNT, **labels) - value(before, REQUEST_COUNT, **labels)

    assert delta(endpoint="images.download", method="GET", status="404") == 2
    assert delta(endpoint="unmatched", method="GET", status="404") == 1
    buckets = [
        s
        for (name, labels), s in samples(after).items()
        if name == "image_repo_http_request_duration_seconds_bucket"
        and ("endpoint", "images.download") in labels
    ]
    assert buckets, "latency is a histogram"


def test_uploads_are_counted_by_outcome_and_bytes(client):
    before = metrics_text(client)
    picture = jpeg(seed=1234)
    assert upload(client, picture).status_code == 201
    assert upload(client, picture).status_code == 200
    assert upload(client, b"not a picture", "notes.txt").status_code == 415
    assert upload(client, b"", "empty.jpg").status_code == 400
    after = metrics_text(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    uploads = "image_repo_uploads_total"
    assert delta(uploads, source="upload", outcome="stored", reason="") == 1
    assert delta(uploads, source="upload", outcome="duplicate", reason="") == 1
    assert delta(uploads, source="upload", outcome="refused", reason="unsupported_format") == 1
    assert delta(uploads, source="upload", outcome="refused", reason="empty_file") == 1
    assert delta("image_repo_upload_bytes_total", outcome="stored") == len(picture)
    assert delta("image_repo_ingest_duration_seconds_count", source="upload") == 4


def test_thumbnail_cache_hits_and_misses_are_counted(client):
    record = upload(client, jpeg(seed=77, size=(300, 200))).get_json()
    before = metrics_text(client)
    for _ in range(3):
        assert client.get(f"/image/{record['id']}/thumbnail?size=128").status_code == 200
    after = metrics_text(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("image_repo_thumbnail_cache_total", result="miss") == 1
    assert delta("image_repo_thumbnail_cache_total", result="hit") == 2
    assert delta("image_repo_thumbnail_duration_seconds_count") == 1


def test_jobs_are_counted_by_state_with_their_queue_wait(client):
    before = metrics_text(client)
    job = ended_job(client, generate(client, prompt="a quiet harbour").headers["Location"])
    after = metrics_text(client)
    assert job["status"] == "succeeded"
    assert value(after, "image_repo_jobs", state="succeeded") >= 1
    finished = (
        "image_repo_jobs_finished_total",
        {"backend": "local", "status": "succeeded", "error": ""},
    )
    assert value(after, finished[0], **finished[1]) - value(before, finished[0], **finished[1]) == 1
    waits = "image_repo_job_queue_wait_seconds_count"
    assert value(after, waits) - value(before, waits) == 1
    runs = "image_repo_generation_duration_seconds_count"
    assert (
        value(after, runs, backend="local", status="succeeded")
        - value(before, runs, backend="local", status="succeeded")
        == 1
    )


def test_database_errors_are_counted(tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "mysql+pymysql://root@127.0.0.1:1/none",
            "FILE_STORAGE_LOCATION": str(tmp_path / "storage"),
        }
    )
    unreachable = app.test_client()
    before = metrics_text(unreachable)
    assert unreachable.get("/health").status_code == 503
    after = metrics_text(unreachable)
    errors = "image_repo_database_errors_total"
    assert value(after, errors, error="OperationalError") > value(
        before, errors, error="OperationalError"
    )


def test_metrics_can_be_turned_off(make_app):
    assert make_app(METRICS_ENABLED=False).test_client().get("/metrics").status_code == 404


def test_metrics_behind_a_token(make_app):
    client = make_app(METRICS_TOKEN="s3cret-scraper").test_client()
    assert_problem(client.get("/metrics"), 401)
    assert_problem(client.get("/metrics", headers=bearer("wrong")), 401)
    assert client.get("/metrics", headers=bearer("s3cret-scraper")).status_code == 200


def test_metrics_are_not_in_the_openapi_spec(anonymous):
    assert "/metrics" not in anonymous.get("/openapi.json").get_json()["paths"]


def test_the_oldest_queued_job_is_timed_from_the_database(make_client, fake_gemini):
    slow = image(png(seed=21))
    slow.delay = 1.5
    fake_gemini.script(slow)
    client = make_client(
        GENERATION_THREADS=1,
        GEMINI_API_KEY=API_KEY,
        GEMINI_BASE_URL=fake_gemini.url,
        GENERATION_BACKEND="gemini",
    )
    assert value(metrics_text(client), "image_repo_oldest_queued_job_seconds") == 0
    running = generate(client, prompt="the first").headers["Location"]
    waiting = generate(client, prompt="the second").headers["Location"]  # one thread: it waits
    time.sleep(0.5)
    text = metrics_text(client)
    assert value(text, "image_repo_jobs", state="queued") == 1
    assert value(text, "image_repo_jobs", state="running") == 1
    assert 0.4 < value(text, "image_repo_oldest_queued_job_seconds") < 3
    ended_job(client, running)
    ended_job(client, waiting)
    assert value(metrics_text(client), "image_repo_oldest_queued_job_seconds") == 0
