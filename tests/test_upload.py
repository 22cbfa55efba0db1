"""Uploading: records, formats, dedupe, several files at once."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from support import CORPUS, encode, jpeg, noise, originals, png, upload


def test_upload_answers_201_with_the_record_and_stores_the_bytes(client, storage_dir):
    data = jpeg(size=(64, 48))

    response = upload(client, data, "holiday.jpg")

    assert response.status_code == 201
    record = response.get_json()
    assert response.headers["Location"] == f"/image/{record['id']}"
    assert record["url"] == f"/image/{record['id']}"
    assert record["original_name"] == "holiday.jpg"
    assert (record["format"], record["mime_type"]) == ("JPEG", "image/jpeg")
    assert (record["width"], record["height"]) == (64, 48)
    assert record["file_size"] == len(data)
    assert record["duplicate"] is False
    uploaded_at = datetime.fromisoformat(record["uploaded_at"])
    assert uploaded_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - uploaded_at) < timedelta(minutes=1)
    sha = record["sha512"]
    assert len(sha) == 128
    [stored] = originals(storage_dir)
    assert stored.relative_to(storage_dir).as_posix() == f"originals/{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    assert stored.read_bytes() == data


def test_dedupe_key_is_sha512_over_mode_size_and_pixels(client):
    picture = noise((8, 4), seed=3)

    record = upload(client, encode(picture, "PNG"), "p.png").get_json()

    header = f"{picture.mode} {picture.width}x{picture.height} 1\n".encode()
    assert record["sha512"] == hashlib.sha512(header + picture.tobytes()).hexdigest()


def test_same_picture_with_other_exif_and_name_is_a_duplicate(client, storage_dir, query):
    picture = noise(seed=1)
    exif = Image.Exif()
    exif[0x0110] = "Camera A"  # Model
    first_bytes = encode(picture, "JPEG", quality=90, exif=exif)
    exif[0x0110] = "Camera B"
    exif[0x0132] = "2024:01:02 03:04:05"  # DateTime
    second_bytes = encode(picture, "JPEG", quality=90, exif=exif)
    assert first_bytes != second_bytes

    first = upload(client, first_bytes, "a.jpg")
    second = upload(client, second_bytes, "renamed.jpg")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json()["duplicate"] is True
    assert second.get_json()["id"] == first.get_json()["id"]
    assert second.get_json()["original_name"] == "a.jpg"
    assert "Location" not in second.headers
    assert query("SELECT COUNT(*) FROM images") == [(1,)]
    [stored] = originals(storage_dir)
    assert stored.read_bytes() == first_bytes


def test_same_pixel_bytes_in_another_shape_are_another_picture(client, query):
    raw = bytes(range(32))
    wide = Image.frombytes("L", (8, 4), raw)
    tall = Image.frombytes("L", (4, 8), raw)

    first = upload(client, encode(wide, "PNG"), "wide.png")
    second = upload(client, encode(tall, "PNG"), "tall.png")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["sha512"] != second.get_json()["sha512"]
    assert query("SELECT COUNT(*) FROM images") == [(2,)]


def test_same_indices_with_another_palette_are_another_picture(client):
    red, blue = Image.new("P", (4, 4), 0), Image.new("P", (4, 4), 0)
    red.putpalette([255, 0, 0] * 256)
    blue.putpalette([0, 0, 255] * 256)

    first = upload(client, encode(red, "PNG"), "red.png")
    second = upload(client, encode(blue, "PNG"), "blue.png")

    assert (first.status_code, second.status_code) == (201, 201)


@pytest.mark.parametrize(
    ("image_format", "mime_type", "options"),
    [
        ("PNG", "image/png", {}),
        ("GIF", "image/gif", {}),
        ("WEBP", "image/webp", {"lossless": True}),
        ("TIFF", "image/tiff", {}),
        ("BMP", "image/bmp", {}),
        ("AVIF", "image/avif", {}),
    ],
)
def test_every_accepted_format_is_stored_with_its_mime_type(
    client, image_format, mime_type, options
):
    data = encode(noise((40, 30), seed=7), image_format, **options)

    response = upload(client, data, "picture.bin")

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["format"] == image_format
    assert response.get_json()["mime_type"] == mime_type
    assert client.get(response.headers["Location"]).data == data


@pytest.mark.parametrize(
    ("name", "mode", "size"),
    [
        ("iss634.gif", "P", (245, 245)),
        ("pil_sample_cmyk.jpg", "CMYK", (100, 100)),
        ("RGB_16__128x128.png", "RGB", (128, 128)),
        ("pil123p.png", "P", (162, 150)),
    ],
)
def test_real_files_of_unusual_kinds_are_accepted(client, name, mode, size):
    data = (CORPUS / name).read_bytes()

    response = upload(client, data, name)

    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["width"], response.get_json()["height"]) == size
    assert client.get(response.headers["Location"]).data == data


def test_frames_after_the_first_count_for_dedupe(client):
    frame = noise((16, 16), seed=1)
    first = encode(frame, "GIF", save_all=True, append_images=[noise((16, 16), seed=2)])
    second = encode(frame, "GIF", save_all=True, append_images=[noise((16, 16), seed=3)])

    statuses = [upload(client, data, "anim.gif").status_code for data in (first, second)]

    assert statuses == [201, 201]


def test_several_files_in_one_request_get_one_result_each(client, query):
    first, other = jpeg(seed=1), png(seed=2)
    files = [
        (io.BytesIO(first), "one.jpg"),
        (io.BytesIO(first), "one-again.jpg"),
        (io.BytesIO(b"just some text"), "notes.jpg"),
        (io.BytesIO(other), "two.png"),
    ]

    response = client.post("/image/upload", data={"image": files})

    assert response.status_code == 207
    results = response.get_json()
    assert [r["status"] for r in results] == [201, 200, 415, 201]
    assert [r["filename"] for r in results] == ["one.jpg", "one-again.jpg", "notes.jpg", "two.png"]
    assert results[1]["image"]["id"] == results[0]["image"]["id"]
    assert results[1]["image"]["duplicate"] is True
    assert results[2]["problem"]["status"] == 415
    assert "accepted format" in results[2]["problem"]["detail"]
    assert query("SELECT COUNT(*) FROM images") == [(2,)]


@pytest.mark.parametrize(
    ("client_name", "stored_name"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("/abs/x.jpg", "x.jpg"),
        ("x$(id).jpg", "x$(id).jpg"),
        ("bell\x07\ttab.jpg", "belltab.jpg"),
        ("Fotó 東京 été.jpg", "Fotó 東京 été.jpg"),
        ("a" * 5000 + ".jpg", "a" * 251 + ".jpg"),
        ("..", None),
    ],
)
def test_client_file_names_are_metadata_only(
    client, storage_dir, tmp_path, client_name, stored_name
):
    data = jpeg(seed=5)

    response = upload(client, data, client_name)

    assert response.status_code == 201
    record = response.get_json()
    assert record["original_name"] == stored_name
    sha = record["sha512"]
    assert [p.relative_to(storage_dir).as_posix() for p in originals(storage_dir)] == [
        f"originals/{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance", "storage"]
    assert list((tmp_path / "instance" / "scratch").iterdir()) == []  # received, then gone
    assert client.get(f"/image/{record['id']}").data == data
