"""Bad uploads: a clear 4xx problem+json answer, and nothing stored."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from support import CORPUS, assert_problem, encode, jpeg, noise, stored_files, upload

from image_repo.api.errors import MAX_LISTED_ERRORS, MAX_LISTED_NAME


@pytest.fixture
def nothing_stored(storage_dir, query):
    """After the test: no row, and no file at all in the store (no temp file either)."""
    yield
    assert query("SELECT COUNT(*) FROM images") == [(0,)]
    assert stored_files(storage_dir) == []


pytestmark = pytest.mark.usefixtures("nothing_stored")


def test_no_image_field(client):
    response = client.post("/image/upload", data={"picture": (io.BytesIO(jpeg()), "a.jpg")})

    body = assert_problem(response, 422, detail_has="image")
    assert sorted(body["errors"], key=lambda e: e["field"]) == [
        {
            "location": "form_and_files",
            "field": "image",
            "detail": "Missing data for required field.",
        },
        {"location": "form_and_files", "field": "picture", "detail": "Unknown field."},
    ]


def test_not_multipart_at_all(client):
    response = client.post("/image/upload", data=jpeg(), content_type="image/jpeg")

    assert_problem(response, 422, detail_has="image")


def test_image_field_without_a_file(client):
    response = client.post("/image/upload", data={"image": "not a file"})

    assert_problem(response, 422, detail_has="image")


@pytest.mark.parametrize("value", ["", "not a file"])
def test_image_field_of_text_in_a_raw_multipart_body(client, value):
    """What a script gets when it sends `image` as a plain form field; an
    empty one used to reach the pipeline as no file at all (a 500)."""
    body = (
        f'--b\r\nContent-Disposition: form-data; name="image"\r\n\r\n{value}\r\n--b--\r\n'
    ).encode()

    response = client.post(
        "/image/upload", data=body, content_type="multipart/form-data; boundary=b"
    )

    assert_problem(response, 422, detail_has="image")


def test_empty_file(client):
    assert_problem(upload(client, b"", "empty.jpg"), 400, detail_has="empty")


def test_text_file_named_jpg(client):
    response = upload(client, b"Dear diary, today I uploaded a text file.\n" * 20, "diary.jpg")

    assert_problem(response, 415, detail_has="not an image in an accepted format")


@pytest.mark.parametrize("name", ["truncated_jpeg.jpg", "truncated_image.png"])
def test_truncated_file(client, name):
    response = upload(client, (CORPUS / name).read_bytes(), name)

    assert_problem(response, 422, detail_has="truncated")


def test_truncated_upload_of_a_good_jpeg(client):
    data = jpeg(size=(256, 256))

    assert_problem(upload(client, data[: len(data) // 2], "half.jpg"), 422)


def test_broken_png_header(client):
    assert_problem(upload(client, (CORPUS / "broken.png").read_bytes(), "broken.png"), 415)


def test_decompression_bomb(client):
    data = (CORPUS / "decompression_bomb.gif").read_bytes()

    body = assert_problem(upload(client, data, "bomb.gif"), 413, detail_has="pixels")
    # The limit quoted is this service's (MAX_IMAGE_PIXELS), not twice it as Pillow says.
    assert "89,478,485" in body["detail"]
    assert "178,956,970" not in body["detail"] and "178956970" not in body["detail"]
    assert ".." not in body["detail"]


def test_a_bomb_quotes_the_configured_limit(make_client):
    client = make_client(MAX_IMAGE_PIXELS=1_000)

    body = assert_problem(upload(client, jpeg(size=(100, 100)), "big.jpg"), 413)

    assert "the limit of 1,000" in body["detail"]
    assert ".." not in body["detail"]


def test_image_over_the_pixel_limit_in_pillows_warning_range(make_client):
    """Pillow only warns between its limit and twice that; the service refuses."""
    client = make_client(MAX_IMAGE_PIXELS=10_000)

    with pytest.warns(Image.DecompressionBombWarning):
        response = upload(client, encode(noise((120, 100)), "PNG"), "big.png")

    assert_problem(response, 413, detail_has="12,000 pixels")


def test_animation_over_the_pixel_limit_counting_all_frames(make_client):
    client = make_client(MAX_IMAGE_PIXELS=3 * 64 * 64 - 1)
    frames = [noise((64, 64), seed=seed) for seed in range(3)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])

    assert_problem(upload(client, data, "anim.gif"), 413, detail_has="all frames")


def test_body_over_max_content_length(make_client):
    client = make_client(MAX_CONTENT_LENGTH=50_000)

    response = upload(client, jpeg(size=(400, 400), quality=100), "big.jpg")

    assert_problem(response, 413, detail_has="exceeds")


def test_format_outside_the_allowed_list(client):
    icon = encode(noise((32, 32)), "ICO")

    assert_problem(upload(client, icon, "icon.jpg"), 415, detail_has="JPEG, PNG")


def test_format_removed_from_the_allowed_list_by_configuration(make_client):
    client = make_client(ALLOWED_FORMATS=["JPEG", "PNG"])

    response = upload(client, encode(noise(), "GIF"), "anim.gif")

    assert_problem(response, 415, detail_has="(JPEG, PNG)")


def test_more_files_than_allowed_in_one_request(make_client):
    client = make_client(MAX_UPLOAD_FILES=3)
    files = [(io.BytesIO(jpeg(seed=n)), f"{n}.jpg") for n in range(4)]

    response = client.post("/image/upload", data={"image": files})

    assert_problem(response, 413, detail_has="at most 3 files")


def test_unknown_route_is_problem_json_not_html(client):
    assert_problem(client.get("/nowhere"), 404)


def test_wrong_method_is_problem_json(client):
    response = client.put("/image/upload")

    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_formats_outside_the_list_are_never_parsed(client):
    """An EPS file would make Pillow run Ghostscript; it is refused before that."""
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\nshowpage\n"

    assert_problem(upload(client, eps, "drawing.jpg"), 415)


@pytest.mark.parametrize(
    ("send", "status", "errors"),
    [
        (
            lambda client, names: client.get("/image/list?" + "&".join(f"{n}=1" for n in names)),
            400,
            5_000,
        ),
        (  # and the prompt is missing
            lambda client, names: client.post("/image/generate", json=dict.fromkeys(names, 1)),
            422,
            5_001,
        ),
    ],
    ids=["query", "json"],
)
def test_thousands_of_unknown_fields_get_a_short_answer(client, send, status, errors):
    """Each wrong field is named, up to a few; past them the answer says how
    many more, so that its size does not grow with what the client sent."""
    names = [f"unknown_{n:05d}" for n in range(5_000)]
    response = send(client, names)

    body = assert_problem(response, status, detail_has="unknown_00000")
    assert len(response.get_data()) < 10_000
    assert len(body["errors"]) == MAX_LISTED_ERRORS
    assert "unknown_04999" not in response.get_data(as_text=True)
    assert body["detail"].endswith(f"and {errors - MAX_LISTED_ERRORS:,} more")


def test_a_field_name_of_60_kb_is_not_echoed_whole(client):
    response = client.get(f"/image/list?{'x' * 60_000}=1")

    body = assert_problem(response, 400, detail_has="xxx")
    assert len(response.get_data()) < 2_000
    assert body["errors"][0]["field"] == "x" * (MAX_LISTED_NAME - 1) + "…"
