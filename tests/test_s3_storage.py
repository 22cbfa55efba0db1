"""What the S3 backend does beyond the storage contract (test_storage.py runs
that against it too): the requests it makes, its presigned links, its
multipart uploads, and its errors. Against moto's server over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import io
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests
from s3_server import CREDENTIALS, free_port

from image_repo.blobstore import NotStored, StorageUnavailable, open_storage, s3
from image_repo.blobstore.s3 import S3Settings, S3Storage
from image_repo.download_names import content_disposition

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

KEY = "originals/ab/cd/abcd.jpg"


@pytest.fixture
def store(s3_bucket):
    return open_storage(s3_bucket.location)


def record_requests(store: S3Storage) -> list[tuple[str, str | None]]:
    """(operation, Range header) of every request the store sends from now on."""
    sent: list[tuple[str, str | None]] = []

    def before_send(request, event_name: str, **_kwargs) -> None:
        asked = request.headers.get("Range")
        sent.append((event_name.rsplit(".", 1)[-1], asked.decode() if asked else None))

    store.client.meta.events.register("before-send.s3", before_send)
    return sent


def test_keys_keep_their_layout_under_the_prefix(s3_bucket, store):
    store.put(KEY, b"x")

    assert s3_bucket.server.keys(s3_bucket.name) == [f"repo/{KEY}"]
    assert [obj.key for obj in store.list("originals/")] == [KEY]


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://pictures", "pictures", ""),
        ("s3://pictures/", "pictures", ""),
        ("s3://pictures/site/one/", "pictures", "site/one/"),
        ("s3://pictures/site", "pictures", "site/"),
    ],
)
def test_locations_name_a_bucket_and_a_prefix(url, bucket, prefix):
    store = S3Storage.from_url(url)

    assert (store.bucket, store.prefix, store.location) == (
        bucket,
        prefix,
        f"s3://{bucket}/{prefix}",
    )


@pytest.mark.parametrize("url", ["s3://", "s3://Bad_Bucket/x", "s3://b/x?versionId=1", "s3:/b"])
def test_a_location_that_names_no_bucket_is_refused(url):
    with pytest.raises(ValueError, match="bucket"):
        S3Storage.from_url(url)


def test_a_seek_to_the_end_downloads_nothing_and_a_range_asks_for_its_bytes(store):
    data = bytes(range(256)) * 40_000  # 10 MB
    store.put(KEY, data)
    sent = record_requests(store)

    with store.open(KEY) as stream:
        assert stream.seek(0, io.SEEK_END) == len(data)
        stream.seek(0)
        assert stream.read(10) == data[:10]
        stream.seek(7_000_000)
        assert stream.read(100) == data[7_000_000:7_000_100]

    assert sent == [("GetObject", None), ("GetObject", "bytes=7000000-")]


def test_a_whole_read_is_one_request(store):
    data = bytes(range(256)) * 4000
    store.put(KEY, data)
    sent = record_requests(store)

    assert store.read(KEY) == data
    assert sent == [("GetObject", None)]


def test_big_files_go_up_in_parts(store, tmp_path, monkeypatch):
    monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", 8 * 2**20)
    monkeypatch.setattr(s3, "MULTIPART_CHUNK", 5 * 2**20)  # S3's smallest part
    source = tmp_path / "big.part"
    data = bytes(range(256)) * (12 * 2**12)  # 12 MiB: three parts
    source.write_bytes(data)

    store.put_file(KEY, source)

    head = store.client.head_object(Bucket=store.bucket, Key=store.prefix + KEY)
    assert head["ETag"].strip('"').endswith("-3")  # S3's mark of a multipart object
    assert store.read(KEY) == data


def test_deletes_go_in_batches(store, monkeypatch):
    monkeypatch.setattr(s3, "DELETE_BATCH", 2)
    keys = [f"thumbnails/ab/cd/abcd-{size}.jpg" for size in (64, 128, 256, 512, 1024)]
    for key in keys:
        store.put(key, b"t")
    sent = record_requests(store)

    store.delete_many(keys)

    assert [operation for operation, _ in sent] == ["DeleteObjects"] * 3
    assert list(store.list("thumbnails/")) == []


def test_copy_is_done_by_the_bucket(store):
    store.put(KEY, b"stray")
    sent = record_requests(store)

    store.copy(KEY, f"lost+found/20260101t000000z/{KEY}")

    assert sent == [("CopyObject", None)]
    assert store.read(f"lost+found/20260101t000000z/{KEY}") == b"stray"
    with pytest.raises(NotStored):
        store.copy("originals/ab/cd/never.jpg", "lost+found/x/originals/ab/cd/never.jpg")


def test_check_leaves_nothing_behind(s3_bucket, store):
    assert "takes writes" in store.check()

    assert s3_bucket.server.keys(s3_bucket.name) == []


def test_unfinished_multipart_uploads_under_the_prefix_are_aborted(s3_bucket, store):
    """moto dates every multipart upload in 2010, so all of them count as old here."""
    client = store.client
    client.create_multipart_upload(Bucket=store.bucket, Key=f"repo/{KEY}")
    elsewhere = client.create_multipart_upload(Bucket=store.bucket, Key="other-app/x.jpg")

    assert store.remove_partial_writes(older_than=3600) == 1

    left = client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    assert [upload["UploadId"] for upload in left] == [elsewhere["UploadId"]]


def sigv4_valid(url: str, secret: str, method: str) -> bool:
    """Whether a presigned URL carries a valid AWS Signature V4 for `method`
    (what S3 checks and moto does not)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    fields = dict(query)
    canonical_query = "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}"
        for name, value in sorted(query)
        if name != "X-Amz-Signature"
    )
    assert fields["X-Amz-SignedHeaders"] == "host"
    canonical_request = "\n".join(
        [method, parts.path, canonical_query, f"host:{parts.netloc}\n", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = fields["X-Amz-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            fields["X-Amz-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["X-Amz-Signature"])


def test_a_link_is_a_signed_get_that_names_type_and_file(s3_bucket):
    store = S3Storage.from_url(s3_bucket.location, S3Settings(link_expires=120))
    store.put(KEY, b"picture bytes")
    before = datetime.now(UTC).replace(microsecond=0)

    disposition = content_disposition("Été 1.jpg", 7, "JPEG", attachment=True)
    link = store.link(KEY, mime_type="image/jpeg", content_disposition=disposition)

    fields = dict(parse_qsl(urlsplit(link.url).query))
    signed_at = datetime.strptime(fields["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert fields["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert fields["X-Amz-Expires"] == "120"
    assert before <= signed_at <= datetime.now(UTC)
    assert link.expires_at <= signed_at + timedelta(seconds=120)
    assert link.expires_at >= before + timedelta(seconds=119)
    assert fields["response-content-type"] == "image/jpeg"
    assert fields["response-content-disposition"] == (
        "attachment; filename=\"Ete 1.jpg\"; filename*=UTF-8''%C3%89t%C3%A9%201.jpg"
    )
    credential = fields["X-Amz-Credential"].split("/")
    assert credential[0] == CREDENTIALS["AWS_ACCESS_KEY_ID"]
    assert credential[2:] == [CREDENTIALS["AWS_DEFAULT_REGION"], "s3", "aws4_request"]
    secret = CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
    assert secret not in link.url
    assert sigv4_valid(link.url, secret, "GET")
    assert not sigv4_valid(link.url, secret, "PUT")
    assert not sigv4_valid(link.url.replace("attachment", "inline"), secret, "GET")

    answer = requests.get(link.url, timeout=10)
    assert answer.content == b"picture bytes"
    assert answer.headers["Content-Type"] == "image/jpeg"
    assert answer.headers["Content-Disposition"].startswith("attachment;")


def test_a_link_is_handed_out_again_only_while_half_its_life_is_left(s3_bucket):
    store = S3Storage.from_url(s3_bucket.location, S3Settings(link_expires=2))
    store.put(KEY, b"x")

    def link(name: str | None = None):
        disposition = name and content_disposition(name, 7, "JPEG", attachment=False)
        return store.link(KEY, mime_type="image/jpeg", content_disposition=disposition)

    first, again, named = link(), link(), link("a.jpg")
    time.sleep(1.1)
    later = link()

    assert again.url == first.url  # one URL for a CDN to cache
    assert named.url != first.url
    assert later.url != first.url  # the first has less than half its life left
    assert (later.expires_at - datetime.now(UTC)).total_seconds() > 1


@pytest.mark.parametrize("seconds", [0, 7 * 24 * 3600 + 1])
def test_link_lifetimes_s3_cannot_honour_are_refused(seconds):
    with pytest.raises(ValueError, match="LINK_EXPIRES"):
        S3Storage("pictures", "", S3Settings(link_expires=seconds))


def test_a_missing_bucket_is_named(s3_bucket):
    store = open_storage(f"s3://{s3_bucket.name}-gone/repo")

    with pytest.raises(StorageUnavailable, match="bucket does not exist"):
        store.check()


def test_a_store_that_is_down_fails_within_seconds_and_says_little(s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")  # nothing there
    store = open_storage(s3_bucket.location)

    for attempt in (lambda: store.put(KEY, b"x"), lambda: store.open(KEY), store.check):
        started = time.monotonic()
        with pytest.raises(StorageUnavailable, match="unreachable") as caught:
            attempt()
        assert time.monotonic() - started < 5
        message = str(caught.value)
        assert "127.0.0.1" not in message
        assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in message
        assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_no_credentials_is_said_plainly(s3_bucket, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = open_storage(s3_bucket.location)

    with pytest.raises(StorageUnavailable, match="no AWS credentials"):
        store.stat(KEY)


def test_a_big_file_for_a_bucket_that_is_gone_fails_as_any_write(s3_bucket, tmp_path, monkeypatch):
    monkeypatch.setattr(s3, "MULTIPART_THRESHOLD", 8 * 2**20)
    monkeypatch.setattr(s3, "MULTIPART_CHUNK", 5 * 2**20)
    source = tmp_path / "big.part"
    source.write_bytes(bytes(12 * 2**20))
    store = open_storage(f"s3://{s3_bucket.name}-gone/repo")

    with pytest.raises(StorageUnavailable, match="bucket does not exist"):
        store.put_file(KEY, source)


def test_an_endpoint_that_is_no_url_is_a_clear_error(s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url")

    with pytest.raises(StorageUnavailable, match="S3 client"):
        open_storage(s3_bucket.location).stat(KEY)
