"""Details: EXIF decoded with Pillow, checked against exiftool's reading of the same files."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from PIL import Image, TiffImagePlugin
from support import CORPUS, assert_problem, encode, jpeg, noise, upload

REFERENCE = {
    entry["SourceFile"]: entry for entry in json.loads((CORPUS / "exiftool.json").read_text())
}


def details(client, data: bytes, name: str) -> dict:
    response = upload(client, data, name)
    assert response.status_code == 201, response.get_json()
    answer = client.get(f"/image/{response.get_json()['id']}/details")
    assert answer.status_code == 200
    return json.loads(answer.get_data(as_text=True), parse_constant=_no_nan)


def _no_nan(constant: str):
    raise AssertionError(f"{constant} is not JSON")


def _exiftool_time(entry: dict) -> str | None:
    if "DateTimeOriginal" not in entry:
        return None
    moment = datetime.strptime(entry["DateTimeOriginal"], "%Y:%m:%d %H:%M:%S")
    if "SubSecTimeOriginal" in entry:
        fraction = str(entry["SubSecTimeOriginal"])
        moment = moment.replace(microsecond=int(fraction.ljust(6, "0")[:6]))
    return moment.isoformat() + entry.get("OffsetTimeOriginal", "")


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_exif_agrees_with_exiftool(client, name):
    expected = REFERENCE[name]

    found = details(client, (CORPUS / name).read_bytes(), name)

    assert found["taken_at"] == _exiftool_time(expected)
    assert found["taken_at_offset"] == expected.get("OffsetTimeOriginal")
    assert found["camera_make"] == expected.get("Make")
    assert found["camera_model"] == expected.get("Model")
    assert found["lens"] == expected.get("LensModel")
    assert found["orientation"] == expected.get("Orientation")
    for field, tag in [
        ("exposure_time", "ExposureTime"),
        ("f_number", "FNumber"),
        ("focal_length", "FocalLength"),
    ]:
        assert found[field] == pytest.approx(expected.get(tag)), field
    if isinstance(expected.get("ISO"), int):  # the Nikon's "0 200" comes from its maker note
        assert found["iso"] == expected["ISO"]
    for field, tag in [("latitude", "GPSLatitude"), ("longitude", "GPSLongitude")]:
        if tag in expected:
            assert found[field] == pytest.approx(expected[tag], abs=1e-6), field
        else:
            assert found[field] is None
    assert found["altitude"] == pytest.approx(expected.get("GPSAltitude"))


def test_south_west_and_below_sea_level_are_negative(client):
    found = details(client, (CORPUS / "gps_south_west.jpg").read_bytes(), "gps.jpg")

    assert found["latitude"] < 0
    assert found["longitude"] < 0
    assert found["altitude"] == -12.5
    assert found["taken_at"] == "2024-03-05T06:07:08.250000-03:30"
    assert found["exif"]["GPS"]["GPSLatitudeRef"] == "S"


def test_full_exif_is_json_with_tag_names_and_sections(client):
    found = details(client, (CORPUS / "ColorfulCups_2560x1600.jpg").read_bytes(), "cups.jpg")

    exif = found["exif"]
    assert set(exif) >= {"IFD0", "Exif", "GPS"}
    assert exif["IFD0"]["Make"] == "SONY"
    assert exif["Exif"]["ExposureTime"] == pytest.approx(0.0015625)
    assert exif["Exif"]["UserComment"].startswith("Colorful cups. Aarhus, Denmark.")
    assert "MakerNote" not in exif["Exif"]  # kilobytes of binary: left out
    assert exif["Exif"]["ExifVersion"] == b"0230".hex()


def test_a_picture_without_exif_has_empty_details(client):
    found = details(client, jpeg(), "plain.jpg")

    assert found["exif"] == {}
    assert found["taken_at"] is None
    assert found["camera_make"] is None
    assert found["latitude"] is None


def test_broken_exif_still_gives_details(client):
    data = jpeg()
    # An APP1 "Exif" segment whose TIFF header is garbage, right after SOI.
    garbage = b"Exif\x00\x00" + b"\xde\xad\xbe\xef" * 8
    segment = b"\xff\xe1" + (len(garbage) + 2).to_bytes(2, "big") + garbage
    broken = data[:2] + segment + data[2:]

    found = details(client, broken, "broken-exif.jpg")

    assert found["exif"] == {}
    assert found["orientation"] is None


def test_values_json_cannot_hold_are_left_out_not_broken(client):
    exif = Image.Exif()
    exif[0x010F] = "Maker\x00\x00"  # Make, NUL-padded as cameras write it
    sub = exif.get_ifd(0x8769)
    sub[0x9204] = TiffImagePlugin.IFDRational(0, 0)  # ExposureBiasValue: 0/0 is NaN
    sub[0x829A] = TiffImagePlugin.IFDRational(1, 250)  # ExposureTime
    sub[0x9003] = "0000:00:00 00:00:00"  # DateTimeOriginal that is no date
    data = encode(noise(seed=4), "JPEG", exif=exif)

    found = details(client, data, "odd.jpg")

    assert found["camera_make"] == "Maker"
    assert found["exposure_time"] == pytest.approx(0.004)
    assert "ExposureBiasValue" not in found["exif"].get("Exif", {})
    assert found["taken_at"] is None


def test_offset_time_is_kept_and_local_time_is_marked(client):
    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2023:12:31 23:59:58"
    local_only = details(client, encode(noise(seed=1), "JPEG", exif=exif), "a.jpg")
    sub[0x9011] = "+09:30"
    with_offset = details(client, encode(noise(seed=2), "JPEG", exif=exif), "b.jpg")

    assert local_only["taken_at"] == "2023-12-31T23:59:58"
    assert local_only["taken_at_offset"] is None
    assert with_offset["taken_at"] == "2023-12-31T23:59:58+09:30"
    assert with_offset["taken_at_offset"] == "+09:30"


def test_details_of_unknown_image_is_404(client):
    assert_problem(client.get("/image/987654/details"), 404)
