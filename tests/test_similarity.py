"""Near-duplicates (GET /image/<id>/similar, `similar` on upload, `images
similar`) and upload checks by file checksum (POST /image/check)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator

import pytest
from conftest import authenticated, make_database
from flask_migrate import downgrade, upgrade
from PIL import Image as PillowImage
from PIL import ImageEnhance
from sqlalchemy import insert, select, update
from support import CORPUS, assert_problem, encode, jpeg, upload

from image_repo import create_app, perceptual, similarity
from image_repo.models import Picture, db


def photo() -> PillowImage.Image:
    """A real photo (ColorfulCups), at a size that keeps the tests quick."""
    with PillowImage.open(CORPUS / "ColorfulCups_2560x1600.jpg") as image:
        image.draft("RGB", (800, 500))
        return image.convert("RGB").resize((800, 500))


def edited_copies() -> dict[str, bytes]:
    """The photo edited as people edit photos, each a file of its own."""
    original = photo()
    width, height = original.size
    cropped = original.crop((24, 15, width - 24, height - 15))  # 3% a side
    return {
        "half-size-q60.jpg": encode(original.resize((width // 2, height // 2)), quality=60),
        "cropped.webp": encode(cropped, "WEBP", quality=80),
        "brighter.png": encode(ImageEnhance.Brightness(original).enhance(1.2), "PNG"),
    }


def other_photo() -> bytes:
    """A distinct real photo."""
    return (CORPUS / "avif.avif").read_bytes()


def stored(client, data: bytes, name: str) -> dict:
    response = upload(client, data, name)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def family(client) -> dict[str, int]:
    """The photo, its edited copies and a distinct photo, uploaded: name -> id."""
    ids = {"photo.jpg": stored(client, encode(photo(), quality=90), "photo.jpg")["id"]}
    for name, data in edited_copies().items():
        ids[name] = stored(client, data, name)["id"]
    ids["other.avif"] = stored(client, other_photo(), "other.avif")["id"]
    return ids


def similar(client, image_id: int, **query) -> list[dict]:
    response = client.get(f"/image/{image_id}/similar", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_edited_copies_are_found_nearest_first_and_distinct_photos_are_not(client, family):
    items = similar(client, family["photo.jpg"])

    found = {item["image"]["id"]: item["distance"] for item in items}
    copies = {family[name] for name in edited_copies()}
    assert set(found) == copies  # neither the photo itself nor the distinct one
    distances = [item["distance"] for item in items]
    assert distances == sorted(distances)
    assert all(0 <= distance <= perceptual.MAX_DISTANCE for distance in distances)
    assert items[0]["image"]["original_name"] in edited_copies()  # whole records
    assert similar(client, family["other.avif"]) == []


def test_a_copy_finds_the_photo_and_the_other_copies(client, family):
    found = {item["image"]["id"] for item in similar(client, family["cropped.webp"])}
    assert found == {family[name] for name in ("photo.jpg", "half-size-q60.jpg", "brighter.png")}


def test_an_upload_answers_with_the_near_duplicates_it_has(client):
    first = stored(client, encode(photo(), quality=90), "photo.jpg")
    assert first["similar"] == []

    copy = stored(client, edited_copies()["half-size-q60.jpg"], "small.jpg")

    assert copy["duplicate"] is False
    assert [item["id"] for item in copy["similar"]] == [first["id"]]
    assert 0 <= copy["similar"][0]["distance"] <= perceptual.MAX_DISTANCE
    unrelated = stored(client, jpeg(seed=7, size=(320, 200)), "noise.jpg")
    assert unrelated["similar"] == []


def test_the_same_picture_under_another_orientation_is_at_distance_zero(client):
    """The hash is of the upright picture: a copy whose pixels are stored
    turned, with the EXIF orientation that turns them back, looks the same."""
    ids = [
        stored(client, (CORPUS / f"hopper_orientation_{n}.jpg").read_bytes(), f"{n}.jpg")["id"]
        for n in (2, 6)
    ]
    items = similar(client, ids[0], max_distance=2)
    assert [item["image"]["id"] for item in items] == [ids[1]]


def test_max_distance_and_limit_narrow_the_answer(client, family):
    everything = similar(client, family["photo.jpg"])
    nearest = everything[0]["distance"]

    assert similar(client, family["photo.jpg"], limit=1) == everything[:1]
    closest = similar(client, family["photo.jpg"], max_distance=nearest)
    assert closest == [item for item in everything if item["distance"] <= nearest]
    assert len(similar(client, family["photo.jpg"], max_distance=0)) <= len(closest)


def test_other_users_records_are_listed_reads_being_shared(app, client, make_user, family):
    bob = authenticated(app.test_client(), make_user("bob"))
    bobs = stored(bob, encode(photo(), quality=90), "bobs-copy.jpg")
    assert bobs["duplicate"] is False  # his own record of the same picture
    assert {"id": family["photo.jpg"], "distance": 0} in bobs["similar"]

    items = similar(bob, bobs["id"])

    assert items[0] == {"image": items[0]["image"], "distance": 0}
    assert items[0]["image"]["id"] == family["photo.jpg"]
    assert items[0]["image"]["owner"] == "alice"
    assert bobs["id"] not in [item["image"]["id"] for item in items]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"max_distance": similarity.LARGEST_DISTANCE + 1}, "max_distance"),
        ({"max_distance": -1}, "max_distance"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_parameters_are_400(client, family, query, field):
    """A query string that does not fit is a malformed request (as for lists)."""
    response = client.get(f"/image/{family['photo.jpg']}/similar", query_string=query)
    problem = assert_problem(response, 400)
    assert field in str(problem["errors"])


def test_unknown_and_deleted_images_are_404(client, family):
    assert_problem(client.get("/image/999999/similar"), 404)
    assert_problem(client.get(f"/image/{2**70}/similar"), 404)
    assert client.delete(f"/image/{family['brighter.png']}").status_code == 204

    assert_problem(client.get(f"/image/{family['brighter.png']}/similar"), 404)
    found = {item["image"]["id"] for item in similar(client, family["photo.jpg"])}
    assert family["brighter.png"] not in found


def test_reads_need_a_token_when_they_are_not_public(make_app, make_user):
    app = make_app(PUBLIC_READ=False)
    alice = authenticated(app.test_client(), make_user("alice"))
    image_id = stored(alice, encode(photo(), quality=90), "photo.jpg")["id"]

    assert_problem(app.test_client().get(f"/image/{image_id}/similar"), 401)
    assert_problem(app.test_client().post("/image/check", json={"file_sha256": ["0" * 64]}), 401)
    assert similar(alice, image_id) == []


def test_the_search_finds_exactly_what_a_scan_finds(app):
    """Random hashes, and hashes planted at every distance around one: the
    banded index finds exactly the pictures a scan of every hash finds."""
    rng = random.Random(15)
    target = rng.getrandbits(64)
    planted = []
    for distance in range(similarity.LARGEST_DISTANCE + 3):
        for _ in range(3):
            flipped = rng.sample(range(64), distance)
            planted.append(target ^ sum(1 << bit for bit in flipped))
    hashes = planted + [rng.getrandbits(64) for _ in range(3000)]
    with app.app_context():
        db.session.execute(
            insert(Picture),
            [
                {
                    "sha512": f"{n:0128x}",
                    "state": "stored",
                    "format": "PNG",
                    "width": 1,
                    "height": 1,
                    "file_size": 1,
                    **similarity.hash_columns(fingerprint),
                }
                for n, fingerprint in enumerate(hashes, 1)
            ],
        )
        db.session.commit()
        ids = dict(db.session.execute(select(Picture.sha512, Picture.id)).all())
        for max_distance in range(similarity.LARGEST_DISTANCE + 1):
            expected = {
                ids[f"{n:0128x}"]: perceptual.distance(target, fingerprint)
                for n, fingerprint in enumerate(hashes, 1)
                if perceptual.distance(target, fingerprint) <= max_distance
            }
            assert similarity.near_pictures(target, max_distance) == expected, max_distance
        db.session.remove()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check(client, checksums: list[str]) -> list[dict]:
    response = client.post("/image/check", json={"file_sha256": checksums})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_check_names_your_record_of_each_file_in_the_order_asked(client, family):
    data = encode(photo(), quality=90)
    mine, unknown = sha256(data), sha256(b"never uploaded")

    items = check(client, [unknown, mine, mine.upper(), unknown])

    assert items == [
        {"file_sha256": unknown, "image_id": None},
        {"file_sha256": mine, "image_id": family["photo.jpg"]},
        {"file_sha256": mine.upper(), "image_id": family["photo.jpg"]},
        {"file_sha256": unknown, "image_id": None},
    ]


def test_check_tells_nothing_about_what_others_stored(make_app, make_user):
    app = make_app(ALLOW_ANONYMOUS_UPLOAD=True)
    client = authenticated(app.test_client(), make_user("alice"))
    bob = authenticated(app.test_client(), make_user("bob"))
    anonymous = app.test_client()
    data = encode(photo(), quality=90)
    stored(client, data, "alices.jpg")

    assert check(bob, [sha256(data)]) == [{"file_sha256": sha256(data), "image_id": None}]
    assert check(anonymous, [sha256(data)])[0]["image_id"] is None

    ownerless = stored(anonymous, jpeg(seed=3), "anonymous.jpg")["id"]
    assert check(anonymous, [sha256(jpeg(seed=3))])[0]["image_id"] == ownerless
    assert check(client, [sha256(jpeg(seed=3))])[0]["image_id"] is None


def test_a_checked_file_uploads_as_a_duplicate(client):
    """What check promises: the file it names is stored, as that record."""
    data = jpeg(seed=11)
    first = stored(client, data, "a.jpg")
    [item] = check(client, [sha256(data)])
    again = upload(client, data, "a.jpg").get_json()
    assert item["image_id"] == first["id"] == again["id"]
    assert again["duplicate"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"file_sha256": ["xyz"]},
        {"file_sha256": ["0" * 63]},
        {"file_sha256": ["0" * 64 + "\n"]},
        {"file_sha256": ["g" * 64]},
        {"file_sha256": [64]},
        {"file_sha256": []},
        {"file_sha256": "0" * 64},
        {"file_sha256": ["0" * 64] * 1001},
        {},
        {"file_sha256": ["0" * 64], "extra": 1},
    ],
    ids=[
        "short",
        "63-digits",
        "newline",
        "not-hex",
        "number",
        "empty",
        "not-a-list",
        "1001",
        "missing",
        "unknown-field",
    ],
)
def test_bad_checks_are_422(client, body):
    problem = assert_problem(client.post("/image/check", json=body), 422)
    assert problem["errors"]


def test_a_check_that_is_not_json_is_a_4xx_problem(client):
    response = client.post("/image/check", data="file_sha256=00", content_type="text/plain")
    assert 400 <= response.status_code < 500
    assert response.content_type == "application/problem+json"


def test_a_thousand_checksums_are_answered(client):
    data = jpeg(seed=5)
    record = stored(client, data, "a.jpg")["id"]
    checksums = [f"{n:064x}" for n in range(999)] + [sha256(data)]

    items = check(client, checksums)

    assert [item["file_sha256"] for item in items] == checksums
    assert [item["image_id"] for item in items] == [None] * 999 + [record]


def test_images_similar_lists_groups_of_near_duplicates(app, family):
    result = app.test_cli_runner().invoke(args=["images", "similar", "--quiet"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "group 1: 4 pictures"
    listed = [int(line.split()[1]) for line in lines[1:5]]
    assert listed == sorted(family[name] for name in ("photo.jpg", *edited_copies()))
    assert f"image {family['other.avif']:>8}" not in result.output
    assert lines[-1].startswith("1 group(s) of near-duplicates, 4 pictures, among 5 pictures")


@pytest.fixture
def empty_database(request, tmp_path_factory) -> Iterator[str]:
    yield from make_database(request, tmp_path_factory)


def test_backfill_gives_pictures_stored_before_hashes_their_hash_and_checksum(
    empty_database, tmp_path
):
    """A database filled before the perceptual hash existed (and before the
    file checksum was kept): after `images backfill`, search and check work."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": empty_database,
            "FILE_STORAGE_LOCATION": str(tmp_path / "storage"),
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "ALLOW_ANONYMOUS_UPLOAD": True,
        }
    )
    with app.app_context():
        upgrade()
    client = app.test_client()
    original = encode(photo(), quality=90)
    first = stored(client, original, "photo.jpg")["id"]
    copy = stored(client, edited_copies()["cropped.webp"], "copy.webp")["id"]
    with app.app_context():
        db.session.execute(update(Picture).values(file_sha256=None))
        db.session.commit()
        db.session.remove()  # MySQL alters no table a transaction has read
        downgrade(revision="0010")
        upgrade()
    assert similar(client, first) == []
    assert check(client, [sha256(original)])[0]["image_id"] is None

    result = app.test_cli_runner().invoke(args=["images", "backfill"])

    assert result.exit_code == 0, result.output
    assert "backfill: 2 pictures" in result.output and "2 filled, 0 failed" in result.output
    assert [item["image"]["id"] for item in similar(client, first)] == [copy]
    assert check(client, [sha256(original)])[0]["image_id"] == first
    again = app.test_cli_runner().invoke(args=["images", "backfill"])
    assert again.exit_code == 0 and "backfill: 0 pictures" in again.output
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
