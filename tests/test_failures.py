"""When the database or the disk fails mid-upload: a clear 5xx, and nothing half-made."""

from __future__ import annotations

import io

from conftest import authenticated
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from support import assert_problem, jpeg, lock_held_elsewhere, stored_files, upload

import image_repo
from config import engine_options
from image_repo import create_app, scratch
from image_repo.models import Picture


def _failing(*_args, **_kwargs):
    raise OperationalError("COMMIT", {}, ConnectionError("server has gone away"))


def _fail_commits_from_now_on(client, monkeypatch):
    """Make the database fail commits, after one request has marked the token used
    (so the failure hits the upload, not the token's `last_used_at`)."""
    assert client.get("/tokens").status_code == 200
    monkeypatch.setattr(Session, "commit", _failing)


def test_failed_commit_leaves_no_file_and_no_row(client, storage_dir, query, monkeypatch):
    _fail_commits_from_now_on(client, monkeypatch)

    response = upload(client, jpeg())

    assert_problem(response, 503, detail_has="database")
    assert response.headers["Retry-After"]
    monkeypatch.undo()
    assert query("SELECT COUNT(*) FROM images") == [(0,)]
    assert stored_files(storage_dir) == []


def test_storage_that_cannot_take_the_file_gives_507_and_no_row(client, storage_dir, query):
    (storage_dir / "originals").write_text("a file where the folder should be")

    response = upload(client, jpeg())

    assert_problem(response, 507, detail_has="does not take writes")
    assert query("SELECT COUNT(*) FROM images") == [(0,)]
    assert stored_files(storage_dir) == [storage_dir / "originals"]


def test_disk_full_while_receiving_gives_507_and_no_partial_file(
    client, storage_dir, query, monkeypatch
):
    """The upload is received into /dev/full, which fails writes with ENOSPC
    like a full disk."""

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):
        return open("/dev/full" if "x" in mode else path, mode.replace("x", "w"), *args, **kwargs)

    monkeypatch.setattr(scratch, "open", open_on_a_full_disk, raising=False)

    response = upload(client, jpeg())

    assert_problem(response, 507)
    assert query("SELECT COUNT(*) FROM images") == [(0,)]
    assert stored_files(storage_dir) == []


def test_unreachable_database_gives_503_and_no_file(storage_dir):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": "mysql+pymysql://nobody@127.0.0.1:1/none",
            "FILE_STORAGE_LOCATION": str(storage_dir),
        }
    )
    client = app.test_client()
    a_token = {"Authorization": "Bearer irt_cannot-be-checked-without-the-database"}

    assert_problem(upload(client, jpeg(), headers=a_token), 503)
    assert_problem(client.get("/image/1"), 503)
    assert stored_files(storage_dir) == []


def test_database_failure_in_a_multi_file_upload_is_reported_per_file(
    client, storage_dir, query, monkeypatch
):
    _fail_commits_from_now_on(client, monkeypatch)
    files = [(io.BytesIO(jpeg(seed=1)), "a.jpg"), (io.BytesIO(jpeg(seed=2)), "b.jpg")]

    response = client.post("/image/upload", data={"image": files})

    assert response.status_code == 207
    results = response.get_json()
    assert [r["status"] for r in results] == [503, 503]
    assert "database" in results[0]["problem"]["detail"]
    monkeypatch.undo()
    assert query("SELECT COUNT(*) FROM images") == [(0,)]
    assert stored_files(storage_dir) == []


def test_waiting_too_long_for_a_lock_is_a_503_that_says_so(
    make_app, make_user, migrated_database, monkeypatch
):
    """Another transaction holds what a delete needs for longer than the
    database waits (here 1 s): the answer says the database was busy, not
    that it is down, and the delete goes through once the lock is let go."""
    monkeypatch.setattr(image_repo, "SQLITE_BUSY_TIMEOUT_MS", 1000)
    options = engine_options(migrated_database)
    if make_url(migrated_database).get_backend_name() != "sqlite":
        wait = {"init_command": "SET SESSION innodb_lock_wait_timeout=1"}
        options["connect_args"] = options["connect_args"] | wait
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=options)
    client = authenticated(app.test_client(), make_user("alice"))
    image_id = upload(client, jpeg()).get_json()["id"]

    with lock_held_elsewhere(migrated_database, Picture.__table__):
        response = client.delete(f"/image/{image_id}")

    problem = assert_problem(response, 503, detail_has="busy")
    assert "unavailable" not in problem["detail"]
    assert response.headers["Retry-After"]
    assert client.get(f"/image/{image_id}").status_code == 200
    assert client.delete(f"/image/{image_id}").status_code == 204
