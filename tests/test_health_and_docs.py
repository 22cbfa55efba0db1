"""/health, /openapi.json and /docs."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from support import PROBLEM_JSON, lock_held_elsewhere

from image_repo import create_app
from image_repo.health import HealthChecks
from image_repo.models import Repository


def test_health_reports_database_and_storage(client, request):
    response = client.get("/health")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == {"status": "ok", "detail": request.config.getoption("--db")}
    assert body["storage"]["status"] == "ok"
    assert "MiB free" in body["storage"]["detail"]


def test_a_burst_of_health_checks_costs_one_check(make_client, query):
    """/health writes the database and a probe in the store, and anyone may
    ask: within HEALTH_CHECK_INTERVAL a process answers with its last check,
    saying when it was made, instead of writing again."""
    client = make_client(HEALTH_CHECK_INTERVAL=60)
    first = client.get("/health")
    written = query("SELECT checked_at FROM repository")
    rest = [client.get("/health") for _ in range(19)]

    assert {answer.status_code for answer in [first, *rest]} == {200}
    assert {answer.get_json()["checked_at"] for answer in rest} == {first.get_json()["checked_at"]}
    assert query("SELECT checked_at FROM repository") == written

    fresh = make_client(HEALTH_CHECK_INTERVAL=0)
    assert fresh.get("/health").get_json()["checked_at"] > first.get_json()["checked_at"]
    assert query("SELECT checked_at FROM repository") > written


def test_health_is_503_when_storage_cannot_be_written(client, storage_dir):
    shutil.rmtree(storage_dir / ".partial", ignore_errors=True)
    (storage_dir / ".partial").write_text("a file where the folder for writes should be")

    response = client.get("/health")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["storage"]["status"] == "unavailable"
    assert body["database"]["status"] == "ok"


def test_health_shows_stalled_database_writes_apart_from_reads(client, migrated_database):
    """Another process holds the database's write lock (SQLite) or the row
    health writes (MySQL): reads are fine, writes are reported stalled, fast."""
    with lock_held_elsewhere(migrated_database, Repository.__table__):
        started = time.monotonic()
        response = client.get("/health")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    body = response.get_json()
    assert body["database"]["status"] == "ok"
    assert body["database_writes"]["status"] == "unavailable"
    assert elapsed < 5
    assert client.get("/health").status_code == 200


def test_health_is_503_when_the_database_is_unreachable(storage_dir):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "mysql+pymysql://nobody@127.0.0.1:1/none",
            "FILE_STORAGE_LOCATION": str(storage_dir),
        }
    )
    client = app.test_client()

    response = client.get("/health")

    assert response.status_code == 503
    assert response.get_json()["database"]["status"] == "unavailable"


def test_openapi_describes_every_endpoint(client):
    spec = client.get("/openapi.json").get_json()

    operations = {(method.upper(), path) for path, item in spec["paths"].items() for method in item}
    assert operations >= {
        ("POST", "/image/upload"),
        ("GET", "/image/{image_id}"),
        ("DELETE", "/image/{image_id}"),
        ("GET", "/health"),
    }


def test_openapi_describes_the_multipart_upload(client):
    spec = client.get("/openapi.json").get_json()
    upload = spec["paths"]["/image/upload"]["post"]

    body = upload["requestBody"]
    assert body["required"] is True
    schema = body["content"]["multipart/form-data"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["image"]["items"] == {"type": "string", "format": "binary"}
    assert schema["required"] == ["image"]
    assert {"200", "201", "207", "400", "413", "415", "422"} <= set(upload["responses"])
    assert PROBLEM_JSON in upload["responses"]["415"]["content"]
    assert "application/json" in upload["responses"]["201"]["content"]


def test_docs_page_is_served(client):
    response = client.get("/docs")

    assert response.status_code == 200
    assert "swagger" in response.get_data(as_text=True).lower()


def test_while_a_check_hangs_others_get_the_one_before(monkeypatch):
    """A store that hangs holds the one thread checking it, not every caller's."""
    hanging, released = threading.Event(), threading.Event()
    outcomes = iter([{"storage": {"status": "ok"}}, {"storage": {"status": "unavailable"}}])

    def checks_that_hang_the_second_time():
        outcome = next(outcomes)
        if outcome["storage"]["status"] == "unavailable":
            hanging.set()
            assert released.wait(10)
        return outcome

    # `image_repo.health` the module (the package's `health` is the blueprint's).
    monkeypatch.setattr(sys.modules["image_repo.health"], "run", checks_that_hang_the_second_time)
    checks = HealthChecks(interval=0)
    before = checks.report()
    with ThreadPoolExecutor(1) as pool:
        checking = pool.submit(checks.report)
        assert hanging.wait(10)
        started = time.monotonic()
        meanwhile = checks.report()
        answered_in = time.monotonic() - started
        released.set()
        after = checking.result(timeout=10)

    assert meanwhile is before and answered_in < 1
    assert after.checks["storage"]["status"] == "unavailable"
