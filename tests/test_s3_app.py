"""The service on a bucket: FILE_STORAGE_LOCATION=s3://bucket/prefix on a
real S3 server (moto's, over HTTP). Uploads, downloads, thumbnails, deletes,
fsck, the repository mark, redirects to presigned URLs and startup recovery
work as they do on disk, and nothing stays on the node's own disk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from support import died_a_day_ago, jpeg, png, stored_files, upload

from image_repo import create_app
from image_repo.repository import RepositoryMismatch


@pytest.fixture
def s3_app(make_app, s3_bucket):
    return make_app(FILE_STORAGE_LOCATION=s3_bucket.location)


@pytest.fixture
def s3_client(s3_app, token):
    client = s3_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def sent_by(app) -> list[str]:
    """The S3 operations the app's store sends from now on."""
    operations: list[str] = []
    client = app.extensions["image_repo.storage"].client
    client.meta.events.register(
        "before-send.s3", lambda event_name, **_: operations.append(event_name.split(".")[-1])
    )
    return operations


def test_an_upload_lands_in_the_bucket_and_nowhere_else(
    s3_client, s3_bucket, storage_dir, instance_dir
):
    data = jpeg(seed=1, size=(300, 200))

    response = upload(s3_client, data, "harbour.jpg")

    assert response.status_code == 201
    sha = response.get_json()["sha512"]
    assert s3_bucket.listing() == [
        f"originals/{sha[:2]}/{sha[2:4]}/{sha}.jpg",
        "repository.json",
        f"thumbnails/{sha[:2]}/{sha[2:4]}/{sha}-256.jpg",
    ]
    assert stored_files(storage_dir) == []
    assert list((instance_dir / "scratch").iterdir()) == []  # received, stored, gone


def test_downloads_keep_their_headers_ranges_and_304(s3_client, s3_app):
    data = jpeg(seed=2, size=(400, 300))
    record = upload(s3_client, data, "Été à Paris.jpg").get_json()
    url = f"/image/{record['id']}"

    whole = s3_client.get(url)
    ranged = s3_client.get(url, headers={"Range": "bytes=100-199"})
    tail = s3_client.get(url, headers={"Range": "bytes=-50"})
    attachment = s3_client.get(f"{url}?download=1")
    operations = sent_by(s3_app)
    unchanged = s3_client.get(url, headers={"If-None-Match": whole.headers["ETag"]})

    assert whole.status_code == 200
    assert whole.data == data
    assert whole.headers["Content-Type"] == "image/jpeg"
    assert whole.headers["Content-Length"] == str(len(data))
    assert whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["Content-Disposition"] == (
        "inline; filename=\"Ete a Paris.jpg\"; filename*=UTF-8''%C3%89t%C3%A9%20%C3%A0%20Paris.jpg"
    )
    assert whole.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in whole.headers["Content-Security-Policy"]
    assert (ranged.status_code, ranged.data) == (206, data[100:200])
    assert ranged.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert (tail.status_code, tail.data) == (206, data[-50:])
    assert attachment.headers["Content-Disposition"].startswith("attachment;")
    assert unchanged.status_code == 304
    assert operations == []  # a 304 never asks the bucket


def test_thumbnails_are_made_once_and_kept_in_the_bucket(s3_client, s3_app, s3_bucket):
    record = upload(s3_client, jpeg(seed=3, size=(800, 600))).get_json()
    url = f"/image/{record['id']}/thumbnail?size=512"
    operations = sent_by(s3_app)

    first = s3_client.get(url)
    made = list(operations)
    operations.clear()
    second = s3_client.get(url)
    as_base64 = s3_client.get(f"/image/{record['id']}/base64?thumbnail=512")

    assert first.status_code == second.status_code == 200
    assert first.data == second.data
    assert first.headers["Content-Type"] == "image/jpeg"
    assert "PutObject" in made
    assert "PutObject" not in operations
    sha = record["sha512"]
    assert f"thumbnails/{sha[:2]}/{sha[2:4]}/{sha}-512.jpg" in s3_bucket.listing("thumbnails/")
    assert as_base64.get_json()["mime_type"] == "image/jpeg"


def test_a_delete_removes_every_object_of_the_picture(s3_client, s3_bucket):
    record = upload(s3_client, png(seed=4, size=(300, 300)), "p.png").get_json()
    s3_client.get(f"/image/{record['id']}/thumbnail?size=128")
    s3_client.get(f"/image/{record['id']}/thumbnail?size=64&format=webp")
    assert len(s3_bucket.listing()) == 5

    assert s3_client.delete(f"/image/{record['id']}").status_code == 204

    assert s3_bucket.listing() == ["repository.json"]
    assert s3_client.get(f"/image/{record['id']}").status_code == 404


def test_fsck_lists_the_bucket_quarantines_and_restores(s3_app, s3_client, s3_bucket, query):
    kept = upload(s3_client, jpeg(seed=5)).get_json()
    lost = upload(s3_client, jpeg(seed=6)).get_json()
    stray_data = jpeg(seed=7)
    stray = upload(s3_client, stray_data).get_json()
    s3 = s3_bucket.server.client()
    sha = lost["sha512"]
    s3.delete_object(Bucket=s3_bucket.name, Key=f"repo/originals/{sha[:2]}/{sha[2:4]}/{sha}.jpg")
    query("DELETE FROM images WHERE id = :id", id=stray["id"])
    query("DELETE FROM pictures WHERE sha512 = :sha", sha=stray["sha512"])
    runner = s3_app.test_cli_runner()

    found = runner.invoke(args=["images", "fsck"])
    repaired = runner.invoke(args=["images", "fsck", "--repair"])

    assert found.exit_code == 1
    assert f"missing-original    image {lost['id']}" in found.output
    assert "orphan-original" in found.output and "orphan-thumbnail" in found.output
    assert f"image {kept['id']}" not in found.output
    [moved] = [key for key in s3_bucket.listing("lost+found/") if not key.endswith(".json")]
    assert moved.endswith(f"{stray['sha512']}.jpg")
    assert s3.get_object(Bucket=s3_bucket.name, Key=f"repo/{moved}")["Body"].read() == stray_data
    assert moved in repaired.output  # says where it went, and how to restore it

    restored = runner.invoke(args=["images", "restore", moved, "--owner", "alice"])

    assert restored.exit_code == 0, restored.output
    assert s3_bucket.listing("lost+found/") == []
    new_id = int(restored.output.rsplit("/", 1)[1])
    assert s3_client.get(f"/image/{new_id}").data == stray_data
    s3_client.delete(f"/image/{lost['id']}")
    clean = runner.invoke(args=["images", "fsck"])
    assert clean.exit_code == 0, clean.output


def test_the_bucket_carries_the_repository_mark(s3_client, s3_bucket, request, tmp_path_factory):
    from conftest import make_database

    upload(s3_client, jpeg(seed=8))
    s3 = s3_bucket.server.client()
    mark = s3.get_object(Bucket=s3_bucket.name, Key="repo/repository.json")["Body"].read()
    other = make_database(request, tmp_path_factory, migrate=True)
    second_database = next(other)
    try:
        with pytest.raises(RepositoryMismatch, match="belongs to another") as refused:
            create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": second_database,
                    "FILE_STORAGE_LOCATION": s3_bucket.location,
                }
            )
    finally:
        next(other, None)
    assert s3_bucket.location in str(refused.value)
    assert s3.get_object(Bucket=s3_bucket.name, Key="repo/repository.json")["Body"].read() == mark


def test_redirect_hands_the_bytes_to_the_bucket(make_client, s3_bucket):
    client = make_client(
        FILE_STORAGE_LOCATION=s3_bucket.location, FILE_OFFLOAD="redirect", LINK_EXPIRES=60
    )
    data = jpeg(seed=9, size=(500, 400))
    record = upload(client, data, "Été.jpg").get_json()
    asked_at = datetime.now(UTC).replace(microsecond=0)

    original = client.get(f"/image/{record['id']}?download=1")
    thumbnail = client.get(f"/image/{record['id']}/thumbnail")
    unchanged = client.get(
        f"/image/{record['id']}", headers={"If-None-Match": f'"{record["sha512"][:40]}"'}
    )

    assert original.status_code == 302
    assert original.headers["Cache-Control"] == "private, no-store"
    link = urlsplit(original.location)
    fields = dict(parse_qsl(link.query))
    assert link.path == f"/{s3_bucket.name}/repo/originals/{record['sha512'][:2]}/" + (
        f"{record['sha512'][2:4]}/{record['sha512']}.jpg"
    )
    assert fields["response-content-type"] == "image/jpeg"
    assert fields["response-content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%C3%89t%C3%A9.jpg" in fields["response-content-disposition"]
    signed_at = datetime.strptime(fields["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert fields["X-Amz-Expires"] == "60"
    assert signed_at >= asked_at  # signed for this answer, never an old link
    assert signed_at + timedelta(seconds=60) > datetime.now(UTC)
    fetched = requests.get(original.location, timeout=10)
    assert fetched.content == data
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert thumbnail.status_code == 302
    assert "/thumbnails/" in thumbnail.location
    assert requests.get(thumbnail.location, timeout=10).headers["Content-Type"] == "image/jpeg"
    assert unchanged.status_code == 304


def test_a_server_recovers_an_interrupted_store_in_the_bucket_at_startup(
    live_server, s3_bucket, s3_client, query
):
    abandoned = upload(s3_client, jpeg(seed=10)).get_json()
    kept = upload(s3_client, jpeg(seed=11)).get_json()
    # A store whose process died after writing its files, before its record.
    query("DELETE FROM images WHERE id = :id", id=abandoned["id"])
    died_a_day_ago(query, abandoned["sha512"], "storing")

    server = live_server(FILE_STORAGE_LOCATION=s3_bucket.location)

    assert not [key for key in s3_bucket.listing() if abandoned["sha512"] in key]
    assert query("SELECT COUNT(*) FROM pictures WHERE state <> 'stored'") == [(0,)]
    assert requests.get(f"{server.url}/image/{kept['id']}", timeout=10).ok


def test_x_sendfile_needs_files_not_a_bucket():
    from config import Config

    with pytest.raises(ValueError, match="x-sendfile"):
        Config({"FILE_STORAGE_LOCATION": "s3://pictures/repo", "FILE_OFFLOAD": "x-sendfile"})
