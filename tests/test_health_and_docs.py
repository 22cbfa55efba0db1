"""/health, /openapi.json and /docs."""

from __future__ import annotations

import shutil
import time

from support import PROBLEM_JSON, lock_held_elsewhere

from image_repo import create_app
from image_repo.models import Repository


def test_health_reports_database_and_storage(client, request):
    response = client.get("/health")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"] == {"status": "ok", "detail": request.config.getoption("--db")}
    assert body["storage"]["status"] == "ok"
    assert "MiB free" in body["storage"]["detail"]


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
