"""One store, one database: a repository's identity is kept in both, and
nothing runs where they disagree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, LiveServer, make_database
from support import jpeg, stored_files, upload

from image_repo import create_app
from image_repo.repository import RepositoryMismatch


def snapshot(storage: Path) -> dict[str, bytes]:
    return {
        path.relative_to(storage).as_posix(): path.read_bytes() for path in stored_files(storage)
    }


@pytest.fixture
def second_database(request, tmp_path_factory):
    """A new, migrated database of this run's kind, with nothing in it."""
    yield from make_database(request, tmp_path_factory, migrate=True)


def flask(database_url: str, storage: Path, *args: str) -> subprocess.CompletedProcess:
    flask_command = Path(sys.executable).with_name("flask")
    env = {**os.environ, "DATABASE_URL": database_url, "FILE_STORAGE_LOCATION": str(storage)}
    return subprocess.run(
        [str(flask_command), "--app", "image_repo", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_new_repository_marks_its_store_and_keeps_using_it(client, storage_dir, make_app):
    upload(client, jpeg())
    marker = (storage_dir / "repository.json").read_text()

    again = make_app().test_client()  # the same database and store, another process

    assert again.get("/health").status_code == 200
    assert (storage_dir / "repository.json").read_text() == marker


def test_a_second_database_on_the_first_ones_store_is_refused(
    client, storage_dir, second_database, tmp_path
):
    upload(client, jpeg(seed=1))
    upload(client, jpeg(seed=2))
    before = snapshot(storage_dir)

    with pytest.raises(RepositoryMismatch) as refused:
        create_app(
            {"SQLALCHEMY_DATABASE_URI": second_database, "FILE_STORAGE_LOCATION": str(storage_dir)}
        )
    message = str(refused.value)
    assert str(storage_dir) in message
    assert "FILE_STORAGE_LOCATION" in message  # says what to do

    for command in (["images", "fsck", "--repair"], ["images", "import", str(tmp_path)]):
        (tmp_path / "new.jpg").write_bytes(jpeg(seed=3))
        result = flask(second_database, storage_dir, *command)
        assert result.returncode != 0, result.stdout
        assert "belongs to another" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr

    server = LiveServer(second_database, storage_dir, tmp_path / "server.log", {})
    with pytest.raises(RuntimeError, match="belongs to another"):
        server.start()
    server.stop()

    assert snapshot(storage_dir) == before
    checker = create_app({"SQLALCHEMY_DATABASE_URI": second_database, "CHECK_REPOSITORY": False})
    with checker.app_context():
        from image_repo.models import Image, Picture, db

        assert db.session.query(Image).count() == 0
        assert db.session.query(Picture).count() == 0


def test_a_store_with_pictures_missing_its_mark_is_refused(client, storage_dir, make_app):
    upload(client, jpeg())
    (storage_dir / "repository.json").unlink()

    with pytest.raises(RepositoryMismatch, match="no repository mark"):
        make_app()
