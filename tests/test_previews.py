"""Previews: a big picture's reduced copy, made at upload, from which its
thumbnails are made instead of from the original."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageCms
from support import CORPUS, encode, noise, png, upload
from test_colour import ADOBE_RGB, MAX_MEAN_DELTA_E, MAX_SATURATION_CHANGE, SRGB, compare, in_srgb

from image_repo import imaging

BIG = (2600, 1700)  # a factor of 2 down to 1300x850: past the largest thumbnail


def stored(client, data: bytes, name: str = "photo.jpg") -> dict:
    response = upload(client, data, name)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def preview_of(storage_dir: Path, sha512: str) -> Path:
    return storage_dir / "thumbnails" / sha512[:2] / sha512[2:4] / f"{sha512}-preview.jpg"


def thumbnail(client, record: dict, size: int) -> Image.Image:
    response = client.get(f"/image/{record['id']}/thumbnail", query_string={"size": size})
    assert response.status_code == 200, response.get_data(as_text=True)
    picture = Image.open(io.BytesIO(response.data))
    picture.load()
    return picture


def test_a_big_picture_gets_a_preview_at_upload(client, storage_dir):
    record = stored(client, encode(noise(BIG), quality=90))

    with Image.open(preview_of(storage_dir, record["sha512"])) as preview:
        assert preview.format == "JPEG"
        assert preview.size == (1300, 850)
        assert "icc_profile" not in preview.info


@pytest.mark.parametrize(
    "data",
    [
        encode(noise((2000, 1400)), quality=90),  # not twice the largest thumbnail
        png(size=BIG, mode="RGBA"),  # transparency: made from the original
    ],
    ids=["smaller", "alpha"],
)
def test_other_pictures_get_none(client, storage_dir, data):
    record = stored(client, data, "picture.png")

    assert not preview_of(storage_dir, record["sha512"]).exists()
    assert max(thumbnail(client, record, 1024).size) == 1024


@pytest.mark.parametrize("size", [64, 256, 1024])
def test_thumbnails_not_made_yet_come_from_the_preview(client, storage_dir, size):
    record = stored(client, encode(noise(BIG), quality=90))
    for made_at_upload in (storage_dir / "thumbnails").rglob("*-256.jpg"):
        made_at_upload.unlink()
    with Image.open(preview_of(storage_dir, record["sha512"])) as preview:
        expected = imaging.encode(imaging.thumbnail(preview, size, None), "jpeg")

    response = client.get(f"/image/{record['id']}/thumbnail?size={size}&format=jpeg")

    assert response.data == expected


def test_the_preview_keeps_the_picture_turned_as_stored(client, storage_dir):
    exif = Image.Exif()
    exif[0x0112] = 6  # turned a quarter: a viewer shows it 1700 wide, 2600 high
    record = stored(client, encode(noise(BIG), quality=90, exif=exif.tobytes()))

    with Image.open(preview_of(storage_dir, record["sha512"])) as preview:
        assert preview.size == (1300, 850)
    assert thumbnail(client, record, 1024).size == (670, 1024)


def test_the_preview_is_in_srgb(client, storage_dir):
    """A wide-gamut photo's thumbnails made from its preview keep their colours."""
    with Image.open(CORPUS / "ColorfulCups_2560x1600.jpg") as photo:
        adobe = ImageCms.profileToProfile(
            photo, SRGB, ImageCms.ImageCmsProfile(io.BytesIO(ADOBE_RGB)), outputMode="RGB"
        )
    data = encode(adobe, quality=95, icc_profile=ADOBE_RGB)
    record = stored(client, data)
    assert preview_of(storage_dir, record["sha512"]).exists()

    made = thumbnail(client, record, 512)

    reference = in_srgb(data).resize(made.size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    delta_e, saturation = compare(made.convert("RGB"), reference)
    assert delta_e <= MAX_MEAN_DELTA_E
    assert abs(saturation - 1) <= MAX_SATURATION_CHANGE


def test_a_picture_stored_before_previews_still_gets_its_thumbnails(client, storage_dir):
    record = stored(client, encode(noise(BIG), quality=90))
    preview_of(storage_dir, record["sha512"]).unlink()

    assert max(thumbnail(client, record, 512).size) == 512


def test_the_preview_goes_with_its_picture(client, storage_dir):
    record = stored(client, encode(noise(BIG), quality=90))
    assert preview_of(storage_dir, record["sha512"]).exists()

    assert client.delete(f"/image/{record['id']}").status_code == 204

    assert not preview_of(storage_dir, record["sha512"]).exists()
