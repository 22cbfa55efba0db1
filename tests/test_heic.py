"""HEIC and HEIF, as phones save them: taken in, described, shown upright."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from support import CORPUS, assert_problem, encode, noise, stored_files, upload

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

IPHONE = CORPUS / "pug.heic"  # iPhone 13 Pro, 4032x3024, GPS
ROTATED_IPHONE = CORPUS / "arrow.heic"  # iPhone 8 Plus, stored sideways with a rotation
GALAXY_200MP = CORPUS / "200MP.heic"  # Galaxy S24 Ultra, 12240x16320


def stored(client, path, name: str | None = None) -> dict:
    response = upload(client, path.read_bytes(), name or path.name)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_iphone_photo_is_taken_in_with_its_exif(client):
    record = stored(client, IPHONE, "IMG_0042.HEIC")

    assert record["format"] == "HEIC"
    assert record["mime_type"] == "image/heic"
    assert (record["width"], record["height"]) == (4032, 3024)
    details = client.get(f"/image/{record['id']}/details").get_json()
    assert (details["camera_make"], details["camera_model"]) == ("Apple", "iPhone 13 Pro")
    assert details["taken_at"].startswith("2023-02-21T14:33:08")
    assert details["latitude"] is not None and details["longitude"] is not None
    assert details["exif"]["IFD0"]["Model"] == "iPhone 13 Pro"


def test_the_original_downloads_as_heic(client):
    record = stored(client, IPHONE, "IMG_0042.HEIC")

    response = client.get(f"/image/{record['id']}?download=1")

    assert response.data == IPHONE.read_bytes()
    assert response.headers["Content-Type"] == "image/heic"
    assert response.headers["Content-Disposition"] == "attachment; filename=IMG_0042.HEIC"
    renamed = stored(client, ROTATED_IPHONE, "arrow")
    named = client.get(f"/image/{renamed['id']}?download=1").headers["Content-Disposition"]
    assert named == "attachment; filename=arrow.heic"


def _arrow_tip_row(picture: Image.Image) -> float:
    """Where, as a fraction of the height, the drawn arrow's middle band first
    turns dark from the top: its tip, if the arrow points up."""
    grey = picture.convert("L")
    band = grey.crop((grey.width * 2 // 5, 0, grey.width * 3 // 5, grey.height))
    for y in range(band.height):
        if band.crop((0, y, band.width, y + 1)).getextrema()[0] < 80:
            return y / band.height
    return 1.0


@pytest.mark.parametrize("size", [256, 128, 1024])
def test_a_photo_stored_sideways_is_shown_upright(client, size):
    record = stored(client, ROTATED_IPHONE)

    response = client.get(f"/image/{record['id']}/thumbnail?size={size}&format=png")
    picture = Image.open(io.BytesIO(response.data))

    assert (record["width"], record["height"]) == (3024, 4032)
    assert picture.size == (size * 3 // 4, size)
    assert _arrow_tip_row(picture) < 0.15  # the arrow points up: its tip is near the top


def test_a_200_megapixel_photo_is_refused_before_it_is_decoded(client, storage_dir):
    data = GALAXY_200MP.read_bytes()

    started = time.monotonic()
    response = upload(client, data, "20250119_145327.heic")
    elapsed = time.monotonic() - started

    assert_problem(response, 413, detail_has="pixels")
    assert elapsed < 1.0  # decoding 200 MP would take many seconds
    assert stored_files(storage_dir) == []


def test_the_list_filters_by_heic(client):
    heic = stored(client, IPHONE)
    upload(client, encode(noise(), "PNG"), "p.png")

    for spelling in ("heic", "HEIC"):
        response = client.get("/image/list", query_string={"format": spelling})
        assert [item["id"] for item in response.get_json()["items"]] == [heic["id"]]


def test_a_heif_that_is_not_heic_branded_is_image_heif(client):
    """`mif1` as the major brand: a HEIF, not specifically HEIC."""
    data = bytearray(encode(noise((64, 48)), "HEIF", quality=90))
    assert data[8:12] == b"heic"
    data[8:12] = b"mif1"

    response = upload(client, bytes(data), "still.heif")

    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert (record["format"], record["mime_type"]) == ("HEIF", "image/heif")
    assert client.get(record["url"]).headers["Content-Type"] == "image/heif"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ((CORPUS / "corrupted.heic").read_bytes(), 415),
        (IPHONE.read_bytes()[:300_000], 422),
    ],
    ids=["corrupted", "truncated"],
)
def test_broken_heics_are_refused_clearly(client, storage_dir, data, status):
    assert_problem(upload(client, data, "broken.heic"), status)
    assert stored_files(storage_dir) == []
