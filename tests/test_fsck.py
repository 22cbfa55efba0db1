"""`flask images fsck [--repair]` and the recovery a restart runs."""

from __future__ import annotations

import os
import time

import pytest
from support import encode, jpeg, noise, originals, stored_files, upload

from image_repo import maintenance


@pytest.fixture
def fsck(app):
    runner = app.test_cli_runner()

    def run(*options: str):
        return runner.invoke(args=["images", "fsck", *options])

    return run


def test_a_consistent_store_is_clean(client, fsck):
    upload(client, jpeg(seed=1))
    upload(client, encode(noise(seed=2), "PNG"), "p.png")

    result = fsck()

    assert result.exit_code == 0, result.output
    assert "0 problem(s) found" in result.output


def test_every_kind_of_problem_is_found_and_the_safe_ones_repaired(
    client, fsck, storage_dir, query
):
    kept = upload(client, jpeg(seed=1)).get_json()
    lost = upload(client, jpeg(seed=2)).get_json()
    swapped = upload(client, jpeg(seed=3)).get_json()
    deleted = upload(client, jpeg(seed=4)).get_json()
    path = {p.name.split(".")[0]: p for p in originals(storage_dir)}
    # a row whose file vanished
    path[lost["sha512"]].unlink()
    # an original whose bytes are another picture's
    path[swapped["sha512"]].write_bytes(jpeg(seed=99))
    # a row removed behind the service's back: its original and thumbnails are orphans
    query("DELETE FROM images WHERE id = :id", id=deleted["id"])
    # an upload's temp file an hour old, and a store a crash cut short
    stale = storage_dir / "tmp" / "0123abcd.part"
    stale.write_bytes(b"half an upload")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = storage_dir / "tmp" / "fresh.part"
    fresh.write_bytes(b"an upload in progress")
    (storage_dir / "tmp" / f"{kept['sha512']}.pending").touch()

    found = fsck()

    assert found.exit_code == 1
    lines = found.output.splitlines()
    kinds = sorted(line.split()[1] for line in lines if line.startswith("found"))
    assert kinds == sorted(
        [
            "missing-original",
            "hash-mismatch",
            "size-mismatch",
            "orphan-original",
            "orphan-thumbnail",
            "leftover-temp",
            "interrupted-store",
        ]
    )

    repaired = fsck("--repair")

    assert repaired.exit_code == 1
    assert not (storage_dir / "tmp" / "0123abcd.part").exists()
    assert fresh.exists()
    assert not any(deleted["sha512"] in p.name for p in stored_files(storage_dir))
    assert not (storage_dir / "tmp" / f"{kept['sha512']}.pending").exists()
    assert any(kept["sha512"] in p.name for p in originals(storage_dir))

    after = fsck()
    remaining = sorted(
        line.split()[1] for line in after.output.splitlines() if line.startswith("found")
    )
    assert remaining == ["hash-mismatch", "missing-original", "size-mismatch"]


def test_skip_hashes_does_not_decode(client, fsck, storage_dir):
    record = upload(client, jpeg(seed=1)).get_json()
    [original] = originals(storage_dir)
    other = jpeg(seed=2)
    original.write_bytes(other + b"\0" * (record["file_size"] - len(other)))

    assert fsck("--skip-hashes").exit_code == 0
    assert "hash-mismatch" in fsck().output


def test_recovery_removes_what_an_interrupted_store_left(app, client, storage_dir, query):
    record = upload(client, jpeg(seed=1)).get_json()
    # as if the process died after the file was in place, before the commit
    query("DELETE FROM images WHERE id = :id", id=record["id"])
    (storage_dir / "tmp" / f"{record['sha512']}.pending").touch()
    (storage_dir / "tmp" / "c0ffee.part").write_bytes(b"half an upload")

    with app.app_context():
        findings = maintenance.recover()

    assert sorted(f.kind for f in findings) == ["interrupted-store", "leftover-temp"]
    assert stored_files(storage_dir) == []
