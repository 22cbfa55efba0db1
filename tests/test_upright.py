"""`width` and `height` are the picture as a viewer shows it: after EXIF orientation
(and the rotations HEIF and AVIF keep in their containers)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from conftest import make_database
from flask_migrate import downgrade, upgrade
from PIL import Image
from sqlalchemy import text
from support import CORPUS, encode, upload

from image_repo import create_app
from image_repo.models import db

# EXIF orientation -> what turns an upright picture into the pixels a camera stores.
STORED_AS = {
    1: [],
    2: [Image.Transpose.FLIP_LEFT_RIGHT],
    3: [Image.Transpose.ROTATE_180],
    4: [Image.Transpose.FLIP_TOP_BOTTOM],
    5: [Image.Transpose.TRANSPOSE],
    6: [Image.Transpose.ROTATE_90],
    7: [Image.Transpose.TRANSVERSE],
    8: [Image.Transpose.ROTATE_270],
}


def landscape(orientation: int, image_format: str) -> bytes:
    """A 120x80 landscape as a viewer shows it, stored the way `orientation` says."""
    picture = Image.new("RGB", (120, 80), "white")
    picture.paste((255, 0, 0), (0, 0, 30, 20))
    for step in STORED_AS[orientation]:
        picture = picture.transpose(step)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(picture, image_format, exif=exif)


def listed(client, **filters) -> set[int]:
    response = client.get("/image/list", query_string=filters)
    assert response.status_code == 200, response.get_json()
    return {item["id"] for item in response.get_json()["items"]}


def test_a_camera_portrait_is_recorded_upright_and_filtered_so(client):
    """The Nikon D70 file is stored 150x91 with orientation 6: a portrait."""
    record = upload(client, (CORPUS / "exiv2-nikon-d70.jpg").read_bytes(), "d70.jpg").get_json()

    assert (record["width"], record["height"]) == (91, 150)
    assert record["id"] in listed(client, min_height=150, max_width=91)
    assert record["id"] not in listed(client, min_width=100)
    assert record["id"] not in listed(client, max_height=100)
    details = client.get(f"/image/{record['id']}/details").get_json()
    assert (details["width"], details["height"]) == (91, 150)
    thumbnail = Image.open(io.BytesIO(client.get(f"/image/{record['id']}/thumbnail").data))
    assert thumbnail.height > thumbnail.width


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP", "AVIF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_gives_the_upright_size(client, orientation, image_format):
    response = upload(client, landscape(orientation, image_format), f"o{orientation}")

    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert (record["width"], record["height"]) == (120, 80)
    assert record["id"] in listed(client, min_width=120, max_height=80)


@pytest.fixture
def scratch_database(request, tmp_path_factory) -> Iterator[str]:
    """An empty database of the run's kind: MySQL assigns `SET a=b, b=a` left to right."""
    yield from make_database(request, tmp_path_factory)


def test_the_migration_turns_existing_rows_upright_and_back(scratch_database, tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": scratch_database,
            "FILE_STORAGE_LOCATION": str(tmp_path),
            "CHECK_REPOSITORY": False,
        }
    )
    with app.app_context():
        upgrade(revision="0005")
        for number, orientation in enumerate([None, 1, 2, 3, 4, 5, 6, 7, 8]):
            db.session.execute(
                text(
                    "INSERT INTO images (sha512, format, width, height, frame_count, has_alpha,"
                    " file_size, uploaded_at, orientation, source) VALUES (:sha, 'JPEG', 150, 91,"
                    " 1, 0, 10, '2026-01-01 00:00:00', :orientation, 'upload')"
                ),
                {"sha": f"{number:0128x}", "orientation": orientation},
            )
        db.session.commit()

        def sizes(query: str) -> dict:
            rows = db.session.execute(text(query)).all()
            db.session.commit()  # no open transaction to hold up the migrations' DDL
            return {orientation: (width, height) for orientation, width, height in rows}

        upgrade(revision="0007")
        upright = sizes(
            "SELECT p.orientation, i.width, i.height FROM images i "
            "JOIN pictures p ON p.id = i.picture_id"
        )
        assert sizes("SELECT orientation, width, height FROM pictures") == upright
        downgrade(revision="0005")
        restored = sizes("SELECT orientation, width, height FROM images")
        db.engine.dispose()

    assert upright == {
        **{orientation: (150, 91) for orientation in (None, 1, 2, 3, 4)},
        **{orientation: (91, 150) for orientation in (5, 6, 7, 8)},
    }
    assert restored == {orientation: (150, 91) for orientation in (None, *range(1, 9))}
