"""Thumbnails: sizes, formats by Accept, orientation, odd modes, caching."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops, ImageStat
from support import CORPUS, assert_problem, encode, jpeg, noise, stored_files, upload

BROWSER = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"  # what Chrome and Firefox send
WEBP_BROWSER = "image/webp,image/apng,image/*,*/*;q=0.8"  # before AVIF


def stored(client, data: bytes, name: str = "photo.jpg") -> dict:
    response = upload(client, data, name)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fetch(client, record: dict, accept: str = "*/*", **params) -> tuple[Image.Image, object]:
    response = client.get(
        f"/image/{record['id']}/thumbnail", query_string=params, headers={"Accept": accept}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    picture = Image.open(io.BytesIO(response.data))
    picture.load()
    return picture, response


def test_default_is_256_on_the_longest_side_with_the_aspect_kept(client):
    record = stored(client, jpeg(size=(1000, 500)))

    picture, response = fetch(client, record)

    assert picture.size == (256, 128)
    assert picture.format == "JPEG"
    assert response.mimetype == "image/jpeg"


@pytest.mark.parametrize("size", [64, 128, 256, 512, 1024])
def test_every_preset_size(client, size):
    record = stored(client, jpeg(size=(1200, 900)))

    picture, _ = fetch(client, record, size=size)

    assert max(picture.size) == size
    assert picture.width / picture.height == pytest.approx(1200 / 900, rel=0.02)


def test_small_pictures_are_never_enlarged(client):
    record = stored(client, jpeg(size=(40, 30)))

    picture, _ = fetch(client, record, size=1024)

    assert picture.size == (40, 30)


@pytest.mark.parametrize("size", ["300", "0", "big", "-64"])
def test_other_sizes_are_400(client, size):
    record = stored(client, jpeg())

    assert_problem(
        client.get(f"/image/{record['id']}/thumbnail?size={size}"), 400, detail_has="size"
    )


@pytest.mark.parametrize(
    ("accept", "alpha", "expected"),
    [
        (BROWSER, False, "image/avif"),
        (BROWSER, True, "image/avif"),
        (WEBP_BROWSER, False, "image/webp"),
        (WEBP_BROWSER, True, "image/webp"),
        ("image/webp,image/avif", False, "image/avif"),  # a tie: the smaller
        ("image/avif;q=0.5,image/webp", False, "image/webp"),  # the client's preference
        ("image/avif;q=0,image/webp;q=0,*/*", False, "image/jpeg"),
        ("image/*", False, "image/jpeg"),
        ("*/*", False, "image/jpeg"),
        ("*/*", True, "image/png"),
        ("image/jpeg,image/png", False, "image/jpeg"),
        ("image/webp;q=0,*/*", False, "image/jpeg"),
    ],
)
def test_format_follows_accept(client, accept, alpha, expected):
    mode = "RGBA" if alpha else "RGB"
    record = stored(client, encode(noise((80, 60), mode=mode), "PNG"), "p.png")

    picture, response = fetch(client, record, accept=accept)

    assert response.mimetype == expected
    assert "Accept" in response.headers["Vary"]
    if expected in ("image/png", "image/avif") and alpha:
        assert picture.mode == "RGBA"


@pytest.mark.parametrize(
    ("name", "mime", "pillow_format"),
    [
        ("webp", "image/webp", "WEBP"),
        ("jpeg", "image/jpeg", "JPEG"),
        ("jpg", "image/jpeg", "JPEG"),
        ("JPG", "image/jpeg", "JPEG"),
        ("png", "image/png", "PNG"),
        ("avif", "image/avif", "AVIF"),
        ("AVIF", "image/avif", "AVIF"),
    ],
)
def test_format_parameter_wins_over_accept(client, name, mime, pillow_format):
    record = stored(client, jpeg())

    picture, response = fetch(client, record, accept=WEBP_BROWSER, format=name)

    assert response.mimetype == mime
    assert picture.format == pillow_format


def test_caching_headers_and_304(client):
    record = stored(client, jpeg())
    _, response = fetch(client, record)

    directives = {part.strip() for part in response.headers["Cache-Control"].split(",")}
    assert directives == {"public", "max-age=31536000", "immutable"}
    again = client.get(
        f"/image/{record['id']}/thumbnail", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    other_format = client.get(
        f"/image/{record['id']}/thumbnail?format=png",
        headers={"If-None-Match": response.headers["ETag"]},
    )
    assert other_format.status_code == 200


def test_private_read_mode_keeps_thumbnails_out_of_shared_caches(make_client):
    client = make_client(PUBLIC_READ=False)
    record = stored(client, jpeg())

    _, response = fetch(client, record)

    directives = {part.strip() for part in response.headers["Cache-Control"].split(",")}
    assert directives == {"private", "max-age=31536000", "immutable"}


def test_default_size_is_made_at_ingest_and_others_on_first_request(client, storage_dir):
    record = stored(client, jpeg(size=(600, 400)))
    sha = record["sha512"]

    def thumbnail_files():
        return sorted(p.name for p in stored_files(storage_dir) if p.parts[-4] == "thumbnails")

    assert thumbnail_files() == [f"{sha}-256.jpg"]
    fetch(client, record, size=64)
    fetch(client, record, accept=WEBP_BROWSER)
    fetch(client, record, accept=BROWSER)
    assert thumbnail_files() == [
        f"{sha}-256.avif",
        f"{sha}-256.jpg",
        f"{sha}-256.webp",
        f"{sha}-64.jpg",
    ]


def _orient(picture: Image.Image, orientation: int) -> bytes:
    """Store `picture` so that a viewer honouring `orientation` shows it as it is."""
    undo = {
        2: [Image.Transpose.FLIP_LEFT_RIGHT],
        3: [Image.Transpose.ROTATE_180],
        4: [Image.Transpose.FLIP_TOP_BOTTOM],
        5: [Image.Transpose.TRANSPOSE],
        6: [Image.Transpose.ROTATE_90],
        7: [Image.Transpose.TRANSVERSE],
        8: [Image.Transpose.ROTATE_270],
    }
    stored_pixels = picture
    for step in undo.get(orientation, []):
        stored_pixels = stored_pixels.transpose(step)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored_pixels, "PNG", exif=exif)


def _marker() -> Image.Image:
    """Landscape, white, with a red block in the top-left corner only."""
    picture = Image.new("RGB", (120, 80), "white")
    picture.paste((255, 0, 0), (0, 0, 30, 20))
    return picture


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_shown_upright(client, orientation):
    record = stored(client, _orient(_marker(), orientation), f"o{orientation}.png")

    picture, _ = fetch(client, record, format="png", size=64)

    assert picture.size == (64, 43)
    top_left = picture.convert("RGB").crop((0, 0, 12, 8))
    bottom_right = picture.convert("RGB").crop((52, 35, 64, 43))
    assert ImageStat.Stat(top_left).mean[1] < 60  # red: no green
    assert ImageStat.Stat(bottom_right).mean[1] > 200  # white


def test_the_corpus_orientation_samples_all_show_the_same_upright_picture(client):
    thumbnails = []
    for orientation in range(2, 9):
        name = f"hopper_orientation_{orientation}.jpg"
        record = stored(client, (CORPUS / name).read_bytes(), name)
        picture, _ = fetch(client, record, format="png", size=128)
        thumbnails.append(picture.convert("L"))

    reference = thumbnails[0]
    for picture in thumbnails[1:]:
        assert picture.size == reference.size
        difference = ImageStat.Stat(ImageChops.difference(picture, reference)).mean[0]
        assert difference < 8  # the same picture, give or take JPEG noise


def test_a_camera_portrait_stands_up(client):
    record = stored(client, (CORPUS / "exiv2-nikon-d70.jpg").read_bytes(), "d70.jpg")

    picture, _ = fetch(client, record, size=64)

    assert record["width"] < record["height"]  # as a viewer shows it
    assert picture.height > picture.width


@pytest.mark.parametrize(
    ("name", "mode_out"),
    [
        ("pil_sample_cmyk.jpg", "RGB"),
        ("pil123p.png", "RGBA"),
        ("transparent.gif", "RGBA"),
        ("RGB_16__128x128.png", "RGB"),
        ("iss634.gif", "RGB"),
        ("iss634.webp", "RGBA"),
        ("avif.avif", "RGB"),
    ],
)
def test_unusual_sources_make_good_thumbnails(client, name, mode_out):
    record = stored(client, (CORPUS / name).read_bytes(), name)

    picture, _ = fetch(client, record, format="png", size=64)

    assert picture.mode == mode_out
    assert max(picture.size) == min(64, max(record["width"], record["height"]))
    assert ImageStat.Stat(picture.convert("L")).stddev[0] > 1  # not a blank square


@pytest.mark.parametrize("mode", ["I;16", "LA", "L", "1"])
def test_other_modes(client, mode):
    if mode == "I;16":
        source = Image.linear_gradient("L").resize((64, 64)).convert("I").point(lambda v: v * 256)
        source = source.convert("I;16")
    else:
        source = noise((64, 64), mode="LA" if mode == "LA" else "L").convert(mode)
    record = stored(client, encode(source, "PNG"), f"{mode}.png")

    picture, _ = fetch(client, record, format="jpeg", size=64)

    assert picture.mode in ("L", "RGB")
    if mode == "I;16":  # the gradient survives: 16-bit values are scaled, not clipped
        assert (
            ImageStat.Stat(picture.convert("L")).extrema[0][1]
            - ImageStat.Stat(picture.convert("L")).extrema[0][0]
            > 200
        )


@pytest.mark.parametrize("offload", ["", "x-accel-redirect"])
def test_a_delete_racing_a_thumbnail_request_is_not_a_500(make_client, monkeypatch, offload):
    """The delete lands after the thumbnail was found and before it is sent:
    the bytes already opened are sent whole, else the answer is a 404."""
    from image_repo import thumbnails

    client = make_client(FILE_OFFLOAD=offload)
    record = stored(client, jpeg())
    find = thumbnails.get

    def found_then_deleted(storage, image, size, name, **options):
        thumbnail = find(storage, image, size, name, **options)
        with client.application.test_client() as other:
            other.environ_base.update(client.environ_base)
            assert other.delete(f"/image/{image.id}").status_code == 204
        return thumbnail

    monkeypatch.setattr(thumbnails, "get", found_then_deleted)

    response = client.get(f"/image/{record['id']}/thumbnail")

    if offload:
        assert_problem(response, 404, detail_has="no image")
    else:
        assert response.status_code == 200
        assert Image.open(io.BytesIO(response.data)).size == (64, 48)


def test_a_delete_while_a_thumbnail_is_being_made_leaves_no_thumbnail(
    client, monkeypatch, storage_dir
):
    """The delete lands while a new size is being encoded: the request is a
    404, and the thumbnail it made is not left behind without its image."""
    from image_repo import imaging

    record = stored(client, jpeg())
    encode = imaging.encode

    def encode_while_deleted(image, name):
        data = encode(image, name)
        with client.application.test_client() as other:
            other.environ_base.update(client.environ_base)
            assert other.delete(f"/image/{record['id']}").status_code == 204
        return data

    monkeypatch.setattr(imaging, "encode", encode_while_deleted)

    assert_problem(client.get(f"/image/{record['id']}/thumbnail?size=128"), 404)
    assert stored_files(storage_dir) == []
