"""`flask images fsck [--repair]`, the quarantine, and the recovery a restart runs.

fsck names the image ids a problem concerns, never reports a store in
progress, and with `--repair` moves strays into `lost+found/` instead of
deleting them.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
from support import died_a_day_ago, encode, jpeg, noise, originals, stored_files, upload

from image_repo import maintenance


@pytest.fixture
def fsck(app):
    runner = app.test_cli_runner()

    def run(*options: str):
        return runner.invoke(args=["images", "fsck", *options])

    return run


def problems(output: str) -> list[tuple[str, str]]:
    """(kind, subject) of each problem line: `found|repaired  kind  subject  detail`."""
    found = []
    for line in output.splitlines():
        parts = line.split(None, 2)
        if parts and parts[0] in ("found", "repaired"):
            found.append((parts[1], parts[2].split("  ")[0]))
    return sorted(found)


def quarantined(storage_dir) -> list:
    return [
        p for p in stored_files(storage_dir) if p.relative_to(storage_dir).parts[0] == "lost+found"
    ]


def test_a_consistent_store_is_clean(client, fsck):
    upload(client, jpeg(seed=1))
    upload(client, encode(noise(seed=2), "PNG"), "p.png")

    result = fsck()

    assert result.exit_code == 0, result.output
    assert "checked 2 pictures (2 images)" in result.output.lower()
    assert "no problems" in result.output.lower()


def test_every_problem_names_its_images_and_repair_never_deletes_an_original(
    client, fsck, storage_dir, query
):
    kept = upload(client, jpeg(seed=1)).get_json()
    lost = upload(client, jpeg(seed=2)).get_json()
    swapped = upload(client, jpeg(seed=3)).get_json()
    stray = upload(client, jpeg(seed=4)).get_json()
    path = {p.name.split(".")[0]: p for p in originals(storage_dir)}
    path[lost["sha512"]].unlink()  # a record whose file vanished
    path[swapped["sha512"]].write_bytes(jpeg(seed=99))  # another picture's bytes
    # rows removed behind the service's back: its original and thumbnail are strays
    query("DELETE FROM images WHERE id = :id", id=stray["id"])
    query("DELETE FROM pictures WHERE sha512 = :sha", sha=stray["sha512"])
    stray_bytes = path[stray["sha512"]].read_bytes()

    found = fsck()

    assert found.exit_code == 1
    assert problems(found.output) == sorted(
        [
            ("missing-original", f"image {lost['id']}"),
            ("hash-mismatch", f"image {swapped['id']}"),
            ("size-mismatch", f"image {swapped['id']}"),
            ("orphan-original", "no image"),
            ("orphan-thumbnail", "no image"),
        ]
    )

    repaired = fsck("--repair")

    assert repaired.exit_code == 1  # the missing and damaged originals remain
    assert "restore" in repaired.output  # says how to get the stray back
    assert not path[stray["sha512"]].exists()
    [moved, reason] = sorted(quarantined(storage_dir), key=lambda p: p.suffix == ".json")
    assert moved.read_bytes() == stray_bytes
    assert json.loads(reason.read_text())["reason"]
    assert path[swapped["sha512"]].exists(), "a damaged original is reported, never removed"
    assert path[kept["sha512"]].exists()
    assert problems(fsck().output) == sorted(
        [
            ("missing-original", f"image {lost['id']}"),
            ("hash-mismatch", f"image {swapped['id']}"),
            ("size-mismatch", f"image {swapped['id']}"),
        ]
    )


def test_a_quarantined_original_can_be_restored(app, client, fsck, storage_dir, query):
    data = jpeg(seed=5)
    record = upload(client, data).get_json()
    query("DELETE FROM images WHERE id = :id", id=record["id"])
    query("DELETE FROM pictures WHERE sha512 = :sha", sha=record["sha512"])
    fsck("--repair")
    [moved] = [p for p in quarantined(storage_dir) if p.suffix != ".json"]

    key = moved.relative_to(storage_dir).as_posix()
    restored = app.test_cli_runner().invoke(args=["images", "restore", key, "--owner", "alice"])

    assert restored.exit_code == 0, restored.output
    listed = client.get("/image/list?owner=me").get_json()["items"]
    assert [item["sha512"] for item in listed] == [record["sha512"]]
    assert client.get(listed[0]["url"]).data == data
    assert quarantined(storage_dir) == []
    assert fsck().exit_code == 0


def test_skip_hashes_does_not_decode(client, fsck, storage_dir):
    record = upload(client, jpeg(seed=1)).get_json()
    [original] = originals(storage_dir)
    other = jpeg(seed=2)
    original.write_bytes(other + b"\0" * (record["file_size"] - len(other)))

    assert fsck("--skip-hashes").exit_code == 0
    assert "hash-mismatch" in fsck().output


def test_fsck_during_an_upload_burst_reports_nothing(live_server, app, token):
    """Stores in progress are not problems: fsck run again and again while four
    clients upload finds nothing, yet the uploads do land."""
    server = live_server()
    stop = threading.Event()
    stored: list[int] = []

    def client(number: int) -> None:
        seed = number * 10_000
        while not stop.is_set():
            seed += 1
            files = {"image": ("p.jpg", jpeg(seed=seed, size=(480, 360), quality=95), "image/jpeg")}
            response = requests.post(
                f"{server.url}/image/upload",
                files=files,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert response.status_code == 201, response.text
            stored.append(response.json()["id"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    runs = []
    try:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            runs.append(app.test_cli_runner().invoke(args=["images", "fsck", "--skip-hashes"]))
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert len(stored) > 20 and len(runs) >= 3
    for run in runs:
        assert run.exit_code == 0, run.output


def test_recovery_finishes_an_interrupted_store_and_an_interrupted_delete(
    app, client, storage_dir, query
):
    abandoned = upload(client, jpeg(seed=1)).get_json()
    half_deleted = upload(client, jpeg(seed=2)).get_json()
    # A store whose process died after the files, before the record...
    query("DELETE FROM images WHERE id = :id", id=abandoned["id"])
    died_a_day_ago(query, abandoned["sha512"], "storing")
    # ...and a delete whose process died before it removed the original.
    died_a_day_ago(query, half_deleted["sha512"], "deleting")

    with app.app_context():
        findings = maintenance.recover()

    assert sorted(f.kind for f in findings) == ["interrupted-delete", "interrupted-store"]
    assert not any(abandoned["sha512"] in p.name for p in stored_files(storage_dir))
    # the delete never answered, and its original is still there: it is undone
    assert client.get(f"/image/{half_deleted['id']}").status_code == 200
    assert query("SELECT COUNT(*) FROM pictures WHERE state <> 'stored'") == [(0,)]
