"""The base64 view: the stored bytes (or a thumbnail), ready to embed."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image
from support import assert_problem, encode, jpeg, noise, upload


def test_base64_round_trip_gives_the_stored_bytes(client):
    data = jpeg(seed=3, size=(90, 60))
    record = upload(client, data).get_json()

    body = client.get(f"/image/{record['id']}/base64").get_json()

    assert body["id"] == record["id"]
    assert body["mime_type"] == "image/jpeg"
    assert base64.b64decode(body["base64"], validate=True) == data
    assert body["data_uri"] == f"data:image/jpeg;base64,{body['base64']}"


@pytest.mark.parametrize(("mode", "mime"), [("RGB", "image/jpeg"), ("RGBA", "image/png")])
def test_thumbnail_base64(client, mode, mime):
    record = upload(client, encode(noise((600, 300), mode=mode), "PNG"), "p.png").get_json()

    body = client.get(f"/image/{record['id']}/base64?thumbnail=128").get_json()

    assert body["mime_type"] == mime
    picture = Image.open(io.BytesIO(base64.b64decode(body["base64"])))
    assert picture.size == (128, 64)
    assert body["data_uri"].startswith(f"data:{mime};base64,")


def test_thumbnail_base64_in_another_format(client):
    record = upload(client, jpeg()).get_json()

    body = client.get(f"/image/{record['id']}/base64?thumbnail=64&format=webp").get_json()

    assert body["mime_type"] == "image/webp"
    assert Image.open(io.BytesIO(base64.b64decode(body["base64"]))).format == "WEBP"


def test_jpg_names_the_jpeg_format(client):
    record = upload(client, encode(noise((60, 40)), "PNG"), "p.png").get_json()

    body = client.get(f"/image/{record['id']}/base64?thumbnail=64&format=jpg").get_json()

    assert body["mime_type"] == "image/jpeg"


def test_bad_thumbnail_size_and_unknown_image(client):
    record = upload(client, jpeg()).get_json()

    assert_problem(client.get(f"/image/{record['id']}/base64?thumbnail=100"), 400)
    assert_problem(client.get("/image/99999/base64"), 404)
