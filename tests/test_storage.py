"""The storage contract: what every backend does, run unchanged against each."""

from __future__ import annotations

import io

import pytest

from image_repo.blobstore import NotStored, StorageError, open_storage

pytestmark = pytest.mark.one_database  # see conftest.pytest_collection_modifyitems

KEY = "originals/ab/cd/abcd.png"


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """Each backend in turn: a folder, and a bucket on a real S3 server."""
    if request.param == "s3":
        return open_storage(request.getfixturevalue("s3_bucket").location)
    return open_storage(str(tmp_path / "store"))


@pytest.mark.parametrize(
    "key", ["../x.jpg", "/etc/passwd", "originals/../../x", "originals/.hidden", "x", "", "A/b"]
)
def test_only_server_made_keys_are_accepted(store, key):
    with pytest.raises(ValueError):
        store.put(key, b"x")


def test_put_then_read_stat_and_delete(store):
    store.put(KEY, b"bytes")

    assert store.read(KEY) == b"bytes"
    found = store.stat(KEY)
    assert (found.key, found.size) == (KEY, 5)
    store.delete(KEY)
    store.delete(KEY)  # already gone: fine
    assert store.stat(KEY) is None
    with pytest.raises(NotStored):
        store.open(KEY)


def test_put_file_stores_a_copy_and_replaces_whole(store, tmp_path):
    source = tmp_path / "upload.part"
    source.write_bytes(b"new picture")
    store.put(KEY, b"old")

    store.put_file(KEY, source)
    source.write_bytes(b"changed afterwards")

    assert store.read(KEY) == b"new picture"


def test_open_is_seekable_for_ranges(store):
    store.put(KEY, bytes(range(256)) * 64)

    with store.open(KEY) as stream:
        assert stream.seek(0, io.SEEK_END) == 256 * 64
        stream.seek(1000)
        assert stream.read(4) == bytes([1000 % 256, 1001 % 256, 1002 % 256, 1003 % 256])


def test_list_gives_every_object_under_a_prefix_in_key_order(store):
    keys = [
        "thumbnails/ab/cd/abcd-64.jpg",
        "thumbnails/ab/cd/abcd-256.jpg",
        "thumbnails/ab/cd/abce-64.jpg",
        "originals/ab/cd/abcd.png",
    ]
    for key in keys:
        store.put(key, key.encode())

    assert [obj.key for obj in store.list("thumbnails/ab/cd/abcd-")] == [
        "thumbnails/ab/cd/abcd-256.jpg",
        "thumbnails/ab/cd/abcd-64.jpg",
    ]
    assert [obj.key for obj in store.list("thumbnails/")] == sorted(keys[:3])
    assert [obj.size for obj in store.list("originals/")] == [len(keys[3])]
    assert list(store.list("nothing-here/")) == []


def test_an_object_removed_while_a_listing_runs_is_no_error(store):
    """A listing is not a snapshot: what another request removes meanwhile
    (a thumbnail made for a picture being deleted, say) may or may not be in
    it, but the listing goes on (a delete that lists a picture's thumbnails
    answered 503 when one vanished under it)."""
    keys = [f"thumbnails/ab/cd/abcd-{size}.jpg" for size in (1024, 256, 64)]
    for key in keys:
        store.put(key, b"x")

    listing = store.list("thumbnails/ab/cd/abcd-")
    first = next(listing).key
    store.delete(keys[1])
    rest = [obj.key for obj in listing]

    assert first == keys[0]
    assert rest in ([keys[2]], keys[1:])


def test_copy_and_delete_many(store):
    store.put(KEY, b"stray")

    store.copy(KEY, f"lost+found/20260101t000000z/{KEY}")
    store.delete_many([KEY, "originals/ab/cd/never-stored.png"])

    assert store.read(f"lost+found/20260101t000000z/{KEY}") == b"stray"
    assert store.stat(KEY) is None


def test_check_proves_writes(store):
    assert store.check()


def test_check_fails_clearly_when_the_store_is_not_writable(tmp_path):
    (tmp_path / "store").write_text("a file where the folder should be")
    store = open_storage(str(tmp_path / "store"))

    with pytest.raises(StorageError, match="cannot"):
        store.check()
