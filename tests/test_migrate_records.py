"""Migration 0006 on a database the previous schema filled: every image becomes
one picture and one record, with the same id, and keeps working."""

from __future__ import annotations

import json

import pytest
from conftest import make_database
from flask_migrate import upgrade
from sqlalchemy import text
from support import jpeg

from image_repo import create_app
from image_repo.models import db


@pytest.fixture
def old_database(request, tmp_path_factory):
    yield from make_database(request, tmp_path_factory)


def test_images_of_the_previous_schema_become_pictures_and_records(old_database, tmp_path):
    storage = tmp_path / "storage"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": old_database,
            "FILE_STORAGE_LOCATION": str(storage),
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "CHECK_REPOSITORY": False,
        }
    )
    data = jpeg(seed=1)
    sha = "ab" * 64
    (storage / "originals" / "ab" / "ab").mkdir(parents=True)
    (storage / "originals" / "ab" / "ab" / f"{sha}.jpg").write_bytes(data)
    exif = {"IFD0": {"Make": "Canon"}}
    with app.app_context():
        upgrade(revision="0005")
        db.session.execute(
            text(
                "INSERT INTO users (id, name, is_admin, created_at) "
                "VALUES (3, 'alice', 0, '2026-01-01 00:00:00')"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO images (id, sha512, original_name, format, width, height, "
                "file_size, uploaded_at, frame_count, has_alpha, taken_at, taken_at_offset, "
                "camera_make, orientation, latitude, longitude, exif_json, owner_id, source) "
                "VALUES (41, :sha, 'holiday.jpg', 'JPEG', 64, 48, :size, "
                "'2026-01-02 03:04:05', 1, 0, '2025-12-24 18:00:00', 60, 'Canon', 1, "
                "48.85, 2.35, :exif, 3, 'upload')"
            ),
            {"sha": sha, "size": len(data), "exif": json.dumps(exif)},
        )
        db.session.commit()

        upgrade()

        assert db.session.execute(
            text("SELECT id, sha512, state, file_size, longitude FROM pictures")
        ).all() == [(41, sha, "stored", len(data), 2.35)]
        assert db.session.execute(
            text("SELECT id, picture_id, owner_id, original_name, camera_make FROM images")
        ).all() == [(41, 41, 3, "holiday.jpg", "Canon")]
        db.engine.dispose()

    client = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": old_database,
            "FILE_STORAGE_LOCATION": str(storage),
            "INSTANCE_PATH": str(tmp_path / "instance"),
        }
    ).test_client()
    assert client.get("/image/41").data == data
    details = client.get("/image/41/details").get_json()
    assert details["owner"] == "alice"
    assert details["taken_at"] == "2025-12-24T18:00:00+01:00"
    assert details["exif"] == exif
    assert (details["latitude"], details["longitude"]) == (48.85, 2.35)
    assert client.get("/image/list?camera_make=canon").get_json()["items"][0]["id"] == 41
