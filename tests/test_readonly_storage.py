"""Storage that stops taking writes (a real read-only mount): never a 500.

Reads go on; a thumbnail that cannot be cached is served from memory; writes
answer 503 or 507 with `Retry-After` and change nothing; a duplicate upload
needs no write at all.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import authenticated
from support import assert_problem, jpeg, png, tmpfs, upload


class Mount:
    def __init__(self, path: Path) -> None:
        self.path = path

    def remount(self, mode: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{mode}", str(self.path)], check=True)


@pytest.fixture
def store_mount(tmp_path):
    """A tmpfs that can be remounted read-only under the running app."""
    with tmpfs(tmp_path / "store", "16m") as mountpoint:
        yield Mount(mountpoint)


def no_server_errors(*responses) -> None:
    for response in responses:
        assert response.status_code < 500 or response.status_code in (503, 507), (
            response.status_code,
            response.get_data(as_text=True),
        )


def test_read_only_storage_gives_no_500(make_app, store_mount, token, make_user, query):
    app = make_app(FILE_STORAGE_LOCATION=str(store_mount.path))
    alice = authenticated(app.test_client(), token)
    bob = authenticated(app.test_client(), make_user("bob"))
    photo, shared, solo = jpeg(seed=1, size=(400, 300)), png(seed=2), png(seed=4)
    photo_id = upload(alice, photo).get_json()["id"]
    solo_id = upload(alice, solo).get_json()["id"]
    shared_alice = upload(alice, shared).get_json()["id"]
    shared_bob = upload(bob, shared).get_json()["id"]

    store_mount.remount("ro")
    try:
        download = alice.get(f"/image/{photo_id}")
        thumbnail = alice.get(f"/image/{photo_id}/thumbnail?size=512")
        as_base64 = alice.get(f"/image/{photo_id}/base64?thumbnail=512")
        again = upload(alice, photo)
        new_owner = upload(bob, photo)
        new_picture = upload(alice, jpeg(seed=3))
        last_record = alice.delete(f"/image/{solo_id}")
        shared_record = alice.delete(f"/image/{shared_alice}")
        health = alice.get("/health")
    finally:
        store_mount.remount("rw")

    no_server_errors(
        download, thumbnail, as_base64, again, new_owner, new_picture, last_record, health
    )
    assert download.status_code == 200 and download.data == photo
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
    assert as_base64.status_code == 200
    assert (again.status_code, again.get_json()["id"]) == (200, photo_id)
    assert new_owner.status_code == 201  # the picture is stored: nothing to write
    for refused in (new_picture, last_record):
        assert refused.status_code in (503, 507)
        assert_problem(refused, refused.status_code)
        assert int(refused.headers["Retry-After"]) > 0
    assert shared_record.status_code == 204  # bob's record keeps the picture: no write needed
    assert health.status_code == 503
    assert health.get_json()["storage"]["status"] == "unavailable"

    # Nothing was lost or half-done: the refused delete left the record whole.
    assert alice.get(f"/image/{solo_id}").data == solo
    assert alice.get(f"/image/{solo_id}/thumbnail").status_code == 200
    assert bob.get(f"/image/{shared_bob}").data == shared
    assert alice.delete(f"/image/{solo_id}").status_code == 204
    fsck = app.test_cli_runner().invoke(args=["images", "fsck"])
    assert fsck.exit_code == 0, fsck.output
