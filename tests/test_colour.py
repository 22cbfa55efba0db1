"""Thumbnails are in sRGB: wide-gamut photos (Display P3 from phones, Adobe RGB
from cameras) keep their colours in every thumbnail format and size.

Each thumbnail, rendered in sRGB as a colour-managed viewer would (through its
own ICC profile if it has one, else taken as sRGB, the web's assumption), is
compared with the original rendered in sRGB through its embedded profile, at
the thumbnail's size: mean colour difference (CIE76 delta E, in CIELAB) and
mean saturation.

The test pictures are made here with LittleCMS (PIL.ImageCms) from real
photos: the iPhone HEIC's own pixels and Display P3 profile saved as a JPEG,
and a camera photo converted into Adobe RGB (1998), with that profile
embedded, as JPEG and WebP.
"""

from __future__ import annotations

import colorsys
import io
import math
from functools import cache

import pytest
from PIL import Image, ImageCms
from support import CORPUS, upload

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

SRGB = ImageCms.createProfile("sRGB")
ADOBE_RGB = (CORPUS / "compatibleWithAdobeRGB1998.icc").read_bytes()
# Measured on these pictures, in every case below: the code that dropped the
# profile gave thumbnails 78 to 89 % as saturated as the original, and a mean
# delta E of 4.4 to 4.9 for Adobe RGB (0.6 to 1.3 for the muted Display P3 photo);
# converted to sRGB they are 98 to 103 % as saturated, delta E at most 1.6 (2.3
# for the lossier AVIF at 64 pixels).
MAX_MEAN_DELTA_E = 2.6
MAX_SATURATION_CHANGE = 0.05


@cache
def display_p3_jpeg() -> bytes:
    """The iPhone photo's pixels with its Display P3 profile, as a JPEG."""
    with Image.open(CORPUS / "pug.heic") as heic:
        profile = heic.info["icc_profile"]
        picture = heic.reduce(4)
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(profile))).startswith(
        "Display P3"
    )
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=95, icc_profile=profile)
    return buffer.getvalue()


@cache
def adobe_rgb(image_format: str) -> bytes:
    """A camera photo's colours converted into Adobe RGB, with that profile embedded."""
    with Image.open(CORPUS / "ColorfulCups_2560x1600.jpg") as photo:
        picture = photo.reduce(2)
    converted = ImageCms.profileToProfile(
        picture, SRGB, ImageCms.ImageCmsProfile(io.BytesIO(ADOBE_RGB)), outputMode="RGB"
    )
    buffer = io.BytesIO()
    converted.save(buffer, image_format, quality=95, icc_profile=ADOBE_RGB)
    return buffer.getvalue()


PICTURES = {
    "Display P3 JPEG": display_p3_jpeg,
    "Adobe RGB JPEG": lambda: adobe_rgb("JPEG"),
    "Adobe RGB WebP": lambda: adobe_rgb("WEBP"),
}


def in_srgb(data: bytes) -> Image.Image:
    """The picture as a colour-managed viewer shows it on an sRGB screen."""
    picture = Image.open(io.BytesIO(data))
    picture.load()
    profile = picture.info.get("icc_profile")
    if profile:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.profileToProfile(picture, source, SRGB, outputMode="RGB")
    return picture.convert("RGB")


def lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """sRGB (D65) to CIELAB."""
    linear = [
        value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4
        for value in (channel / 255 for channel in rgb)
    ]
    r, g, b = linear
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 216 / 24389 else (24389 / 27 * t + 16) / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def compare(thumbnail: Image.Image, reference: Image.Image) -> tuple[float, float]:
    """Mean delta E, and the thumbnail's mean saturation as a share of the reference's.

    Both are first averaged over blocks of 1/8 of their width: compression
    blurs colour at edges (JPEG and WebP halve the colour resolution, which
    shows on a 64-pixel thumbnail), which is not what is measured here, and
    averaging leaves a colour shift as it is.
    """
    blocks = (8, max(1, round(8 * thumbnail.height / thumbnail.width)))
    thumbnail, reference = (
        side.resize(blocks, Image.Resampling.BOX) for side in (thumbnail, reference)
    )
    pairs = list(zip(thumbnail.get_flattened_data(), reference.get_flattened_data(), strict=True))
    delta_e = sum(math.dist(lab(a), lab(b)) for a, b in pairs) / len(pairs)
    saturation = [
        sum(colorsys.rgb_to_hsv(*(c / 255 for c in p))[1] for p in side)
        for side in zip(*pairs, strict=True)
    ]
    return delta_e, saturation[0] / saturation[1]


@pytest.mark.parametrize("image_format", ["jpeg", "webp", "png", "avif"])
@pytest.mark.parametrize("size", [256, 64, 1024])
@pytest.mark.parametrize("picture", list(PICTURES))
def test_thumbnails_keep_the_colours_of_wide_gamut_photos(client, picture, size, image_format):
    data = PICTURES[picture]()
    response = upload(client, data, "wide.jpg")
    assert response.status_code == 201, response.get_json()
    record = response.get_json()

    answer = client.get(f"/image/{record['id']}/thumbnail?size={size}&format={image_format}")

    assert answer.status_code == 200
    thumbnail = in_srgb(answer.data)
    reference = in_srgb(data).resize(thumbnail.size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    delta_e, saturation = compare(thumbnail, reference)
    assert delta_e < MAX_MEAN_DELTA_E, f"mean delta E {delta_e:.2f}"
    assert abs(saturation - 1) < MAX_SATURATION_CHANGE, (
        f"saturation {saturation:.3f} of the original's"
    )


def test_the_thumbnail_made_at_upload_is_in_srgb_too(client, storage_dir):
    data = adobe_rgb("JPEG")
    record = upload(client, data, "adobe.jpg").get_json()
    [made_at_upload] = (storage_dir / "thumbnails").rglob("*-256.jpg")

    thumbnail = in_srgb(made_at_upload.read_bytes())
    reference = in_srgb(data).resize(thumbnail.size, Image.Resampling.BICUBIC, reducing_gap=2.0)

    delta_e, saturation = compare(thumbnail, reference)
    assert delta_e < MAX_MEAN_DELTA_E and abs(saturation - 1) < MAX_SATURATION_CHANGE
    assert record["sha512"] in made_at_upload.name


def test_thumbnails_carry_no_profile(client):
    """Converted to sRGB, a thumbnail needs none: untagged pictures are sRGB on the web."""
    record = upload(client, adobe_rgb("JPEG"), "adobe.jpg").get_json()

    for image_format in ("jpeg", "webp", "png"):
        data = client.get(f"/image/{record['id']}/thumbnail?format={image_format}").data
        assert "icc_profile" not in Image.open(io.BytesIO(data)).info


def test_the_original_keeps_its_profile(client):
    data = adobe_rgb("JPEG")
    record = upload(client, data, "adobe.jpg").get_json()

    assert client.get(record["url"]).data == data
