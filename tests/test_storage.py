"""The blob store on its own: server-made keys, atomic writes, no leftovers."""

from __future__ import annotations

import pytest

from image_repo.storage import LocalStorage, StorageError


@pytest.fixture
def store(tmp_path):
    storage = LocalStorage(tmp_path / "store")
    storage.init()
    return storage


@pytest.mark.parametrize(
    "key", ["../x.jpg", "/etc/passwd", "originals/../../x", "originals/.hidden", "x", ""]
)
def test_only_server_made_keys_are_paths(store, key):
    with pytest.raises(ValueError):
        store.path(key)


def test_put_then_open_then_delete(store):
    store.put("originals/ab/cd/abcd.png", b"bytes")

    with store.open("originals/ab/cd/abcd.png") as handle:
        assert handle.read() == b"bytes"
    store.delete("originals/ab/cd/abcd.png")
    store.delete("originals/ab/cd/abcd.png")  # already gone: fine
    assert not store.path("originals/ab/cd/abcd.png").exists()


def test_a_temp_file_is_gone_when_the_work_fails(store):
    with pytest.raises(RuntimeError), store.temp_file() as temp:
        temp.write(b"half an image")
        raise RuntimeError("decoding failed")

    assert list((store.root / "tmp").iterdir()) == []


def test_commit_replaces_atomically_and_leaves_no_temp(store):
    store.put("originals/ab/cd/abcd.png", b"old")

    with store.temp_file() as temp:
        temp.write(b"new")
        store.commit(temp, "originals/ab/cd/abcd.png")

    assert store.path("originals/ab/cd/abcd.png").read_bytes() == b"new"
    assert list((store.root / "tmp").iterdir()) == []


def test_check_fails_clearly_when_storage_is_not_writable(store):
    (store.root / "tmp").rmdir()
    (store.root / "tmp").write_text("not a folder")

    with pytest.raises(StorageError, match="not writable"):
        store.check()
